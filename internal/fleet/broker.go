package fleet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wayside-iot/wayside/internal/benchsuite/e2e"
)

// Broker is a mosquitto on a fixed loopback port that can be stopped and started again on that port
// (the storm). It logs connections at notice level with Unix-second timestamps into a file, which
// ConnectSeries reads.
type Broker struct {
	Addr string // 127.0.0.1:port
	URL  string // tcp://Addr

	bin, conf, log string
	mu             sync.Mutex
	cmd            *exec.Cmd
	exited         chan error
	cpu            time.Duration // CPU time of the broker processes that have exited
}

// StartBroker writes a mosquitto configuration into dir and starts it on a free loopback port:
// anonymous, no connection limit, persistence in dir (a SIGTERM saves sessions and queues, so the
// checker loses nothing across a restart), queues deep enough for a checker that falls behind.
func StartBroker(dir string) (*Broker, error) {
	bin, err := e2e.MosquittoBinary()
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken before mosquitto binds it
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("fleet: find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		b := &Broker{Addr: fmt.Sprintf("127.0.0.1:%d", port), bin: bin,
			conf: filepath.Join(dir, "mosquitto.conf"), log: filepath.Join(dir, "mosquitto.log")}
		b.URL = "tcp://" + b.Addr
		var c strings.Builder
		if os.Geteuid() == 0 {
			c.WriteString("user root\n") // as root mosquitto would drop to a user that cannot write dir
		}
		fmt.Fprintf(&c, "listener %d 127.0.0.1\nallow_anonymous true\nmax_connections -1\n", port)
		c.WriteString("max_queued_messages 1000000\nmax_inflight_messages 100\n")
		fmt.Fprintf(&c, "persistence true\npersistence_location %s/\nautosave_interval 0\n", dir)
		// notice: "New connection from" (every TCP connection accepted) and "New client connected"
		// (every CONNECT accepted), stamped with the Unix second.
		fmt.Fprintf(&c, "log_dest file %s\nlog_type error\nlog_type warning\nlog_type notice\nlog_timestamp true\n", b.log)
		if err := os.WriteFile(b.conf, []byte(c.String()), 0o600); err != nil {
			return nil, fmt.Errorf("fleet: write mosquitto config: %w", err)
		}
		if lastErr = b.Start(); lastErr == nil {
			return b, nil
		}
	}
	return nil, lastErr
}

// Start runs mosquitto (again) on the broker's port and waits until it listens (at most 10 s).
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return errors.New("fleet: broker already running")
	}
	var out bytes.Buffer
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	setDeathSignal(cmd) // no broker left behind when this process is killed
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("fleet: start mosquitto: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-exited:
			return fmt.Errorf("fleet: mosquitto exited at start (%v): %s %s", err, out.String(), tail(b.log))
		default:
		}
		if c, err := net.DialTimeout("tcp", b.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			b.cmd, b.exited = cmd, exited
			return nil
		}
	}
	cmd.Process.Kill()
	<-exited
	return fmt.Errorf("fleet: mosquitto did not listen on %s within 10s: %s", b.Addr, tail(b.log))
}

// Stop ends mosquitto with SIGTERM (it saves its sessions and queues) and waits for it, at most 30 s
// before it is killed.
func (b *Broker) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return nil
	}
	cpu, _ := e2e.CPUTime(b.cmd.Process.Pid)
	b.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
		b.cmd.Process.Kill()
		<-b.exited
		err = errors.New("fleet: mosquitto did not stop within 30s of SIGTERM; killed")
	}
	if st := b.cmd.ProcessState; st != nil {
		cpu = max(cpu, st.UserTime()+st.SystemTime())
	}
	b.cpu += cpu
	b.cmd = nil
	return err
}

// CPU returns the CPU time every broker process of this Broker has used so far.
func (b *Broker) CPU() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	cpu := b.cpu
	if b.cmd != nil {
		if c, err := e2e.CPUTime(b.cmd.Process.Pid); err == nil {
			cpu += c
		}
	}
	return cpu
}

// RSS returns the running broker's resident memory in bytes (0 when stopped).
func (b *Broker) RSS() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return 0
	}
	m, err := e2e.ReadMemory(b.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	return m.RSS
}

// ConnectSeries counts, per Unix second of the broker's log from `from` to `to` inclusive, the TCP
// connections it accepted ("New connection from") and the CONNECTs it accepted ("New client
// connected").
func (b *Broker) ConnectSeries(from, to int64) (tcp, accepted []int, err error) {
	f, err := os.Open(b.log)
	if err != nil {
		return nil, nil, fmt.Errorf("fleet: broker log: %w", err)
	}
	defer f.Close()
	n := int(to - from + 1)
	if n <= 0 {
		return nil, nil, nil
	}
	tcp, accepted = make([]int, n), make([]int, n)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		sec, err := strconv.ParseInt(line[:colon], 10, 64)
		if err != nil || sec < from || sec > to {
			continue
		}
		msg := line[colon+1:]
		switch {
		case strings.HasPrefix(msg, " New connection from"):
			tcp[sec-from]++
		case strings.HasPrefix(msg, " New client connected"):
			accepted[sec-from]++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("fleet: broker log: %w", err)
	}
	return tcp, accepted, nil
}

// tail is the end of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
