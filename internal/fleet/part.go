package fleet

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/internal/benchsuite/e2e"
)

// A part is a share of the fleet's gateways, gateways first..first+n-1: in this process (localPart),
// or in a member process (childPart). Run calls, in order: keys and channels (once open), run, then
// latest, history, usage and failed as often as it likes, then stop once; kill ends it on any path.
type part interface {
	label() string
	size() int
	keys() []gatewayKey
	channels() int
	rssBefore() int64 // the part's process before its gateways were opened (0: this process's own)
	run() error
	latest() sample
	history() []sample // every sample since run, oldest first
	usage() (usage, error)
	stop() (stopReport, error)
	failed() error // why the part cannot go on: its process died or went silent; nil while it works
	kill()
}

// gatewayKey is a gateway's public key, what the checker and an ingest verify its batches with.
type gatewayKey struct {
	ID        string `json:"id"`
	PublicKey string `json:"public_key"` // base64
	KeyID     string `json:"kid"`
}

// sample is a part's counters at one instant, taken every sampleEvery from run on.
type sample struct {
	At       time.Time `json:"at"`
	Attempts uint64    `json:"attempts"` // connection attempts of its links (cloudsync.Stats.Attempts)
	// AttemptsAt holds the attempts begun since the previous sample by the second they began in
	// (Unix seconds, from each link's LastAttempt), so a sampler that runs late (a starved process)
	// moves no attempt into a later second. A link with more than one new attempt since the last
	// sample (100 ms) puts them all in its last one's second.
	AttemptsAt map[int64]int `json:"attempts_at,omitempty"`
	Connected  int           `json:"connected"` // links connected
	Back       int           `json:"back"`      // links connected again after a lost connection
	Batches    uint64        `json:"batches"`   // spooled
	Readings   uint64        `json:"readings"`  // in those batches
}

const sampleEvery = 100 * time.Millisecond

// usage is what a process uses at one instant.
type usage struct {
	PID        int           `json:"pid"`
	CPU        time.Duration `json:"cpu"` // utime + stime since the process started
	RSS        int64         `json:"rss"`
	PeakRSS    int64         `json:"peak_rss"` // VmHWM
	HeapInuse  uint64        `json:"heap_inuse"`
	Goroutines int           `json:"goroutines"`
	OpenFDs    int           `json:"open_fds"`
	Counters   sample        `json:"counters"`
}

// selfUsage reads this process's usage.
func selfUsage() usage {
	u := usage{PID: os.Getpid()}
	u.CPU, _ = e2e.CPUTime(u.PID)
	if m, err := e2e.ReadMemory(u.PID); err == nil {
		u.RSS, u.PeakRSS = m.RSS, m.Peak
	}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	u.HeapInuse = mem.HeapInuse
	u.Goroutines = runtime.NumGoroutine()
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		u.OpenFDs = len(ents)
	}
	return u
}

// stopReport is what a part's gateways left behind when they stopped.
type stopReport struct {
	Seqs         map[string][]uint64 `json:"seqs"` // gateway → seqs spooled
	Readings     uint64              `json:"readings"`
	StillSpooled int                 `json:"still_spooled"`
	RingDropped  uint64              `json:"ring_dropped"`
	SensorsBad   int                 `json:"sensors_bad"`
	Errors       []string            `json:"errors,omitempty"` // gateways whose Run returned an error
	Usage        usage               `json:"usage"`            // of a member process as it stopped
}

// localPart runs its gateways in this process.
type localPart struct {
	first int
	ms    []*member

	ran      bool
	cancel   context.CancelFunc
	stopped  chan struct{} // closed when the sampler has ended
	quit     chan struct{}
	onSample func(sample) // called by the sampler after each sample (a member process sends it on)

	mu      sync.Mutex
	samples []sample
}

// openLocal opens gateways first..first+n-1, o.OpenParallel at a time; on an error it closes those
// it opened.
func openLocal(o Options, first, n int, url, dir, sensors string, cityPub ed25519.PublicKey) (*localPart, error) {
	p := &localPart{first: first, ms: make([]*member, n)}
	sem := make(chan struct{}, o.OpenParallel)
	var wg sync.WaitGroup
	var openErr atomic.Pointer[error]
	for k := range p.ms {
		i := first + k
		m := &member{id: gatewayID(i), done: make(chan error, 1)}
		p.ms[k] = m
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := m.open(o, i, url, dir, sensors, cityPub); err != nil {
				openErr.CompareAndSwap(nil, &err)
			}
		}()
		if openErr.Load() != nil {
			break
		}
	}
	wg.Wait()
	if e := openErr.Load(); e != nil {
		p.kill()
		return nil, *e
	}
	return p, nil
}

