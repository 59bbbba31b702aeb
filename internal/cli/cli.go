// Package cli is the wayside technician command: it talks to the running waysided over its local API
// unix socket (package localapi) and prints what it finds for a person (aligned tables, colour on a
// terminal) or, with --json, the API's JSON for scripts. cmd/wayside is a thin main around App.Run;
// tests swap Stdout and Stderr to capture output.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/gateway/localapi/client"
)

// App is one run of the CLI. The zero value writes to os.Stdout and os.Stderr.
type App struct {
	Stdout, Stderr io.Writer
	// LookupEnv reads the environment (WAYSIDE_SOCKET, NO_COLOR, TERM); nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// IsTerminal tells whether w is a terminal (colour is used only then); nil checks for a character
	// device.
	IsTerminal func(w io.Writer) bool
	// Version is this binary's version.
	Version string
	// Now is the clock for "ago" columns; nil means time.Now.
	Now func() time.Time

	// Set by Run.
	socket  string
	json    bool
	paint   painter
	cl      *client.Client
	timeout time.Duration
}

// Exit statuses.
const (
	ExitOK      = 0
	ExitFailure = 1 // the daemon is unreachable, refused, answered an error, status listed problems, or a check failed
	ExitUsage   = 2
)

type command struct {
	name    string
	args    string
	summary string
	// local commands do not talk to the daemon.
	local bool
	// flags adds command-specific flags.
	flags func(fs *flag.FlagSet, o *cmdOpts)
	run   func(a *App, ctx context.Context, o *cmdOpts, args []string) error
}

// cmdOpts are command-specific flag values.
type cmdOpts struct {
	n int // tail: stop after n readings
}

var commands []*command

func init() {
	commands = []*command{
		{name: "status", summary: "one screen: problems, cloud link, buffer, spool, sensor health; exit 1 when problems are listed", run: (*App).cmdStatus},
		{name: "sensors", summary: "the sensor health table", run: (*App).cmdSensors},
		{name: "read", args: "SENSOR", summary: "read one sensor now (not published)", run: (*App).cmdRead},
		{name: "tail", args: "[SENSOR...]", summary: "stream readings as they are batched, until Ctrl-C",
			flags: func(fs *flag.FlagSet, o *cmdOpts) {
				fs.IntVar(&o.n, "n", 0, "stop after `N` readings (0: until Ctrl-C)")
			}, run: (*App).cmdTail},
		{name: "cloud", summary: "the MQTT link to the city broker", run: (*App).cmdCloud},
		{name: "spool", summary: "state directory, sequence numbers and buffered readings", run: (*App).cmdSpool},
		{name: "scan", args: "i2c [BUS]", summary: "which I2C addresses answer, and the likely parts", run: (*App).cmdScan},
		{name: "selftest", summary: "read every sensor, check broker, state dir and clock; exit 1 on a failure", run: (*App).cmdSelfTest},
		{name: "log-level", args: "[LEVEL]", summary: "show or set the daemon's log level (debug, info, warn, error)", run: (*App).cmdLogLevel},
		{name: "config", args: "check FILE", summary: "validate a configuration file locally (no daemon needed)", local: true, run: (*App).cmdConfig},
		{name: "cmd-keygen", args: "-out FILE", summary: "make a key pair for signing cloud commands (no daemon needed)", local: true,
			flags: cmdKeygenFlags, run: (*App).cmdKeygen},
		{name: "cmd-sign", args: "CMD [ARGS_JSON]", summary: "print a signed cloud command for mosquitto_pub (-key, -key-id, -gateway; no daemon needed)",
			local: true, flags: cmdSignFlags, run: (*App).cmdSign},
		{name: "version", summary: "this tool's and the daemon's version", run: (*App).cmdVersion},
	}
}

// usageError is a mistake on the command line: printed with the usage, exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// exitError ends the run with a status after the command has already said why (selftest failures).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func (a *App) lookupEnv(k string) (string, bool) {
	if a.LookupEnv != nil {
		return a.LookupEnv(k)
	}
	return os.LookupEnv(k)
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (a *App) useColour() bool {
	if _, set := a.lookupEnv("NO_COLOR"); set {
		return false
	}
	if t, _ := a.lookupEnv("TERM"); t == "dumb" {
		return false
	}
	term := a.IsTerminal
	if term == nil {
		term = isTerminal
	}
	return term(a.Stdout)
}

