package cloudsync

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/profile"
)

// Options configures a Link.
type Options struct {
	Brokers     []string // tried in order
	ClientID    string   // stable, so the broker keeps the session
	GatewayID   string
	TopicPrefix string // "wayside/v1"
	KeepAlive   time.Duration
	MaxInflight int // batches published and not yet acknowledged
	Version     string
	BootID      string
	ConfigHash  string
	Log         *zap.Logger
	// OnResult, when set, is called once per published batch with nil when the broker acknowledged
	// it, or the publish error. It runs on the link's tracker goroutine: keep it short.
	OnResult func(seq uint64, err error)

	// Topics replaces the generic profile's topics under TopicPrefix (cloud profiles have their own
	// schemes); Limits are the platform's (zero: none known).
	Topics *profile.Topics
	Limits profile.Limits
	// NextProtos, when set, gives the TLS ALPN protocols for a broker (aws-iot on port 443).
	NextProtos func(broker *url.URL) []string
	// CredentialsTTL, when not zero, is how long credentials stay valid (azure-iothub SAS tokens): the
	// link reconnects cleanly, with fresh credentials, after 90% of it.
	CredentialsTTL time.Duration
	// ReconnectMin and ReconnectMax bound the reconnect backoff: after the n-th failed attempt in a
	// row the link waits a uniformly random time in [0, min(ReconnectMax, ReconnectMin*2^n)] ("full
	// jitter"), so a city's gateways spread out instead of reconnecting together after a broker restart.
	ReconnectMin, ReconnectMax time.Duration
	// ReconnectSpread replaces ReconnectMin once a connection has been lost: the first attempt after a
	// loss waits a uniformly random time in [0, ReconnectSpread] and failed rounds after it double from
	// there, within ReconnectMax. A broker restart drops a city's gateways in the same instant; with a
	// spread of S seconds they come back at about 1/S of the fleet per second (30 s: 3.3%). Attempts
	// before the first connection keep ReconnectMin, so a gateway being commissioned retries quickly.
	// Zero: ReconnectMin.
	ReconnectSpread time.Duration
	// ConnectTimeout bounds one connection attempt to one broker.
	ConnectTimeout time.Duration
	// TLS, when set, returns the TLS configuration for a connection attempt to broker (called per
	// attempt, so renewed certificate files are used by the next connection). Nil for plain brokers.
	TLS func(broker *url.URL) (*tls.Config, error)
	// Credentials, when set, returns the user name and password for each connection attempt (SAS
	// tokens and signed passwords expire, so they are made fresh).
	Credentials func() (username, password string)
	// Detail, when set, returns the gateway's state for the retained status message.
	Detail func() StatusDetail
	// StatusEvery is how often the retained status is refreshed while connected (default 1 min).
	StatusEvery time.Duration
	// Commands, when set, answers a command request c (parsed from its topic by the profile). It runs
	// on the link's command goroutine, one request at a time; its reply is published on the profile's
	// reply topic for c with status, an HTTP-like code (none when reply is nil).
	Commands func(c profile.Command, payload []byte) (reply []byte, status int)
	// Takeover detects a second client with the same client id (see TakeoverPolicy).
	Takeover TakeoverPolicy
}

// Link is the MQTT session. Publish is called by one goroutine (the batcher); Stats from any.
//
// The link runs its own connection loop instead of paho's auto-reconnect: it tries the brokers in
// order, waits a fully jittered exponential backoff between failed rounds, and detects a session
// takeover loop (see TakeoverPolicy). The session is persistent (clean session off, a stable client
// id), so batches in flight when a connection drops are re-sent by paho on the next connection.
type Link struct {
	opts   Options
	topics profile.Topics
	client mqtt.Client
	log    *zap.Logger

	conn  connection // the connection loop's state (connect.go)
	gate  resumeGate // paho's store resume (paho_workaround.go)
	acks  inflight   // batches awaiting their PUBACK (publish.go)
	count counters   // for Stats and the status message

	cmds      chan mqtt.Message // command requests for serveCommands
	evq       chan []byte       // events for publishEvents
	kick      chan struct{}     // a status refresh is wanted
	statusRID atomic.Uint64     // request ids of device twin updates

	started   atomic.Bool
	stop      chan struct{}  // closed by Close: every goroutine of the link returns
	bg        sync.WaitGroup // serveCommands, publishEvents, refreshStatus
	closeOnce sync.Once
}

