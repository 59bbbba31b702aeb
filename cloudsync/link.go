package cloudsync

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
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

// TakeoverPolicy detects a session takeover loop: two gateways configured with the same client id
// kick each other off the broker forever, each reconnect closing the other's session. When Count
// sessions in a row, within Window, were closed by the broker less than Short after they began, with
// no failed connection round between them, the link stops fighting: it logs an error naming the client
// id and stays away for Hold before trying again; Stats and the status message say so.
//
// A broker restarting also closes short sessions, and from one client the loss looks the same: MQTT
// 3.1.1 has no reason code for a takeover (the broker closes the connection without a word, as it does
// when it stops), so the loss error cannot tell them apart. What does: a takeover happens on a broker
// that is up and accepts every reconnect, while a restarting broker refuses connections or cannot be
// reached for a while. So a round in which every broker refused, was unreachable or did not answer in
// time ends the run of short sessions; a rolling restart then never adds up to a hold.
//
// Not told apart: a broker back before our next attempt (a restart faster than the jittered wait after
// a loss, at most ReconnectSpread) leaves no refused connect, so Count such restarts in a row, each less
// than Short after we reconnected, still look like a takeover. The CONNACK session-present flag does not
// help either way: a broker with persistence resumes our session after a restart (present, as in a
// takeover), and a client taking our id with a clean session discards it (absent, as after a restart of
// a broker without persistence).
type TakeoverPolicy struct {
	Short  time.Duration // default 10 s
	Count  int           // default 3
	Window time.Duration // default 2 min
	Hold   time.Duration // default 5 min
}

// Status is the retained status message, JSON on the status topic. The last will is the same
// message with state "offline" and clean false.
type Status struct {
	State     string        `json:"state"` // "online" or "offline"
	Gateway   string        `json:"gateway"`
	Version   string        `json:"version"`
	BootID    string        `json:"boot_id"`
	Config    string        `json:"config,omitempty"`
	Since     string        `json:"since,omitempty"` // RFC 3339, when the message was made
	Clean     bool          `json:"clean,omitempty"` // offline after an orderly stop (not the last will)
	Published uint64        `json:"published,omitempty"`
	Broker    string        `json:"broker,omitempty"` // the broker this session is on
	Connects  uint64        `json:"connects,omitempty"`
	Detail    *StatusDetail `json:"detail,omitempty"`
}

// StatusDetail is the gateway's state in the status message.
type StatusDetail struct {
	Sensors SensorSummary `json:"sensors"`
	Spool   SpoolSummary  `json:"spool"`
	Clock   ClockSummary  `json:"clock"`
	// RingDropped counts readings lost because the in-memory ring overflowed since the start.
	RingDropped uint64 `json:"ring_dropped"`
}

// SensorSummary counts sensors by health state and names the ones not ok.
type SensorSummary struct {
	OK       int      `json:"ok"`
	Degraded []string `json:"degraded,omitempty"`
	Failing  []string `json:"failing,omitempty"`
}

// SpoolSummary is the durable backlog.
type SpoolSummary struct {
	Backlog   int    `json:"backlog"` // batches not yet acknowledged by the broker
	Bytes     int64  `json:"bytes"`   // on disk
	OldestSeq uint64 `json:"oldest_seq,omitempty"`
	Evicted   uint64 `json:"evicted,omitempty"` // batches dropped by the quota or a full disk since the start
	// EvictedDiskFull is the part of Evicted dropped because the gateway's disk was full.
	EvictedDiskFull uint64 `json:"evicted_disk_full,omitempty"`
	// Lost counts batches that could not be stored at all since the start (not even evicted later).
	Lost uint64 `json:"lost,omitempty"`
	// Limit is what the spool may hold now: spool.quota, or what fits on the disk when that is less.
	Limit int64 `json:"limit,omitempty"`
}

// ClockSummary is the wall clock's state: readings are stamped from it once it is trusted.
type ClockSummary struct {
	Trusted bool   `json:"trusted"`
	Trust   string `json:"trust"` // the policy: "ntp" or "always"
}

