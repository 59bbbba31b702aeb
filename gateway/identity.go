package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/internal/durable"
)

// The gateway's own Ed25519 key signs every batch (cloudsync/cosebatch). It is made at the first
// start in the state directory and never leaves it; the public key is what the city registers.

// KeyFile is the gateway key's file name in the state directory (spool.dir).
const KeyFile = "gateway.key"

// Identity is the gateway key's public half, for registration with the city.
type Identity struct {
	PublicKey string // standard base64 of the 32-byte Ed25519 public key
	KeyID     string // hex of the COSE kid the batches carry
	File      string
}

func identityOf(pub ed25519.PublicKey, file string) Identity {
	return Identity{PublicKey: base64.StdEncoding.EncodeToString(pub), KeyID: fmt.Sprintf("%x", cosebatch.KeyID(pub)), File: file}
}

// ReadIdentity returns the public key of the gateway key in stateDir; fs.ErrNotExist when the
// gateway has not started there yet. It creates nothing.
func ReadIdentity(stateDir string) (Identity, error) {
	path := filepath.Join(stateDir, KeyFile)
	priv, err := readKey(path)
	if err != nil {
		return Identity{}, err
	}
	return identityOf(priv.Public().(ed25519.PublicKey), path), nil
}

func readKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gateway: key: %w", err)
	}
	priv, err := command.ParsePrivateKey(b) // its errors never quote the key
	if err != nil {
		return nil, fmt.Errorf("gateway: key %s: %w; the file is damaged: restore it from a backup, or delete it to make a new key "+
			"(the city must then register the new public key)", path, err)
	}
	return priv, nil
}

// loadOrCreateKey reads the gateway key in stateDir, or makes one when there is none: written to a
// temporary file of mode 0600, fsync'd, renamed into place and the directory fsync'd, so a power cut
// leaves either no key or the whole key. A key readable by others is made private (0600).
func loadOrCreateKey(stateDir string) (priv ed25519.PrivateKey, created bool, err error) {
	path := filepath.Join(stateDir, KeyFile)
	priv, err = readKey(path)
	if err == nil {
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().Perm()&0o077 != 0 {
			if cerr := os.Chmod(path, 0o600); cerr != nil {
				return nil, false, fmt.Errorf("gateway: key %s is readable by others (mode %04o) and cannot be made private: %w", path, fi.Mode().Perm(), cerr)
			}
		}
		return priv, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	_, priv, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("gateway: make key: %w", err)
	}
	pemKey, err := command.MarshalPrivateKey(priv)
	if err != nil {
		return nil, false, fmt.Errorf("gateway: make key: %w", err)
	}
	if err := durable.WriteFile(path, pemKey, 0o600); err != nil {
		return nil, false, fmt.Errorf("gateway: write key %s: %w", path, err)
	}
	return priv, true, nil
}
