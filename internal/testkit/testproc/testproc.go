// Package testproc owns what the harnesses that run real servers for tests and benchmarks (mosquitto
// in testbroker, PostgreSQL in testpg, RabbitMQ in testrabbit, the end-to-end bench) do alike: end a
// test whose server is not installed, find free loopback ports, wait until a server listens, and
// await and stop its process with a bound.
package testproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Missing ends a test that needs a server which is not installed: when the environment variable
// skipVar is "1" it is skipped, saying what is not installed; else it fails with fatal, which says how
// to install it and how to skip.
func Missing(t testing.TB, what, skipVar, fatal string) {
	t.Helper()
	if os.Getenv(skipVar) == "1" {
		t.Skipf("%s not installed; skipped because %s=1", what, skipVar)
	}
	t.Fatal(fatal)
}

// FreePorts finds n distinct free ports on 127.0.0.1, holding each until all are found. Another
// process may take one before the server binds it: callers retry with new ports.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Listening reports whether every address accepts a TCP connection, each given 200 ms.
func Listening(addrs ...string) bool {
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// Proc is a started child process whose exit is awaited in the background.
type Proc struct {
	Cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts cmd and awaits its exit in the background.
func Start(cmd *exec.Cmd) (*Proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process exited (cmd.Wait's error); only after Done is closed.
func (p *Proc) Err() error { return p.err }

// Stop sends sig and waits for the process to exit, at most within (0: as long as it takes), then
// kills it; killed tells whether it had to.
func (p *Proc) Stop(sig os.Signal, within time.Duration) (killed bool) {
	p.Cmd.Process.Signal(sig)
	if within <= 0 {
		<-p.done
		return false
	}
	select {
	case <-p.done:
		return false
	case <-time.After(within):
		p.Cmd.Process.Kill()
		<-p.done
		return true
	}
}
