package modbus

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestValidName compares validName with the regular expression it replaced, on the edges and on
// random strings over an alphabet with every class of byte the rule tells apart.
func TestValidName(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,47}$`)
	cases := []string{"", "a", "0", "_a", ".a", "-a", "a_", "a.b-c", "A", "aB", "a b", "é", "a\x00",
		strings.Repeat("a", 48), strings.Repeat("a", 49), "\xff"}
	const alphabet = "az09_.-AZ /\xff"
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, r.IntN(52))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got, want := validName(s), re.MatchString(s); got != want {
			t.Errorf("validName(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
