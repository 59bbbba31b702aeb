package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// Member processes: a fleet too large for one process's open-file limit runs its gateways in several
// processes, each this same executable started again with memberEnv set (under `go run` the built
// binary, under `go test` the test binary), whose main calls ServeMember first. The parent and a member
// talk over the member's stdin and stdout, one JSON message a line:
//
//	parent                    member
//	open {spec}          →    opens its gateways
//	                     ←    opened {pid, keys, channels, rss before}   (or error {error})
//	run                  →    starts them
//	                     ←    running, then sample {counters} every 100 ms until stop
//	usage                →    (any number of times)
//	                     ←    usage {cpu, rss, vmhwm, heap, goroutines, open fds, counters}
//	stop                 →    stops them (each drains)
//	                     ←    stopped {seqs, still spooled, ring drops, sensors not ok, usage}; exits
//
// Every wait of the parent is bounded; a member that exits or sends nothing for memberSilence fails the
// run with an error naming it. A member dies with its parent (Pdeathsig on Linux) and ends when its
// stdin closes.

// memberEnv, set in a process's environment, makes it member process number <value> of a fleet.
const memberEnv = "WAYSIDE_FLEET_MEMBER"

// memberSilence is how long a running member may send nothing (it samples every 100 ms) before the
// parent takes it for hung.
const memberSilence = 60 * time.Second

// IsMember reports whether this process was started by Run as a member process. A program that runs
// a fleet of more than one process calls it first in main (and a test binary in TestMain) and, when
// true, does nothing but os.Exit(ServeMember()).
func IsMember() bool { return os.Getenv(memberEnv) != "" }

// spec is what a member needs to open its share: Options' gateway settings and the run's facts.
type spec struct {
	First, Count      int
	URL, Dir, Sensors string
	CityKey           []byte // the city's Ed25519 command public key
	ReconnectMin      time.Duration
	ReconnectSpread   time.Duration
	ReconnectMax      time.Duration
	Poll              time.Duration
	RingCapacity      int
	OpenParallel      int
}

type opened struct {
	PID       int           `json:"pid"`
	Keys      []gatewayKey  `json:"keys"`
	Channels  int           `json:"channels"`
	RSSBefore int64         `json:"rss_before"`
	Took      time.Duration `json:"took"`
}

// message is one line either way; Op says which field is set.
type message struct {
	Op      string      `json:"op"` // open, opened, run, running, sample, usage, stop, stopped, error
	Error   string      `json:"error,omitempty"`
	Spec    *spec       `json:"spec,omitempty"`
	Opened  *opened     `json:"opened,omitempty"`
	Sample  *sample     `json:"sample,omitempty"`
	Usage   *usage      `json:"usage,omitempty"`
	Stopped *stopReport `json:"stopped,omitempty"`
}

// childPart is the parent's handle on a member process.
type childPart struct {
	idx, first, n int
	cmd           *exec.Cmd
	stdin         io.WriteCloser
	wmu           sync.Mutex
	enc           *json.Encoder
	replies       chan message
	exited        chan struct{} // closed once the process has been waited for; exitErr says how it ended
	exitErr       error
	op            opened

	mu      sync.Mutex
	samples []sample
	last    time.Time // the last line received
	running bool
}

// startChild starts member process idx for gateways first..first+n-1 and sends it open; awaitOpened
// waits for its answer.
func startChild(idx, first, n int, sp spec) (*childPart, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("fleet: member process %d: find this executable: %w", idx, err)
	}
	c := &childPart{idx: idx, first: first, n: n, replies: make(chan message, 8), exited: make(chan struct{})}
	c.cmd = exec.Command(exe)
	c.cmd.Env = append(os.Environ(), memberEnv+"="+strconv.Itoa(idx))
	c.cmd.Stderr = os.Stderr // its logs
	setDeathSignal(c.cmd)
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("fleet: %s: %w", c.label(), err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("fleet: %s: %w", c.label(), err)
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("fleet: start %s: %w", c.label(), err)
	}
	c.enc = json.NewEncoder(c.stdin)
	go c.read(stdout)
	sp.First, sp.Count = first, n
	if err := c.send(message{Op: "open", Spec: &sp}); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

// read takes the member's lines until its stdout ends, then waits for the process.
func (c *childPart) read(stdout io.Reader) {
	dec := json.NewDecoder(stdout)
	var readErr error
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			readErr = err
			break
		}
		c.mu.Lock()
		c.last = time.Now()
		if m.Op == "sample" && m.Sample != nil {
			c.samples = append(c.samples, *m.Sample)
		}
		c.mu.Unlock()
		if m.Op != "sample" {
			select {
			case c.replies <- m:
			default: // nobody asked: dropped
			}
		}
	}
	garbled := !errors.Is(readErr, io.EOF) && !errors.Is(readErr, io.ErrUnexpectedEOF)
	if garbled {
		c.cmd.Process.Kill() // it wrote something that is not a message: not a member
	}
	kill := time.AfterFunc(10*time.Second, func() { c.cmd.Process.Kill() })
	waitErr := c.cmd.Wait()
	kill.Stop()
	c.exitErr = fmt.Errorf("fleet: %s ended: %v", c.label(), waitErr)
	if garbled {
		c.exitErr = fmt.Errorf("fleet: %s ended: its output is not the member protocol (%v; does its main call "+
			"fleet.IsMember and fleet.ServeMember first?): %v", c.label(), readErr, waitErr)
	}
	close(c.exited)
}

