package testbroker

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Mosquitto 2.0's password hash ("$7$"): PBKDF2-SHA512 with 101 iterations over a 12-byte salt, giving
// 64 bytes; salt and hash in standard base64. Checked against mosquitto_passwd 2.0.11's output.
const (
	pbkdf2Iterations = 101
	pbkdf2SaltLen    = 12
	pbkdf2KeyLen     = 64
)

// writePasswordFile writes a mosquitto password file at path for users (name → password), with
// mosquitto_passwd when it is installed and in Go otherwise.
func writePasswordFile(path string, users map[string]string) error {
	names := make([]string, 0, len(users))
	for name := range users {
		if name == "" || strings.ContainsAny(name, ":\n") {
			return fmt.Errorf("password file: user name %q is not valid: no ':' or newline, not empty", name)
		}
		if strings.Contains(users[name], "\n") {
			return fmt.Errorf("password file: password of user %q contains a newline", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	if bin := passwdTool(); bin != "" {
		return writePasswordFileTool(bin, path, names, users)
	}
	return writePasswordFileGo(path, names, users)
}

// passwdTool finds mosquitto_passwd; tests replace it to exercise the Go writer.
var passwdTool = passwdBinary

// passwdBinary returns mosquitto_passwd's path, or "" when it is not installed.
func passwdBinary() string {
	if p, err := exec.LookPath("mosquitto_passwd"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/bin/mosquitto_passwd", "/usr/local/bin/mosquitto_passwd", "/opt/homebrew/bin/mosquitto_passwd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// writePasswordFileTool runs `mosquitto_passwd -c -b` for the first user (it creates the file; plain
// -b fails on a missing file) and `-b` for the others. Passwords are on its command line: test only.
func writePasswordFileTool(bin, path string, names []string, users map[string]string) error {
	for i, name := range names {
		args := []string{"-b", path, name, users[name]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			// out never holds the password: mosquitto_passwd does not echo it.
			return fmt.Errorf("password file: %s for user %s: %w: %s", bin, name, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// writePasswordFileGo writes the file in mosquitto 2.0's "$7$" format.
func writePasswordFileGo(path string, names []string, users map[string]string) error {
	var b strings.Builder
	for _, name := range names {
		salt := make([]byte, pbkdf2SaltLen)
		if _, err := rand.Read(salt); err != nil {
			return fmt.Errorf("password file: salt: %w", err)
		}
		line, err := hashLine(name, users[name], salt)
		if err != nil {
			return err
		}
		b.WriteString(line + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("password file: %w", err)
	}
	return nil
}

// hashLine is one password file line: name:$7$iterations$salt$hash.
func hashLine(name, password string, salt []byte) (string, error) {
	key, err := pbkdf2.Key(sha512.New, password, salt, pbkdf2Iterations, pbkdf2KeyLen)
	if err != nil {
		return "", fmt.Errorf("password file: hash for user %s: %w", name, err)
	}
	enc := base64.StdEncoding
	return fmt.Sprintf("%s:$7$%d$%s$%s", name, pbkdf2Iterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}