func (a *App) defaultSocket() string {
	if s, ok := a.lookupEnv("WAYSIDE_SOCKET"); ok && s != "" {
		return s
	}
	return client.DefaultSocket
}

// globalFlags binds the flags every command accepts, before or after its name.
func (a *App) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.socket, "socket", a.defaultSocket(), "waysided's local API `socket` (env WAYSIDE_SOCKET)")
	fs.BoolVar(&a.json, "json", false, "print the API's JSON instead of tables")
}

// Run runs the command line args (without the program name) and returns the exit status.
func (a *App) Run(ctx context.Context, args []string) int {
	if a.Stdout == nil {
		a.Stdout = os.Stdout
	}
	if a.Stderr == nil {
		a.Stderr = os.Stderr
	}
	if a.Version == "" {
		a.Version = "dev"
	}
	fs := flag.NewFlagSet("wayside", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.globalFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(a.Stdout)
			return ExitOK
		}
		return a.fail(usagef("%v", err))
	}
	rest := fs.Args()
	if len(rest) == 0 {
		a.usage(a.Stderr)
		return ExitUsage
	}
	name := rest[0]
	if name == "help" {
		a.usage(a.Stdout)
		return ExitOK
	}
	var cmd *command
	for _, c := range commands {
		if c.name == name {
			cmd = c
		}
	}
	if cmd == nil {
		return a.fail(usagef("unknown command %q", name))
	}
	var o cmdOpts
	cfs := flag.NewFlagSet("wayside "+name, flag.ContinueOnError)
	cfs.SetOutput(io.Discard)
	socket, asJSON := a.socket, a.json
	a.globalFlags(cfs)                // binding resets the values to their defaults:
	a.socket, a.json = socket, asJSON // keep what was given before the command
	if cmd.flags != nil {
		cmd.flags(cfs, &o)
	}
	pos, err := parseInterspersed(cfs, rest[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.commandUsage(a.Stdout, cmd, cfs)
			return ExitOK
		}
		a.commandUsage(a.Stderr, cmd, cfs)
		return a.fail(usagef("%v", err))
	}
	a.paint = painter{on: !a.json && a.useColour()}
	a.cl = client.New(a.socket)
	a.timeout = 15 * time.Second
	return a.fail(cmd.run(a, ctx, &o, pos))
}

// parseInterspersed parses flags anywhere among the positional arguments (wayside read env1 --json).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// fail prints err as one line and returns the exit status for it.
func (a *App) fail(err error) int {
	if err == nil {
		return ExitOK
	}
	var ue *usageError
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(a.Stderr, "wayside: %s (wayside help lists the commands)\n", ue.msg)
		return ExitUsage
	}
	fmt.Fprintf(a.Stderr, "wayside: %s\n", strings.TrimSpace(err.Error()))
	return ExitFailure
}

func (a *App) usage(w io.Writer) {
	fmt.Fprintf(w, "wayside: the technician's view of waysided, the Wayside gateway daemon\n\n")
	fmt.Fprintf(w, "usage: wayside [--socket PATH] [--json] COMMAND [ARGS]\n\ncommands:\n")
	t := &table{header: []string{"", "", ""}}
	for _, c := range commands {
		t.add("  "+c.name, c.args, c.summary)
	}
	var sb strings.Builder
	t.write(&sb, painter{})
	// Drop the empty header line.
	_, body, _ := strings.Cut(sb.String(), "\n")
	fmt.Fprint(w, body)
	fmt.Fprintf(w, "\nflags, before or after the command:\n")
	fmt.Fprintf(w, "  --socket PATH  waysided's socket (default %s; env WAYSIDE_SOCKET)\n", client.DefaultSocket)
	fmt.Fprintf(w, "  --json         the API's JSON instead of tables, for scripts\n")
	fmt.Fprintf(w, "\nexit status: 0 ok; 1 the daemon is unreachable or answered an error, status listed problems,\n")
	fmt.Fprintf(w, "or selftest or config check failed; 2 a mistake on the command line.\n")
	fmt.Fprintf(w, "\nColour is used on a terminal unless NO_COLOR is set. The same API answers curl:\n")
	fmt.Fprintf(w, "  curl --unix-socket %s http://local/localapi/v0/status\n", client.DefaultSocket)
}

func (a *App) commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: wayside %s %s\n  %s\nflags:\n", c.name, c.args, c.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

func (a *App) clientVersion() string {
	return fmt.Sprintf("wayside %s (%s, %s/%s)", a.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