func gatewayID(i int) string { return fmt.Sprintf("fleet-%05d", i+1) }

func (p *localPart) label() string {
	return fmt.Sprintf("gateways %s..%s in this process", gatewayID(p.first), gatewayID(p.first+len(p.ms)-1))
}

func (p *localPart) size() int        { return len(p.ms) }
func (p *localPart) channels() int    { return len(p.ms[0].g.Channels()) }
func (p *localPart) rssBefore() int64 { return 0 }
func (p *localPart) failed() error    { return nil }

func (p *localPart) keys() []gatewayKey {
	ks := make([]gatewayKey, len(p.ms))
	for k, m := range p.ms {
		id := m.g.Identity()
		ks[k] = gatewayKey{ID: m.id, PublicKey: id.PublicKey, KeyID: id.KeyID}
	}
	return ks
}

// run starts every gateway and the sampler.
func (p *localPart) run() error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.ran = cancel, true
	for _, m := range p.ms {
		go func() { m.done <- m.g.Run(ctx) }()
	}
	quit := make(chan struct{})
	p.quit, p.stopped = quit, make(chan struct{})
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			s := p.counters()
			s.AttemptsAt = p.attemptTimes()
			p.mu.Lock()
			p.samples = append(p.samples, s)
			p.mu.Unlock()
			if p.onSample != nil {
				p.onSample(s)
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// counters reads the members' own counters and their links' stats, never a gateway's Stats: that
// takes the spool's lock, which a batcher holds through an fsync, and on a loaded disk a walk over
// thousands of gateways then takes minutes.
func (p *localPart) counters() sample {
	s := sample{At: time.Now()}
	for _, m := range p.ms {
		ls := m.g.LinkStats()
		s.Attempts += ls.Attempts
		if ls.Connected {
			s.Connected++
			if ls.Connects >= 2 {
				s.Back++
			}
		}
		s.Batches += m.batches.Load()
		s.Readings += m.readings.Load()
	}
	return s
}

// attemptTimes reads each link's attempts since the previous call (the sampler's goroutine only) by
// the second their last one began in; nil when there were none.
func (p *localPart) attemptTimes() map[int64]int {
	var at map[int64]int
	for _, m := range p.ms {
		ls := m.g.LinkStats()
		if ls.Attempts == m.attempts {
			continue
		}
		if at == nil {
			at = map[int64]int{}
		}
		at[ls.LastAttempt.Unix()] += int(ls.Attempts - m.attempts)
		m.attempts = ls.Attempts
	}
	return at
}

func (p *localPart) latest() sample { return p.counters() }

func (p *localPart) history() []sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]sample(nil), p.samples...)
}

func (p *localPart) usage() (usage, error) {
	u := selfUsage()
	u.Counters = p.counters()
	return u, nil
}

// stop cancels the gateways, waits for each Run to return (each drains within its DrainTimeout) and
// reads what they left.
func (p *localPart) stop() (stopReport, error) {
	if !p.ran || p.quit == nil {
		return stopReport{}, errors.New("fleet: stop before run, or twice")
	}
	p.cancel()
	close(p.quit)
	p.quit = nil
	<-p.stopped
	r := stopReport{Seqs: make(map[string][]uint64, len(p.ms))}
	for _, m := range p.ms {
		if err := <-m.done; err != nil {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", m.id, err))
		}
		st := m.g.Stats()
		m.mu.Lock()
		r.Seqs[m.id] = append([]uint64(nil), m.seqs...)
		m.mu.Unlock()
		r.Readings += st.Readings
		r.StillSpooled += st.Spool.Backlog
		r.RingDropped += st.Ring.Dropped
		for _, s := range st.Sensors {
			if s.Health.State != sensor.StateOK {
				r.SensorsBad++
			}
		}
	}
	return r, nil
}

// kill closes gateways that were opened and not run (Run closes its gateway when it returns), and
// stops running ones without waiting for their drain.
func (p *localPart) kill() {
	if p.ran {
		p.cancel()
		return
	}
	for _, m := range p.ms {
		if m != nil && m.g != nil {
			m.g.Close()
		}
	}
}
