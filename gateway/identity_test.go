package gateway

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGatewayKey: made once with mode 0600 and kept across starts; a damaged key stops the start
// with the file's name and what to do, and never quotes the key.
func TestGatewayKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadIdentity(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadIdentity before the first start: %v, want not exist", err)
	}
	k1, created, err := loadOrCreateKey(dir)
	if err != nil || !created {
		t.Fatalf("first start: created %v, %v", created, err)
	}
	path := filepath.Join(dir, KeyFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}
	k2, created, err := loadOrCreateKey(dir)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("second start: created %v, same key %v, %v", created, k1.Equal(k2), err)
	}
	id, err := ReadIdentity(dir)
	if err != nil || id.PublicKey != base64.StdEncoding.EncodeToString(k1.Public().(ed25519.PublicKey)) || len(id.KeyID) != 16 {
		t.Fatalf("identity %+v, %v", id, err)
	}
	// Widened permissions are narrowed again.
	os.Chmod(path, 0o644)
	if _, _, err := loadOrCreateKey(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after the start, want 0600", fi.Mode().Perm())
	}
	// Damaged: refused, not replaced.
	b, _ := os.ReadFile(path)
	body := strings.Split(string(b), "\n")[1]
	damaged := strings.Replace(string(b), body, body[:10]+"!!!!"+body[14:], 1)
	os.WriteFile(path, []byte(damaged), 0o600)
	_, _, err = loadOrCreateKey(dir)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "delete it to make a new key") {
		t.Fatalf("damaged key: %v", err)
	}
	if strings.Contains(err.Error(), body[20:40]) {
		t.Errorf("the error quotes the key: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != damaged {
		t.Error("the damaged key was replaced")
	}
}
