// Package cli is the wayside technician command: it talks to the running waysided over its local API
// unix socket through the typed client (package localapi/client, where the endpoint names live) and
// prints what it finds for a person (aligned tables, colour on a terminal) or, with --json, the API's
// JSON as the daemon sent it, for scripts. config check runs waysided -check-config, so this package
// links no driver, emulator or board code. cmd/wayside is a thin main around App.Run; tests swap
// Stdout and Stderr to capture output.
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
	// Stdin is what open reads; nil means os.Stdin.
	Stdin io.Reader
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
	version bool // --version, -v: print this tool's version
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
		{name: "tail", args: "[-n N] [SENSOR...]", summary: "stream readings as they are batched, until Ctrl-C",
			flags: func(fs *flag.FlagSet, o *cmdOpts) {
				fs.IntVar(&o.n, "n", 0, "stop after `N` readings (0: until Ctrl-C)")
			}, run: (*App).cmdTail},
		{name: "cloud", summary: "the MQTT link to the city broker", run: (*App).cmdCloud},
		{name: "spool", summary: "state directory, sequence numbers and buffered readings", run: (*App).cmdSpool},
		{name: "scan", args: "i2c [BUS] | modbus BUS [FIRST-LAST]", summary: "which I2C addresses answer, and the likely parts; which Modbus slaves answer on an RS-485 line", run: (*App).cmdScan},
		{name: "selftest", summary: "read every sensor, check broker, state dir and clock; exit 1 on a failure", run: (*App).cmdSelfTest},
		{name: "log-level", args: "[LEVEL]", summary: "show or set the daemon's log level (debug, info, warn, error)", run: (*App).cmdLogLevel},
		{name: "config", args: "check FILE", summary: "validate a configuration file locally (no daemon needed)", local: true, run: (*App).cmdConfig},
		{name: "cmd-keygen", args: "--out FILE", summary: "make a key pair for signing cloud commands (no daemon needed)", local: true,
			flags: cmdKeygenFlags, run: (*App).cmdKeygen},
		{name: "cmd-sign", args: "CMD [ARGS_JSON]", summary: "write a signed cloud command (COSE_Sign1) for mosquitto_pub -f (--key, --key-id, --gateway, --format; no daemon needed)",
			local: true, flags: cmdSignFlags, run: (*App).cmdSign},
		{name: "keys", args: "gen --kid ID --out FILE", summary: "make a city key pair for cloud.seal (--suite; no daemon needed)",
			local: true, flags: keysFlags, run: (*App).cmdKeys},
		{name: "open", args: "--key FILE [--gateway-key KEY] < BATCH", summary: "verify and decrypt one telemetry batch, print it as SenML JSON (no daemon needed)",
			local: true, flags: openFlags, run: (*App).cmdOpen},
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
	fs.StringVar(&a.socket, "socket", a.defaultSocket(), "waysided's local API socket `PATH` (env WAYSIDE_SOCKET)")
	fs.BoolVar(&a.json, "json", false, "print the API's JSON instead of tables")
}

// lookup returns the command called name, nil when there is none.
func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// unknownCommand is the usage error for a command name that does not exist, suggesting the closest
// one when the name looks like a typo of it (at most two letters added, dropped or changed).
func unknownCommand(name string) error {
	best, bestD := "", 3
	for _, c := range commands {
		if d := editDistance(name, c.name); d < bestD && d < len(c.name) {
			best, bestD = c.name, d
		}
	}
	if best == "" {
		return usagef("unknown command %q", name)
	}
	return usagef("unknown command %q; did you mean %s?", name, best)
}

// editDistance is the Levenshtein distance between a and b: the fewest single-letter insertions,
// deletions and substitutions that turn one into the other.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			sub := prev[j-1]
			if ra[i-1] != rb[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
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
	fs.BoolVar(&a.version, "version", false, "print this tool's version")
	fs.BoolVar(&a.version, "v", false, "print this tool's version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(a.Stdout)
			return ExitOK
		}
		return a.fail(usagef("%v", err))
	}
	rest := fs.Args()
	if a.version {
		fmt.Fprintln(a.Stdout, a.clientVersion())
		return ExitOK
	}
	if len(rest) == 0 {
		a.usage(a.Stderr)
		return ExitUsage
	}
	name := rest[0]
	if name == "help" {
		switch len(rest) {
		case 1:
			a.usage(a.Stdout)
			return ExitOK
		case 2:
			c := lookup(rest[1])
			if c == nil {
				return a.fail(unknownCommand(rest[1]))
			}
			a.commandUsage(a.Stdout, c, a.commandFlags(c, new(cmdOpts)))
			return ExitOK
		}
		return a.fail(usagef("usage: wayside help [COMMAND]"))
	}
	cmd := lookup(name)
	if cmd == nil {
		return a.fail(unknownCommand(name))
	}
	var o cmdOpts
	cfs := a.commandFlags(cmd, &o)
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

// commandFlags is c's flag set: the global flags, keeping what was given before the command, and
// c's own, bound to o.
func (a *App) commandFlags(c *command, o *cmdOpts) *flag.FlagSet {
	cfs := flag.NewFlagSet("wayside "+c.name, flag.ContinueOnError)
	cfs.SetOutput(io.Discard)
	socket, asJSON := a.socket, a.json
	a.globalFlags(cfs)                // binding resets the values to their defaults:
	a.socket, a.json = socket, asJSON // keep what was given before the command
	if c.flags != nil {
		c.flags(cfs, o)
	}
	return cfs
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
	fmt.Fprintf(w, "usage: wayside [--socket PATH] [--json] COMMAND [ARGS]\n")
	fmt.Fprintf(w, "       wayside help [COMMAND] | --version\n\ncommands:\n")
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
	fmt.Fprintf(w, "  --version, -v  this tool's version (wayside version asks the daemon too)\n")
	fmt.Fprintf(w, "\nexit status: 0 ok; 1 the daemon is unreachable or answered an error, status listed problems,\n")
	fmt.Fprintf(w, "or selftest or config check failed; 2 a mistake on the command line.\n")
	fmt.Fprintf(w, "\nColour is used on a terminal unless NO_COLOR is set. The same API answers curl:\n")
	fmt.Fprintf(w, "  curl --unix-socket %s http://local/localapi/v0/status\n", client.DefaultSocket)
}

// commandUsage is one command's help, in the main help's style: flags spelled as they are typed
// (--json; -n for a one-letter flag), their value in capitals, aligned descriptions.
func (a *App) commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: wayside %s\n\n  %s\n\nflags, before or after the arguments:\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	var rows [][2]string
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		spelled := "--" + f.Name
		if len(f.Name) == 1 {
			spelled = "-" + f.Name
		}
		if name != "" {
			spelled += " " + strings.ToUpper(name)
		}
		switch f.DefValue {
		case "", "0", "false":
		default:
			usage += " (default " + f.DefValue + ")"
		}
		rows = append(rows, [2]string{spelled, usage})
	})
	// Command flags first, then the global ones, each in name order as VisitAll gives them.
	global := func(r [2]string) bool { return strings.HasPrefix(r[0], "--socket ") || r[0] == "--json" }
	var k kv
	for _, pass := range []bool{false, true} {
		for _, r := range rows {
			if global(r) == pass {
				k.add("  "+r[0], "%s", r[1])
			}
		}
	}
	k.write(w)
}

func (a *App) clientVersion() string {
	return fmt.Sprintf("wayside %s (%s, %s/%s)", a.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
