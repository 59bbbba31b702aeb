package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runApp runs the CLI in-process, for the commands that need no daemon.
func runApp(args ...string) (stdout, stderr string, code int) {
	var so, se bytes.Buffer
	a := &App{Stdout: &so, Stderr: &se, Version: "1.2.3", LookupEnv: func(string) (string, bool) { return "", false }}
	code = a.Run(context.Background(), args)
	return so.String(), se.String(), code
}

// TestVersionFlag: --version and -v print this tool's version without asking a daemon.
func TestVersionFlag(t *testing.T) {
	for _, flag := range []string{"--version", "-v", "-version"} {
		out, errOut, code := runApp("--socket", "/nonexistent/sock", flag)
		if code != ExitOK || !strings.HasPrefix(out, "wayside 1.2.3 (go") || !strings.HasSuffix(out, "\n") || errOut != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", flag, code, out, errOut)
		}
	}
}

// TestHelpCommand: help CMD prints the command's help in the main help's style (flags with two
// dashes, one-letter flags with one, values in capitals); help of an unknown command is a usage error.
func TestHelpCommand(t *testing.T) {
	out, _, code := runApp("help", "tail")
	if code != ExitOK {
		t.Fatalf("help tail: exit %d", code)
	}
	for _, w := range []string{"usage: wayside tail [-n N] [SENSOR...]\n", "  -n N ", "  --json ", "  --socket PATH ",
		"stop after N readings", "(default /run/wayside/local.sock)"} {
		if !strings.Contains(out, w) {
			t.Errorf("help tail lacks %q:\n%s", w, out)
		}
	}
	for _, bad := range []string{" -json", " -socket", "`"} {
		if strings.Contains(out, bad) {
			t.Errorf("help tail has %q:\n%s", bad, out)
		}
	}
	// The same text for --help after the command.
	if viaFlag, _, code := runApp("tail", "--help"); code != ExitOK || viaFlag != out {
		t.Errorf("tail --help: exit %d\n%s\nwant\n%s", code, viaFlag, out)
	}
	if out, _, _ := runApp("help", "cmd-sign"); !strings.Contains(out, "  --key FILE ") || !strings.Contains(out, "  --key-id ID ") {
		t.Errorf("help cmd-sign:\n%s", out)
	}
	if _, errOut, code := runApp("help", "tial"); code != ExitUsage || !strings.Contains(errOut, `unknown command "tial"; did you mean tail?`) {
		t.Errorf("help tial: exit %d, %q", code, errOut)
	}
}

// TestDidYouMean: a mistyped command gets the closest one suggested; a word far from every command
// gets none.
func TestDidYouMean(t *testing.T) {
	for typo, want := range map[string]string{"stauts": "status", "sensor": "sensors", "selftets": "selftest",
		"loglevel": "log-level", "verison": "version", "clod": "cloud"} {
		_, errOut, code := runApp(typo)
		if code != ExitUsage || !strings.Contains(errOut, "did you mean "+want+"?") {
			t.Errorf("%s: exit %d, %q; want a suggestion of %s", typo, code, errOut, want)
		}
	}
	if _, errOut, code := runApp("frobnicate"); code != ExitUsage || strings.Contains(errOut, "did you mean") {
		t.Errorf("frobnicate: exit %d, %q", code, errOut)
	}
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "abc", 3}, {"kitten", "sitting", 3}, {"status", "status", 0}, {"stauts", "status", 2}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

// TestMainHelp: the main help shows tail's -n, help CMD, --version and the exit statuses.
func TestMainHelp(t *testing.T) {
	out, _, code := runApp("help")
	if code != ExitOK {
		t.Fatalf("help: exit %d", code)
	}
	for _, w := range []string{"tail        [-n N] [SENSOR...]", "wayside help [COMMAND] | --version", "--version, -v",
		"exit 1 when problems are listed", "exit status: 0 ok; 1 ", "2 a mistake on the command line", "cmd-keygen  --out FILE"} {
		if !strings.Contains(out, w) {
			t.Errorf("help lacks %q:\n%s", w, out)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("help does not end with a newline")
	}
}
