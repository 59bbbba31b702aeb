package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite configs/example.yaml's driver options block")

// TestExampleOptions: configs/example.yaml documents every driver's options with the registry's
// defaults, so neither can drift from the other (-update rewrites the block).
func TestExampleOptions(t *testing.T) {
	const path = "../../configs/example.yaml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := OptionsDoc()
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i, j := strings.Index(text, OptionsDocBegin), strings.Index(text, OptionsDocEnd)
	if i < 0 || j < i {
		if !*update {
			t.Fatalf("%s has no driver options block (markers %q ... %q): run go test ./gateway/config -run TestExampleOptions -update", path, OptionsDocBegin, OptionsDocEnd)
		}
		text += "\n" + want
	} else {
		got := text[i : j+len(OptionsDocEnd)+1]
		if got == want {
			return
		}
		if !*update {
			t.Fatalf("%s's driver options block is not the registry's: run go test ./gateway/config -run TestExampleOptions -update\n--- want\n%s", path, want)
		}
		text = text[:i] + want + text[j+len(OptionsDocEnd)+1:]
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("rewrote %s", path)
}