// counters are the link's counts since New.
type counters struct {
	published  atomic.Uint64
	acked      atomic.Uint64
	failed     atomic.Uint64
	connects   atomic.Uint64
	attempts   atomic.Uint64
	lastTry    atomic.Int64 // unix ns of the last attempt
	commands   atomic.Uint64
	events     atomic.Uint64
	eventsLost atomic.Uint64
	lastAckRTT atomic.Int64
}

// New validates opts and prepares the session; Start connects.
func New(opts Options) (*Link, error) {
	if len(opts.Brokers) == 0 {
		return nil, errors.New("cloudsync: no broker configured")
	}
	if opts.MaxInflight <= 0 {
		opts.MaxInflight = 64
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = time.Second
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = max(2*time.Minute, opts.ReconnectMin)
	}
	opts.ReconnectSpread = min(max(opts.ReconnectSpread, opts.ReconnectMin), opts.ReconnectMax)
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.StatusEvery <= 0 {
		opts.StatusEvery = time.Minute
	}
	tp := &opts.Takeover
	if tp.Short <= 0 {
		tp.Short = 10 * time.Second
	}
	if tp.Count <= 0 {
		tp.Count = 3
	}
	if tp.Window <= 0 {
		tp.Window = 2 * time.Minute
	}
	if tp.Hold <= 0 {
		tp.Hold = 5 * time.Minute
	}
	topics := profile.PrefixTopics(opts.TopicPrefix, opts.GatewayID)
	if opts.Topics != nil {
		topics = *opts.Topics
	}
	l := &Link{
		opts:   opts,
		topics: topics,
		log:    opts.Log.Named("cloud"),
		conn: connection{
			lost: make(chan error, 1),
			done: make(chan struct{}),
			rng:  rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), hashString(opts.ClientID))),
		},
		acks: inflight{
			slots: make(chan struct{}, opts.MaxInflight),
			queue: make(chan pending, opts.MaxInflight),
			done:  make(chan struct{}),
		},
		cmds: make(chan mqtt.Message, 16),
		evq:  make(chan []byte, 64),
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
	}
	l.conn.broker.Store("")
	l.conn.state.Store("connecting")
	co := mqtt.NewClientOptions()
	if l.topics.Will != "" && (opts.Topics == nil || opts.Limits.Will) {
		will, err := l.statusPayload("offline", false)
		if err != nil {
			return nil, err
		}
		co.SetBinaryWill(l.topics.Will, will, 1, l.topics.WillRetained)
	}
	co.
		SetClientID(opts.ClientID).
		SetCleanSession(false).
		SetOrderMatters(false).
		SetKeepAlive(opts.KeepAlive).
		SetAutoReconnect(false). // the connection loop reconnects, with jitter and takeover detection
		SetConnectRetry(false).
		SetConnectTimeout(opts.ConnectTimeout).
		SetWriteTimeout(10 * time.Second).
		SetOnConnectHandler(l.onConnect).
		SetStore(&gateStore{Store: mqtt.NewMemoryStore(), l: l}).
		SetConnectionLostHandler(l.onLost).
		SetConnectionAttemptHandler(l.onAttempt)
	if opts.Credentials != nil {
		co.SetCredentialsProvider(opts.Credentials)
	}
	for _, b := range opts.Brokers {
		co.AddBroker(b)
	}
	l.client = mqtt.NewClient(co)
	return l, nil
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// Topics returns the link's topics.
func (l *Link) Topics() profile.Topics { return l.topics }

// Start begins connecting in the background (retrying until Close) and starts the acknowledgement
// tracker, the command handler and the status refresher. Batches are published only while connected.
func (l *Link) Start() {
	if l.started.Swap(true) {
		return
	}
	go l.trackAcks()
	go l.connectLoop()
	l.bg.Add(3)
	go func() { defer l.bg.Done(); l.serveCommands() }()
	go func() { defer l.bg.Done(); l.publishEvents() }()
	go func() { defer l.bg.Done(); l.refreshStatus() }()
}

