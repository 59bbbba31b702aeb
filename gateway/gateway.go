package gateway

import (
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/buffer/spool"
	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/gateway/config"
)

// Options configures a Gateway.
type Options struct {
	Config  *config.Config
	Version string
	Log     *zap.Logger
	// DrainTimeout bounds how long a stop waits for the broker to acknowledge what is left.
	DrainTimeout time.Duration
	// OnBatch, when set, is called by the batcher after each batch is spooled, for callers that
	// account every batch (the fleet simulator); the newest batch is in Stats too.
	OnBatch func(seq uint64, readings int, bytes int)
	// TrustClock and Wall replace the clock-trust check (config clock.trust) and the wall clock;
	// tests use them to simulate a board that boots with a wrong clock.
	TrustClock func() bool
	Wall       func() time.Time
	// OnReloadRequest, when set, is how the reload-config command asks the daemon to reload its
	// configuration file (why names the trigger). It must not block.
	OnReloadRequest func(why string)
	// Level, when set, is the daemon logger's level, which the set-log-level command changes.
	Level *zap.AtomicLevel
	// Poll, when not zero, is how often the batcher looks at the ring (default 20 ms), and the
	// sender's longest idle wait is max(Poll, 50 ms). Readings wait at most batch.max_age plus Poll.
	// The two loops' wake-ups are most of an idle gateway's CPU at cabinet rates; the fleet simulator
	// measures a longer poll (BENCHMARKS.md, "Fleet").
	Poll time.Duration
}

// sensorState is one opened sensor and its sampler's bookkeeping.
type sensorState struct {
	name      string
	driver    string
	dev       sensor.Sensor
	interval  atomic.Int64  // ns; set-interval changes it while the sampler runs
	phase     time.Duration // when the sample is taken relative to its grid slot (config sensors[].phase)
	delay     delayStats    // how late samples start after slot + phase
	retimed   chan struct{} // wakes the sampler to re-arm its timer with a new interval
	firstChan uint32
	health    sensor.Health
	mu        sync.Mutex // serialises Sample between the sampler and ReadNow (the driver contract)
	// sampling is when the Sample call in progress began (unix ns), 0 between calls: the watchdog
	// tells a driver hung on its bus from one that is merely slow.
	sampling atomic.Int64
	// feeds pass this sensor's readings to sensors that compensate with them (pressure_from).
	feeds []pressureFeed
}

// Gateway is the running pipeline.
type Gateway struct {
	opts    Options
	cfg     *config.Config
	log     *zap.Logger
	board   boards.Board
	sensors []*sensorState
	chans   []senml.Channel
	ring    *buffer.Ring
	enc     *senml.Encoder
	signer  *cosebatch.Signer // the batcher's
	resign  *cosebatch.Signer // the sender's, for batches whose times it corrects
	sealer  *cosebatch.Sealer // cloud.seal; nil: batches are signed, not sealed
	ident   Identity
	link    *cloudsync.Link
	spool   *spool.Spool
	seq     *seqStore
	replay  *command.ReplayCache // accepted command nonces; nil when commands are off
	lock    *os.File             // holds the state directory's lock until the gateway is done
	// appended wakes the sender when the batcher has spooled a batch.
	appended chan struct{}
	sendIdle time.Duration // the sender's longest wait between turns
	clock    *wallClock
	// Batches bootSeq..lastUntrusted were stamped before the wall clock was trusted.
	bootSeq       uint64
	lastUntrusted atomic.Uint64
	bootID        string
	started       time.Time

	taps  atomic.Pointer[[]*tap] // readings streamed to technicians (wayside tail); copy-on-write
	tapMu sync.Mutex             // serialises tap list updates (rare); feedTaps loads the pointer

	// Heartbeats of the batcher and sender loops (unix ns of their last turn), for Alive.
	batcherBeat atomic.Int64
	senderBeat  atomic.Int64
	// flushing makes the sender replay the backlog at full speed until it is all sent (flush-spool).
	flushing atomic.Bool

	batches     atomic.Uint64
	lastSpooled atomic.Uint64 // sequence number of the newest batch appended to the spool
	readings    atomic.Uint64 // readings pushed by the samplers
	spooled     atomic.Uint64 // readings in batches appended to the spool

	// seqMu guards what Stats reports about sequence numbers, recorded by noteSeq.
	seqMu     sync.Mutex
	lastBatch LastBatch
	nextSeq   uint64
	leasedSeq uint64
}

// LinkStats returns the MQTT link's counters (cheaper than Stats: no spool or sensor walk).
func (g *Gateway) LinkStats() cloudsync.Stats { return g.link.Stats() }

// Identity returns the gateway key's public half.
func (g *Gateway) Identity() Identity { return g.ident }

// BootID returns this run's boot id.
func (g *Gateway) BootID() string { return g.bootID }

// Channels returns the channel table readings index.
func (g *Gateway) Channels() []senml.Channel { return g.chans }

// every is the sensor's sampling interval.
func (s *sensorState) every() time.Duration { return time.Duration(s.interval.Load()) }
