package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withMachineID points MachineIDFiles at files in a temporary directory: contents[i] is written to
// the i-th file, and an empty string leaves that file out.
func withMachineID(t *testing.T, contents ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i, c := range contents {
		p := filepath.Join(dir, "machine-id-"+string(rune('a'+i)))
		if c != "" {
			if err := os.WriteFile(p, []byte(c), 0o444); err != nil {
				t.Fatal(err)
			}
		}
		paths = append(paths, p)
	}
	old := MachineIDFiles
	MachineIDFiles = paths
	t.Cleanup(func() { MachineIDFiles = old })
	return paths
}

var autoConfig = strings.Replace(good, "id: gw-1", "id: auto", 1)

// TestAutoID derives the gateway id from the machine id. The expected ids are known answers computed
// outside Go (Python's hmac over the same application id): an auto id must never change between
// releases, or every gateway would reappear under a new name.
func TestAutoID(t *testing.T) {
	for _, tc := range []struct{ machineID, want string }{
		{"0123456789abcdef0123456789abcdef\n", "gw-873b5bd14ea5"},
		{"FEDCBA9876543210FEDCBA9876543210", "gw-b9b3584b454c"}, // case and a missing newline do not matter
	} {
		paths := withMachineID(t, tc.machineID)
		c, err := Parse([]byte(autoConfig), board)
		if err != nil {
			t.Fatal(err)
		}
		if c.Gateway.ID != tc.want || c.Gateway.IDSource != paths[0] || c.Cloud.ClientID != "wayside-"+tc.want {
			t.Errorf("machine id %q: gateway %+v, client id %q; want %s", tc.machineID, c.Gateway, c.Cloud.ClientID, tc.want)
		}
		if got := c.Gateway.IDText(); got != tc.want+" (auto, from "+paths[0]+")" {
			t.Errorf("IDText = %q", got)
		}
	}
	// The D-Bus copy is the fallback when systemd's file is missing.
	paths := withMachineID(t, "", "0123456789abcdef0123456789abcdef\n")
	if c, err := Parse([]byte(autoConfig), board); err != nil || c.Gateway.ID != "gw-873b5bd14ea5" || c.Gateway.IDSource != paths[1] {
		t.Fatalf("fallback: %+v, %v", c, err)
	}
	// An explicit id is left alone and says nothing of a source.
	if c, err := Parse([]byte(good), board); err != nil || c.Gateway.ID != "gw-1" || c.Gateway.IDSource != "" || c.Gateway.IDText() != "gw-1" {
		t.Fatalf("explicit id: %+v, %v", c, err)
	}
}

func TestAutoIDErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		want  string
	}{
		{"none", []string{"", ""}, "none of"},
		{"empty", []string{"\n"}, "does not hold a machine id"},
		{"not hex", []string{"uninitialized\n"}, "does not hold a machine id"},
		{"short", []string{"0123456789abcdef\n"}, "does not hold a machine id"},
		{"zero", []string{strings.Repeat("0", 32)}, "not all zero"},
	} {
		withMachineID(t, tc.files...)
		_, err := Parse([]byte(autoConfig), board)
		if err == nil {
			t.Fatalf("%s: auto id accepted", tc.name)
		}
		msg := err.Error()
		for _, want := range []string{"gateway.id: auto: ", tc.want, "systemd-machine-id-setup", "gw-0001"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: error %q lacks %q", tc.name, msg, want)
			}
		}
	}
	// Auto in another case would be a literal id shared by every board.
	withMachineID(t, "0123456789abcdef0123456789abcdef\n")
	for _, id := range []string{"Auto", "AUTO"} {
		_, err := Parse([]byte(strings.Replace(good, "id: gw-1", "id: "+id, 1)), board)
		if err == nil || !strings.Contains(err.Error(), "gateway.id: \""+id+"\": write auto in lower case") {
			t.Errorf("id %s: %v", id, err)
		}
	}
	// The first machine id file that exists decides: an empty one is an error, not a fall-through.
	withMachineID(t, "\n", "0123456789abcdef0123456789abcdef\n")
	if _, err := Parse([]byte(autoConfig), board); err == nil || !strings.Contains(err.Error(), "does not hold a machine id") {
		t.Errorf("empty first file: %v", err)
	}
	// The error comes with the file's other mistakes, not instead of them.
	withMachineID(t, "")
	_, err := Parse([]byte(strings.Replace(autoConfig, "board: b", "board: rpi9", 1)), board)
	if err == nil || !strings.Contains(err.Error(), "gateway.id: auto") || !strings.Contains(err.Error(), "gateway.board") {
		t.Fatalf("two mistakes: %v", err)
	}
}
