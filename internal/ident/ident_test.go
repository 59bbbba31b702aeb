package ident

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestValidMatchesRegexp checks Valid against the regular expression it replaced (#22), on the edges
// of its length and on random strings mostly of its own characters.
func TestValidMatchesRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	check := func(s string) {
		if got, want := Valid(s), re.MatchString(s); got != want {
			t.Errorf("%q gives %v, the regexp %v", s, got, want)
		}
	}
	for n := 0; n <= MaxLen+2; n++ {
		check(strings.Repeat("a", n))
		check("-" + strings.Repeat("a", n))
		check(strings.Repeat("a", n) + "é")
		check(strings.Repeat("a", n) + "\n")
	}
	r := rand.New(rand.NewPCG(22, 34))
	const alpha, other = "aZ09_.-", "aZ09-_.:@%*?!(),=$'+#/ \n\x00\x7f\x80é€"
	for range 20000 {
		var b strings.Builder
		for n := r.IntN(MaxLen + 3); n > 0; n-- {
			a := alpha
			if r.IntN(10) == 0 {
				a = other
			}
			b.WriteByte(a[r.IntN(len(a))])
		}
		check(b.String())
	}
}
