package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// cmdConfig is config check. The check needs the driver registry and the board profiles, so waysided
// does it (waysided -check-config FILE, with -json for --json) and this tool links no driver, emulator
// or board code: it prints the verdict's first line, or the errors, as they came.
func (a *App) cmdConfig(ctx context.Context, _ *cmdOpts, args []string) error {
	if len(args) != 2 || args[0] != "check" {
		return usagef("usage: wayside config check FILE")
	}
	path := args[1]
	bin, err := waysidedPath()
	if err != nil {
		return err
	}
	argv := []string{"-check-config", path}
	if a.json {
		argv = append(argv, "-json")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	invalid := errors.As(err, &ee) && ee.ExitCode() == ExitFailure // waysided said why
	if err != nil && !invalid {
		return fmt.Errorf("config check: %s %s: %v: %s", bin, strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	switch {
	case a.json:
		a.Stdout.Write(stdout.Bytes())
	case invalid:
		a.Stderr.Write(stderr.Bytes())
	default: // the "valid" line; the option, key and warning lines are waysided -check-config's own
		line, _, _ := strings.Cut(stdout.String(), "\n")
		fmt.Fprintln(a.Stdout, line)
	}
	if invalid {
		return &exitError{ExitFailure}
	}
	return nil
}

// waysidedPath finds the daemon's binary: next to this one (the package installs both in /usr/bin),
// else on PATH.
func waysidedPath() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "waysided")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	p, err := exec.LookPath("waysided")
	if err != nil {
		return "", fmt.Errorf("config check runs waysided -check-config, and there is no waysided next to wayside or on PATH: %w", err)
	}
	return p, nil
}
