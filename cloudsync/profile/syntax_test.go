package profile

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestSyntaxMatchesRegexps checks each name rule against the regular expression it replaced (#22), on
// the edges of its lengths and on random strings mostly of its own characters.
func TestSyntaxMatchesRegexps(t *testing.T) {
	for _, tc := range []struct {
		re     string
		valid  func(string) bool
		alpha  string // drawn from most of the time
		prefix string // put in front of half the random strings
		max    int    // the longest string the rule accepts
	}{
		{`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$`, validHost, "aZ9-..", "", 12},
		{`^[A-Za-z0-9:_-]{1,128}$`, validThingName, "aZ9:_-", "", 128},
		{`^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$`, validAzureDeviceID, "aZ9-.%_*?!(),:=@$'", "", 128},
		{`^[A-Za-z0-9]{1,32}$`, validAliyunProductKey, "aZ9", "", 32},
		{`^[A-Za-z0-9_\-@.:]{4,32}$`, validAliyunDeviceName, "aZ9_-@.:", "", 32},
		{`^[A-Za-z0-9_\-@.:]{1,64}$`, validAliyunClientID, "aZ9_-@.:", "", 64},
		{`^iot-[A-Za-z0-9-]{1,60}$`, validAliyunInstance, "aZ9-", "iot-", 64},
		{`^[a-z]{2}-[a-z0-9-]+$`, validAliyunRegion, "az9-", "cn-", 16},
	} {
		re := regexp.MustCompile(tc.re)
		check := func(s string) {
			if got, want := tc.valid(s), re.MatchString(s); got != want {
				t.Errorf("%s: %q gives %v, the regexp %v", tc.re, s, got, want)
			}
		}
		for n := 0; n <= tc.max+2; n++ {
			check(strings.Repeat("a", n))
			check(tc.prefix + strings.Repeat("a", n))
			check(tc.prefix + strings.Repeat("-", n))
			check(tc.prefix + strings.Repeat("a", n) + "é")
		}
		r := rand.New(rand.NewPCG(22, uint64(len(tc.re))))
		const other = "aZ09-_.:@%*?!(),=$'+#/ \n\x00\x7f\x80é€"
		for range 20000 {
			var b strings.Builder
			if r.IntN(2) == 0 {
				b.WriteString(tc.prefix)
			}
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