func (c *childPart) label() string {
	pid := 0
	if c.cmd != nil && c.cmd.Process != nil {
		pid = c.cmd.Process.Pid
	}
	return fmt.Sprintf("member process %d (pid %d, gateways %s..%s)", c.idx, pid, gatewayID(c.first), gatewayID(c.first+c.n-1))
}

func (c *childPart) send(m message) error {
	c.wmu.Lock()
	err := c.enc.Encode(m)
	c.wmu.Unlock()
	if err != nil {
		select {
		case <-c.exited:
			return c.exitErr
		case <-time.After(time.Second):
		}
		return fmt.Errorf("fleet: %s: send %s: %w", c.label(), m.Op, err)
	}
	return nil
}

// await waits at most d for the member's answer want.
func (c *childPart) await(want string, d time.Duration) (message, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	var m message
	select {
	case m = <-c.replies:
	case <-c.exited:
		select {
		case m = <-c.replies: // answered, then ended
		default:
			return m, c.exitErr
		}
	case <-t.C:
		return m, fmt.Errorf("fleet: %s: no %s within %v", c.label(), want, d)
	}
	switch {
	case m.Op == "error":
		return m, fmt.Errorf("fleet: %s: %s", c.label(), m.Error)
	case m.Op != want:
		return m, fmt.Errorf("fleet: %s: answered %q, want %q", c.label(), m.Op, want)
	}
	return m, nil
}

func (c *childPart) call(req, want string, d time.Duration) (message, error) {
	if err := c.send(message{Op: req}); err != nil {
		return message{}, err
	}
	return c.await(want, d)
}

// awaitOpened waits for the member's gateways to be open: a minute, and 40 ms more a gateway (an
// SCD4x takes 500 ms to open, OpenParallel at a time, on a loaded machine).
func (c *childPart) awaitOpened() error {
	m, err := c.await("opened", time.Minute+time.Duration(c.n)*40*time.Millisecond)
	if err != nil {
		return err
	}
	if m.Opened == nil || len(m.Opened.Keys) != c.n {
		return fmt.Errorf("fleet: %s: opened without its %d gateways' keys", c.label(), c.n)
	}
	c.op = *m.Opened
	return nil
}

func (c *childPart) size() int          { return c.n }
func (c *childPart) keys() []gatewayKey { return c.op.Keys }
func (c *childPart) channels() int      { return c.op.Channels }
func (c *childPart) rssBefore() int64   { return c.op.RSSBefore }

func (c *childPart) run() error {
	if _, err := c.call("run", "running", 30*time.Second); err != nil {
		return err
	}
	c.mu.Lock()
	c.running, c.last = true, time.Now()
	c.mu.Unlock()
	return nil
}

func (c *childPart) latest() sample {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.samples) == 0 {
		return sample{}
	}
	return c.samples[len(c.samples)-1]
}

func (c *childPart) history() []sample {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sample(nil), c.samples...)
}

// usage asks the member for its usage, waiting up to 2 minutes: a member starved of CPU (the 5,000
// gateway run saturates the machine) answers late, and a measurement is not worth failing the run for.
func (c *childPart) usage() (usage, error) {
	m, err := c.call("usage", "usage", 2*time.Minute)
	if err != nil {
		return usage{}, err
	}
	if m.Usage == nil {
		return usage{}, fmt.Errorf("fleet: %s: usage without figures", c.label())
	}
	return *m.Usage, nil
}

// stop asks the member to stop its gateways (each drains for up to 10 s, all at once, and syncs its
// spool) and waits for its report, two minutes and 20 ms a gateway at most, then for it to exit.
func (c *childPart) stop() (stopReport, error) {
	m, err := c.call("stop", "stopped", 2*time.Minute+time.Duration(c.n)*20*time.Millisecond)
	if err != nil {
		return stopReport{}, err
	}
	c.mu.Lock()
	c.running = false
	c.mu.Unlock()
	if m.Stopped == nil {
		return stopReport{}, fmt.Errorf("fleet: %s: stopped without a report", c.label())
	}
	c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.kill()
	}
	return *m.Stopped, nil
}

func (c *childPart) failed() error {
	select {
	case <-c.exited:
		return c.exitErr
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if silent := time.Since(c.last); c.running && silent > memberSilence {
		return fmt.Errorf("fleet: %s sent nothing for %v: hung", c.label(), silent.Round(time.Second))
	}
	return nil
}

// kill ends the member process now, if it still runs, and waits (at most 5 s) for it to be reaped.
func (c *childPart) kill() {
	select {
	case <-c.exited:
		return
	default:
	}
	c.stdin.Close()
	c.cmd.Process.Kill()
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
	}
}