// Event is a health event, JSON on the events topic.
type Event struct {
	Kind    string `json:"kind"` // sensor-state, ring-overflow, spool-evicted, spool-lost, clock-trusted, takeover, reload
	At      string `json:"at"`   // RFC 3339 with milliseconds
	Gateway string `json:"gateway"`
	Sensor  string `json:"sensor,omitempty"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Count   uint64 `json:"count,omitempty"`
	Message string `json:"message,omitempty"`
}

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
	Attempts   uint64
	LastAckRTT time.Duration
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

	slots    chan struct{} // one per batch in flight
	queue    chan pending  // published batches in order, for trackAcks
	lost     chan error    // connection losses, for the connection loop
	cmds     chan mqtt.Message
	evq      chan []byte   // events for publishEvents
	kick     chan struct{} // a status refresh is wanted
	stop     chan struct{}
	ackDone  chan struct{}
	loopDone chan struct{}
	bgDone   sync.WaitGroup

	resumed    atomic.Bool   // paho has snapshotted its store since the connection came up (see gateStore)
	resumes    atomic.Uint64 // store snapshots taken: each may complete pending tokens without a PUBACK
	broker     atomic.Value  // string
	state      atomic.Value  // string
	nextTry    atomic.Int64  // unix ns of the next connection attempt while backing off
	takeover   atomic.Bool
	published  atomic.Uint64
	acked      atomic.Uint64
	failed     atomic.Uint64
	connects   atomic.Uint64
	attempts   atomic.Uint64
	commands   atomic.Uint64
	events     atomic.Uint64
	eventsLost atomic.Uint64
	statusRID  atomic.Uint64 // request ids of device twin updates
	lastAckRTT atomic.Int64
	closeOnce  sync.Once
	started    atomic.Bool
	rng        *rand.Rand // the connection loop's jitter
}

type pending struct {
	seq     uint64
	tok     mqtt.Token
	sent    time.Time
	resumes uint64 // l.resumes when published
}

// ErrUnconfirmed is the result of a batch whose token completed across a reconnect: paho v1.5.1's
// resume replaces the tokens of stored publishes and completes the old ones without an error, with
// no PUBACK seen. Such a batch is offered again (the cloud de-duplicates on its sequence number).
var ErrUnconfirmed = errors.New("cloudsync: delivery not confirmed across a reconnect")

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
		opts:     opts,
		topics:   topics,
		log:      opts.Log.Named("cloud"),
		slots:    make(chan struct{}, opts.MaxInflight),
		queue:    make(chan pending, opts.MaxInflight),
		lost:     make(chan error, 1),
		cmds:     make(chan mqtt.Message, 16),
		evq:      make(chan []byte, 64),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		ackDone:  make(chan struct{}),
		loopDone: make(chan struct{}),
		rng:      rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), hashString(opts.ClientID))),
	}
	l.broker.Store("")
	l.state.Store("connecting")
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
	l.bgDone.Add(3)
	go func() { defer l.bgDone.Done(); l.serveCommands() }()
	go func() { defer l.bgDone.Done(); l.publishEvents() }()
	go func() { defer l.bgDone.Done(); l.refreshStatus() }()
}

// onAttempt runs before each connection attempt to one broker: it records the broker and builds
// that attempt's TLS configuration (certificate files are re-read when they change).
func (l *Link) onAttempt(b *url.URL, tc *tls.Config) *tls.Config {
	l.broker.Store(b.String())
	l.attempts.Add(1)
	l.log.Debug("mqtt connecting", zap.String("broker", b.String()))
	if l.opts.TLS == nil {
		return tc
	}
	c, err := l.opts.TLS(b)
	if err != nil {
		l.log.Error("tls configuration", zap.String("broker", b.String()), zap.Error(err))
		return tc
	}
	if c == nil {
		return tc
	}
	if l.opts.NextProtos != nil {
		c.NextProtos = l.opts.NextProtos(b)
	}
	return c
}

// connectLoop connects, waits for the connection to be lost, and backs off between failures, until
// Close.
func (l *Link) connectLoop() {
	defer close(l.loopDone)
	failures := 0
	lost := false         // a connection has been lost: backoffs start from ReconnectSpread
	var short []time.Time // when recent sessions that the broker closed early ended
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		l.state.Store("connecting")
		// paho refuses Connect until it has finished tearing down the previous connection.
		for i := 0; i < 200 && l.client.IsConnected(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		for len(l.lost) > 0 { // losses of earlier connections, reported late
			<-l.lost
		}
		tok := l.client.Connect()
		// paho tries each broker in order within one Connect; bound the whole round.
		round := time.Duration(len(l.opts.Brokers))*(l.opts.ConnectTimeout+2*time.Second) + 5*time.Second
		completed := waitToken(tok, round, l.stop)
		if !completed {
			select {
			case <-l.stop:
				return
			default:
			}
			l.log.Error("mqtt connect did not complete; trying again", zap.Duration("waited", round))
		}
		if err := tok.Error(); err != nil || !l.client.IsConnectionOpen() {
			failures++
			l.log.Warn("mqtt connect failed on every broker", zap.Strings("brokers", l.opts.Brokers), zap.Error(err),
				zap.Int("failures_in_a_row", failures))
			// A takeover leaves the broker accepting connections; one that refuses, cannot be reached or
			// does not answer is restarting (see TakeoverPolicy), so the short sessions before this
			// round were not another client's doing. A connection the broker accepted and closed at
			// once (no error) proves nothing either way and leaves the run as it is.
			if (!completed || err != nil) && len(short) > 0 {
				l.log.Info("broker refused or unreachable after short sessions: a restart, not a session takeover",
					zap.Int("short_sessions", len(short)), zap.Error(err))
				short = short[:0]
			}
		} else {
			began := time.Now()
			failures = 0
			var renew <-chan time.Time
			if l.opts.CredentialsTTL > 0 {
				renew = time.After(l.opts.CredentialsTTL * 9 / 10)
			}
			var lostErr error
		wait:
			select {
			case lostErr = <-l.lost:
				if l.client.IsConnectionOpen() {
					goto wait // the loss of an earlier connection, reported after this one came up
				}
			case <-renew:
				// Leave before the platform drops us for an expired token (which would fire the
				// last will); reconnect at once with fresh credentials.
				l.log.Info("mqtt credentials about to expire: reconnecting with fresh ones",
					zap.Duration("ttl", l.opts.CredentialsTTL))
				l.resumed.Store(false)
				l.client.Disconnect(250)
				continue
			case <-l.stop:
				return
			}
			lost = true
			now := time.Now()
			if now.Sub(began) < l.opts.Takeover.Short {
				short = append(short, now)
			} else {
				short = short[:0]
			}
			for len(short) > 0 && now.Sub(short[0]) > l.opts.Takeover.Window {
				short = short[1:]
			}
			if len(short) >= l.opts.Takeover.Count {
				l.holdForTakeover(len(short), now.Sub(short[0]), lostErr)
				short = short[:0]
				if l.sleep(l.opts.Takeover.Hold, "takeover-hold") {
					return
				}
				l.takeover.Store(false)
				l.log.Warn("takeover hold over: reconnecting", zap.String("client_id", l.opts.ClientID))
				continue
			}
		}
		if l.sleep(l.backoff(failures, lost), "backoff") {
			return
		}
	}
}

// backoff is the wait before the next attempt after failures failed rounds in a row: uniformly random
// in [0, min(ReconnectMax, base * 2^failures)], base being ReconnectMin until a connection has been
// lost and ReconnectSpread after. Right after a lost connection (failures 0) it is within
// [0, ReconnectSpread], so gateways dropped by the same broker restart come back spread out.
func (l *Link) backoff(failures int, lost bool) time.Duration {
	base := l.opts.ReconnectMin
	if lost {
		base = l.opts.ReconnectSpread
	}
	return FullJitter(l.rng, base, l.opts.ReconnectMax, failures)
}

// FullJitter returns a uniformly random duration in [0, min(hi, lo*2^n)] ("full jitter", AWS
// architecture blog, Exponential Backoff and Jitter).
func FullJitter(r *rand.Rand, lo, hi time.Duration, n int) time.Duration {
	ceil := hi
	if n < 62 && lo<<n > 0 && lo<<n < hi {
		ceil = lo << n
	}
	return time.Duration(r.Int64N(int64(ceil) + 1))
}

// sleep waits d in state, or returns true when the link is closing.
func (l *Link) sleep(d time.Duration, state string) (closing bool) {
	l.state.Store(state)
	l.nextTry.Store(time.Now().Add(d).UnixNano())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		l.nextTry.Store(0)
		return false
	case <-l.stop:
		return true
	}
}

func (l *Link) holdForTakeover(n int, within time.Duration, lastErr error) {
	l.takeover.Store(true)
	msg := fmt.Sprintf("the broker closed our session %d times within %v, each less than %v after it began, "+
		"and accepted every reconnect in between: "+
		"another client is most likely connecting with the same client id %q (two gateways configured with "+
		"the same gateway id or cloud.client_id?); not reconnecting for %v", n, within.Round(time.Second),
		l.opts.Takeover.Short, l.opts.ClientID, l.opts.Takeover.Hold)
	l.log.Error("mqtt session takeover loop: "+msg, zap.String("client_id", l.opts.ClientID),
		zap.String("broker", l.broker.Load().(string)), zap.NamedError("last_error", lastErr))
}

func waitToken(tok mqtt.Token, d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-tok.Done():
		return true
	case <-t.C:
		return false
	case <-stop:
		return false
	}
}

// StatusNow returns the online status message as it would be published now (get-status).
func (l *Link) StatusNow() Status { return l.status("online", false) }

func (l *Link) status(state string, clean bool) Status {
	st := Status{
		State: state, Gateway: l.opts.GatewayID, Version: l.opts.Version, BootID: l.opts.BootID,
		Config: l.opts.ConfigHash, Since: time.Now().UTC().Format(time.RFC3339), Clean: clean,
		Published: l.published.Load(), Connects: l.connects.Load(),
	}
	if b, _ := l.broker.Load().(string); state == "online" {
		st.Broker = b
	}
	if l.opts.Detail != nil && (state == "online" || clean) {
		d := l.opts.Detail()
		st.Detail = &d
	}
	return st
}

func (l *Link) statusPayload(state string, clean bool) ([]byte, error) {
	b, err := json.Marshal(l.status(state, clean))
	if err != nil {
		return nil, fmt.Errorf("cloudsync: status: %w", err)
	}
	return b, nil
}

func (l *Link) onConnect(c mqtt.Client) {
	l.connects.Add(1)
	l.state.Store("connected")
	broker := l.broker.Load().(string)
	l.log.Info("mqtt connected", zap.String("broker", broker), zap.String("client_id", l.opts.ClientID),
		zap.Uint64("connects", l.connects.Load()))
	// Publishing before paho has resumed its store races with the resume (see gateStore): wait, bounded.
	for i := 0; i < 1000 && !l.Connected(); i++ {
		if !c.IsConnectionOpen() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	if l.opts.Commands != nil || l.topics.ResponseFilter != "" {
		// Not waited on (this runs on paho's connect goroutine); a failed subscription is logged.
		filters := map[string]byte{}
		for _, f := range l.topics.Subscriptions() {
			if f != "" {
				filters[f] = 1
			}
		}
		tok := c.SubscribeMultiple(filters, l.onMessage)
		go func() {
			if waitToken(tok, 30*time.Second, l.stop) && tok.Error() != nil {
				l.log.Error("subscribe", zap.Any("filters", filters), zap.Error(tok.Error()))
			}
		}()
	}
	l.publishStatus()
}

// onMessage routes what arrives on the subscriptions: command requests to the command goroutine,
// the platform's answers to status updates (azure-iothub twin) to the log.
func (l *Link) onMessage(_ mqtt.Client, m mqtt.Message) {
	if _, ok := l.topics.ParseCommand(m.Topic()); ok && l.opts.Commands != nil {
		select {
		case l.cmds <- m:
		default:
			l.log.Warn("command dropped: the command queue is full", zap.String("topic", m.Topic()))
		}
		return
	}
	if status, rid, ok := l.topics.ParseStatusResponse(m.Topic()); ok {
		if status/100 != 2 {
			l.log.Warn("the platform refused a status update", zap.Int("status", status), zap.String("request", rid),
				zap.ByteString("answer", m.Payload()))
		}
		return
	}
	l.log.Debug("message on an unexpected topic ignored", zap.String("topic", m.Topic()))
}

// publishStatus sends the online status the profile's way; not waited on (the PUBACK completes it).
func (l *Link) publishStatus() {
	l.sendStatus("online", false)
}

// sendStatus publishes a status message: retained on the status topic, or as a device twin update.
func (l *Link) sendStatus(state string, clean bool) mqtt.Token {
	b, err := l.statusPayload(state, clean)
	if err != nil {
		l.log.Error("status", zap.Error(err))
		return nil
	}
	switch l.topics.StatusDelivery {
	case profile.StatusTwin:
		key := l.topics.StatusKey
		if key == "" {
			key = "wayside"
		}
		doc, err := json.Marshal(map[string]json.RawMessage{key: b})
		if err != nil {
			return nil
		}
		return l.client.Publish(l.topics.StatusTopic(strconv.FormatUint(l.statusRID.Add(1), 10)), 1, false, doc)
	case profile.StatusPlain:
		return l.client.Publish(l.topics.Status, 1, false, b)
	default:
		return l.client.Publish(l.topics.Status, 1, true, b)
	}
}

// StatusChanged asks for the retained status to be refreshed soon (a sensor changed state, the
// clock became trusted...). It never blocks.
func (l *Link) StatusChanged() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// refreshStatus republishes the retained status every StatusEvery and when StatusChanged asks,
// at most once a second.
func (l *Link) refreshStatus() {
	t := time.NewTicker(l.opts.StatusEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		case <-l.kick:
		}
		if l.Connected() {
			l.publishStatus()
		}
		select { // coalesce bursts of changes
		case <-l.stop:
			return
		case <-time.After(time.Second):
		}
	}
}

// Event publishes a health event at QoS 1 when connected; otherwise it is counted as lost (the
// retained status carries the current state when the link comes back). It never blocks.
func (l *Link) Event(e Event) {
	if !l.Connected() || l.topics.Events == "" {
		l.eventsLost.Add(1)
		return
	}
	e.Gateway = l.opts.GatewayID
	if e.At == "" {
		e.At = time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	b, err := json.Marshal(e)
	if err != nil {
		l.eventsLost.Add(1)
		return
	}
	select { // paho's Publish can block on its outbound queue: the events goroutine takes that wait
	case l.evq <- b:
	default:
		l.eventsLost.Add(1)
	}
}

// publishEvents publishes queued events until Close.
func (l *Link) publishEvents() {
	for {
		select {
		case <-l.stop:
			return
		case b := <-l.evq:
			l.client.Publish(l.topics.Events, 1, false, b)
			l.events.Add(1)
		}
	}
}

// serveCommands answers command requests one at a time, in arrival order.
func (l *Link) serveCommands() {
	for {
		select {
		case <-l.stop:
			return
		case m := <-l.cmds:
			l.commands.Add(1)
			c, _ := l.topics.ParseCommand(m.Topic())
			reply, status := l.opts.Commands(c, m.Payload())
			if reply == nil || !l.Connected() {
				continue
			}
			l.client.Publish(l.topics.Reply(c, status), 1, false, reply)
		}
	}
}

// gateStore is paho's in-memory store, watched. On every (re)connection paho's resume takes a
// snapshot of the store's keys (All) and re-sends those packets, setting their DUP flag, while the
// new connection's writer is already running. A batch published after the connection is up but before
// that snapshot is both sent by us and re-sent by resume, and its DUP flag is written while the writer
// reads it: a data race in paho v1.5.1. So the link reports itself connected only once resume has
// taken its snapshot on an open connection.
type gateStore struct {
	mqtt.Store
	l *Link
}

func (s *gateStore) All() []string {
	keys := s.Store.All()
	// Every snapshot counts (only resume calls All): even one taken as the connection dropped again
	// may complete pending tokens without a PUBACK.
	s.l.resumes.Add(1)
	if c := s.l.client; c != nil && c.IsConnectionOpen() {
		s.l.resumed.Store(true)
	}
	return keys
}

func (l *Link) onLost(c mqtt.Client, err error) {
	if !c.IsConnectionOpen() { // not a newer connection already up and resumed
		l.resumed.Store(false)
	}
	l.log.Warn("mqtt disconnected", zap.String("broker", l.broker.Load().(string)), zap.Error(err),
		zap.Int("inflight", len(l.slots)))
	select {
	case l.lost <- err:
	default:
	}
}

// Publish hands one encoded batch to the MQTT client at QoS 1; payload is copied. It blocks while
// MaxInflight batches await acknowledgement, until one is acknowledged or ctx ends.
func (l *Link) Publish(ctx context.Context, seq uint64, payload []byte) error {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("cloudsync: publish batch %d: %w", seq, ctx.Err())
	}
	body := make([]byte, len(payload)) // paho keeps the slice until the PUBACK; ours is reused
	copy(body, payload)
	resumes := l.resumes.Load() // before Publish: a resume while it blocks must mark the batch unconfirmed
	tok := l.client.Publish(l.topics.Telemetry, 1, false, body)
	l.published.Add(1)
	l.queue <- pending{seq: seq, tok: tok, sent: time.Now(), resumes: resumes} // never blocks: slots bound the queue
	return nil
}

// trackAcks waits for the tokens in publish order and frees a slot for each.
func (l *Link) trackAcks() {
	defer close(l.ackDone)
	for p := range l.queue {
		select {
		case <-p.tok.Done():
		case <-l.stop:
			<-l.slots
			continue
		}
		err := p.tok.Error()
		if err == nil && l.resumes.Load() != p.resumes {
			err = ErrUnconfirmed
		}
		if err != nil {
			l.failed.Add(1)
			l.log.Warn("batch publish failed; it stays spooled", zap.Uint64("seq", p.seq), zap.Error(err))
		} else {
			l.acked.Add(1)
			l.lastAckRTT.Store(int64(time.Since(p.sent)))
		}
		if l.opts.OnResult != nil {
			l.opts.OnResult(p.seq, err)
		}
		<-l.slots
	}
}

// Connected tells whether the MQTT connection is up and ready for publishing.
func (l *Link) Connected() bool { return l.client.IsConnectionOpen() && l.resumed.Load() }

// Stats returns the link's counters.
func (l *Link) Stats() Stats {
	st := Stats{
		Connected:  l.Connected(),
		State:      l.state.Load().(string),
		Broker:     l.broker.Load().(string),
		Takeover:   l.takeover.Load(),
		Published:  l.published.Load(),
		Acked:      l.acked.Load(),
		Failed:     l.failed.Load(),
		Inflight:   len(l.slots),
		Connects:   l.connects.Load(),
		Attempts:   l.attempts.Load(),
		Commands:   l.commands.Load(),
		Events:     l.events.Load(),
		EventsLost: l.eventsLost.Load(),
		LastAckRTT: time.Duration(l.lastAckRTT.Load()),
		Telemetry:  l.topics.Telemetry,
		StatusOn:   l.topics.Status,
	}
	if l.topics.StatusDelivery == profile.StatusTwin {
		st.StatusOn = "device twin reported properties"
	}
	if n := l.nextTry.Load(); n != 0 {
		st.NextTry = time.Unix(0, n)
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
		for len(l.slots) > 0 && time.Now().Before(deadline) && (l.Connected() || l.state.Load() == "connecting") {
			time.Sleep(10 * time.Millisecond)
		}
		left := len(l.slots)
		close(l.stop)
		close(l.queue)
		if l.started.Load() {
			<-l.ackDone
			<-l.loopDone
			l.bgDone.Wait()
		}
		if l.client.IsConnected() {
			if tok := l.sendStatus("offline", true); tok != nil && !tok.WaitTimeout(time.Until(deadline)+time.Second) {
				l.log.Warn("offline status not acknowledged before disconnect")
			}
		}
		l.client.Disconnect(250)
		l.state.Store("closed")
		if left > 0 {
			err = fmt.Errorf("cloudsync: %d batches not acknowledged by the broker within %v", left, timeout)
		}
		l.log.Info("mqtt closed", zap.Uint64("published", l.published.Load()), zap.Uint64("acked", l.acked.Load()),
			zap.Int("unacked", left))
	})
	return err
}