// Connected tells whether the MQTT connection is up and ready for publishing.
func (l *Link) Connected() bool { return l.client.IsConnectionOpen() && l.gate.resumed.Load() }

// Stats are the link's counters.
type Stats struct {
	Connected  bool
	State      string // connected, connecting, backoff, takeover-hold, closed
	Broker     string // the broker of the current or last connection
	Takeover   bool   // holding off: another client seems to use our client id
	NextTry    time.Time
	Commands   uint64 // command requests received
	Events     uint64 // events published
	EventsLost uint64 // events not published (offline or the queue full)
	Telemetry  string // the telemetry topic
	StatusOn   string // where the status goes: its topic, or the device twin's
	Published  uint64 // batches handed to the MQTT client
	Acked      uint64 // batches the broker acknowledged (PUBACK)
	Failed     uint64 // batches whose publish reported an error
	Inflight   int
	Connects   uint64
	// Attempts counts connection attempts to a broker, failed ones included (one per broker tried).
	Attempts uint64
	// LastAttempt is when the last connection attempt began (zero before the first).
	LastAttempt time.Time
	LastAckRTT  time.Duration
}

// Stats returns the link's counters.
func (l *Link) Stats() Stats {
	st := Stats{
		Connected:  l.Connected(),
		State:      l.conn.state.Load().(string),
		Broker:     l.conn.broker.Load().(string),
		Takeover:   l.conn.takeover.Load(),
		Published:  l.count.published.Load(),
		Acked:      l.count.acked.Load(),
		Failed:     l.count.failed.Load(),
		Inflight:   len(l.acks.slots),
		Connects:   l.count.connects.Load(),
		Attempts:   l.count.attempts.Load(),
		Commands:   l.count.commands.Load(),
		Events:     l.count.events.Load(),
		EventsLost: l.count.eventsLost.Load(),
		LastAckRTT: time.Duration(l.count.lastAckRTT.Load()),
		Telemetry:  l.topics.Telemetry,
		StatusOn:   l.topics.Status,
	}
	if l.topics.StatusDelivery == profile.StatusTwin {
		st.StatusOn = "device twin reported properties"
	}
	if n := l.conn.nextTry.Load(); n != 0 {
		st.NextTry = time.Unix(0, n)
	}
	if n := l.count.lastTry.Load(); n != 0 {
		st.LastAttempt = time.Unix(0, n)
	}
	return st
}

// Close announces an orderly stop (a retained "offline" status with clean set, so the cloud knows
// this is not a crash), waits up to timeout for the broker to acknowledge every published batch,
// refreshes that status with the final counters and disconnects. It returns an error naming how
// many batches were left unacknowledged.
func (l *Link) Close(timeout time.Duration) error {
	var err error
	l.closeOnce.Do(func() {
		deadline := time.Now().Add(timeout)
		if l.Connected() {
			l.sendStatus("offline", true)
		}
		// Acknowledgements come only over a connection: while there is none, waiting cannot help
		// (unacknowledged batches stay in the spool).
		for len(l.acks.slots) > 0 && time.Now().Before(deadline) && (l.Connected() || l.conn.state.Load() == "connecting") {
			time.Sleep(10 * time.Millisecond)
		}
		left := len(l.acks.slots)
		close(l.stop)
		close(l.acks.queue)
		if l.started.Load() {
			<-l.acks.done
			<-l.conn.done
			l.bg.Wait()
		}
		if l.client.IsConnected() {
			if tok := l.sendStatus("offline", true); tok != nil && !tok.WaitTimeout(time.Until(deadline)+time.Second) {
				l.log.Warn("offline status not acknowledged before disconnect")
			}
		}
		l.client.Disconnect(250)
		l.conn.state.Store("closed")
		if left > 0 {
			err = fmt.Errorf("cloudsync: %d batches not acknowledged by the broker within %v", left, timeout)
		}
		l.log.Info("mqtt closed", zap.Uint64("published", l.count.published.Load()), zap.Uint64("acked", l.count.acked.Load()),
			zap.Int("unacked", left))
	})
	return err
}
