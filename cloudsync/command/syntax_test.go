package command

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestSyntaxMatchesRegexps checks ValidName against the regular expression it replaced (#22), on the
// edges of its length and on random strings mostly of its own characters. (The id rule, ident.Valid,
// has the same test in its own package.)
func TestSyntaxMatchesRegexps(t *testing.T) {
	for _, tc := range []struct {
		re    string
		valid func(string) bool
		alpha string
		max   int
	}{
		{`^[a-z][a-z0-9-]{0,31}$`, ValidName, "az09-", 32},
	} {
		re := regexp.MustCompile(tc.re)
		check := func(s string) {
			if got, want := tc.valid(s), re.MatchString(s); got != want {
				t.Errorf("%s: %q gives %v, the regexp %v", tc.re, s, got, want)
			}
		}
		for n := 0; n <= tc.max+2; n++ {
			check(strings.Repeat("a", n))
			check("-" + strings.Repeat("a", n))
			check(strings.Repeat("a", n) + "é")
		}
		r := rand.New(rand.NewPCG(22, uint64(len(tc.re))))
		const other = "aZ09-_.:@%*?!(),=$'+#/ \n\x00\x7f\x80é€"
		for range 20000 {
			var b strings.Builder
			for n := r.IntN(tc.max + 3); n > 0; n-- {
				alpha := tc.alpha
				if r.IntN(10) == 0 {
					alpha = other
				}
				b.WriteByte(alpha[r.IntN(len(alpha))])
			}
			check(b.String())
		}
	}
}
