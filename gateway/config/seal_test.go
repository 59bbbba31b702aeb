package config

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSealConfig: cloud.seal's errors name the field and say what to give.
func TestSealConfig(t *testing.T) {
	k, _ := ecdh.X25519().GenerateKey(rand.Reader)
	pub := base64.StdEncoding.EncodeToString(k.PublicKey().Bytes())
	file := filepath.Join(t.TempDir(), "city.pub")
	os.WriteFile(file, []byte(pub+"\n"), 0o644)
	for _, tc := range []struct{ seal, want string }{
		{`{kid: city-a, public_key: "` + pub + `"}`, ""},
		{`{kid: city-a, public_key: ` + file + `}`, ""},
		{`{suite: x25519-aes128gcm, kid: city-a, public_key: "` + pub + `"}`, ""},
		{`{public_key: "` + pub + `"}`, "cloud.seal.kid"},
		{`{kid: city-a}`, "cloud.seal.public_key: missing"},
		{`{kid: city-a, public_key: "AAAA"}`, "cloud.seal.public_key"},
		{`{kid: city-a, public_key: "not base64!"}`, "cloud.seal.public_key: not base64"},
		{`{kid: city-a, public_key: /nonexistent/city.pub}`, "cloud.seal.public_key"},
		{`{suite: rot13, kid: city-a, public_key: "` + pub + `"}`, "cloud.seal.suite: unknown suite"},
		{`{suite: mlkem768x25519-chacha20poly1305, kid: city-a, public_key: "` + pub + `"}`, "wayside keys gen --suite mlkem768x25519"},
	} {
		src := strings.Replace(good, `cloud: {brokers: ["tcp://127.0.0.1:1883"]}`, `cloud: {brokers: ["tcp://127.0.0.1:1883"], seal: `+tc.seal+`}`, 1)
		c, err := Parse([]byte(src), board)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.seal, err)
			} else if s, _ := c.Cloud.Seal.Sealer(); s == nil || s.KeyID() != "city-a" {
				t.Errorf("%s: no sealer", tc.seal)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.seal, err, tc.want)
		}
	}
	if s, err := (Seal{}).Sealer(); s != nil || err != nil {
		t.Errorf("no seal section: %v %v", s, err)
	}
}
