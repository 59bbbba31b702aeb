package cloudsync

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
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
}

// Topics are the gateway's topics under the prefix.
type Topics struct {
	Telemetry string
	Status    string
}

// TopicsFor returns the topics of gateway under prefix.
func TopicsFor(prefix, gateway string) Topics {
	base := prefix + "/" + gateway + "/"
	return Topics{Telemetry: base + "telemetry", Status: base + "status"}
}

// Status is the retained status message, JSON on the status topic.
type Status struct {
	State     string `json:"state"` // "online" or "offline"
	Gateway   string `json:"gateway"`
	Version   string `json:"version"`
	BootID    string `json:"boot_id"`
	Config    string `json:"config,omitempty"`
	Since     string `json:"since,omitempty"` // RFC 3339, when the state began
	Clean     bool   `json:"clean,omitempty"` // offline after an orderly stop (not the last will)
	Published uint64 `json:"published,omitempty"`
}

// Stats are the link's counters.
type Stats struct {
	Connected  bool
	Broker     string // the broker of the current or last connection
	Published  uint64 // batches handed to the MQTT client
	Acked      uint64 // batches the broker acknowledged (PUBACK)
	Failed     uint64 // batches whose publish reported an error
	Inflight   int
	Connects   uint64
	LastAckRTT time.Duration
}

// Link is the MQTT session. Publish is called by one goroutine (the batcher); Stats from any.
type Link struct {
	opts   Options
	topics Topics
	client mqtt.Client
	log    *zap.Logger

	slots   chan struct{} // one per batch in flight
	queue   chan pending  // published batches in order, for trackAcks
	stop    chan struct{}
	ackDone chan struct{}

	resumed    atomic.Bool   // paho has snapshotted its store since the connection came up (see gateStore)
	resumes    atomic.Uint64 // store snapshots taken: each may complete pending tokens without a PUBACK
	broker     atomic.Value  // string
	published  atomic.Uint64
	acked      atomic.Uint64
	failed     atomic.Uint64
	connects   atomic.Uint64
	lastAckRTT atomic.Int64
	closeOnce  sync.Once
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
	l := &Link{
		opts:    opts,
		topics:  TopicsFor(opts.TopicPrefix, opts.GatewayID),
		log:     opts.Log.Named("cloud"),
		slots:   make(chan struct{}, opts.MaxInflight),
		queue:   make(chan pending, opts.MaxInflight),
		stop:    make(chan struct{}),
		ackDone: make(chan struct{}),
	}
	l.broker.Store("")
	will, err := l.statusPayload("offline", false)
	if err != nil {
		return nil, err
	}
	co := mqtt.NewClientOptions().
		SetClientID(opts.ClientID).
		SetCleanSession(false).
		SetOrderMatters(false).
		SetKeepAlive(opts.KeepAlive).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(30*time.Second).
		SetConnectTimeout(10*time.Second).
		SetWriteTimeout(10*time.Second).
		SetBinaryWill(l.topics.Status, will, 1, true).
		SetOnConnectHandler(l.onConnect).
		SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) { l.resumed.Store(false) }).
		SetStore(&gateStore{Store: mqtt.NewMemoryStore(), l: l}).
		SetConnectionLostHandler(l.onLost).
		SetConnectionAttemptHandler(func(b *url.URL, tc *tls.Config) *tls.Config {
			l.broker.Store(b.String())
			l.log.Debug("mqtt connecting", zap.String("broker", b.String()))
			return tc
		})
	for _, b := range opts.Brokers {
		co.AddBroker(b)
	}
	l.client = mqtt.NewClient(co)
	return l, nil
}

// Topics returns the link's topics.
func (l *Link) Topics() Topics { return l.topics }

// Start begins connecting in the background (retrying until Close) and starts the acknowledgement
// tracker. Batches published before the first connection wait in the client until it is up.
func (l *Link) Start() {
	go l.trackAcks()
	l.client.Connect() // with ConnectRetry the token completes only on success; never waited on
}

func (l *Link) statusPayload(state string, clean bool) ([]byte, error) {
	b, err := json.Marshal(Status{
		State: state, Gateway: l.opts.GatewayID, Version: l.opts.Version, BootID: l.opts.BootID,
		Config: l.opts.ConfigHash, Since: time.Now().UTC().Format(time.RFC3339), Clean: clean,
		Published: l.published.Load(),
	})
	if err != nil {
		return nil, fmt.Errorf("cloudsync: status: %w", err)
	}
	return b, nil
}

func (l *Link) onConnect(c mqtt.Client) {
	l.connects.Add(1)
	broker := l.broker.Load().(string)
	l.log.Info("mqtt connected", zap.String("broker", broker), zap.String("client_id", l.opts.ClientID),
		zap.Uint64("connects", l.connects.Load()))
	online, err := l.statusPayload("online", false)
	if err != nil {
		l.log.Error("status", zap.Error(err))
		return
	}
	// Publishing before paho has resumed its store races with the resume (see gateStore): wait, bounded.
	for i := 0; i < 1000 && !l.Connected(); i++ {
		if !c.IsConnectionOpen() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Not waited on: the token completes on the broker's PUBACK.
	c.Publish(l.topics.Status, 1, true, online)
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
	if c := s.l.client; c != nil && c.IsConnectionOpen() {
		s.l.resumes.Add(1)
		s.l.resumed.Store(true)
	}
	return keys
}

func (l *Link) onLost(_ mqtt.Client, err error) {
	l.log.Warn("mqtt disconnected", zap.String("broker", l.broker.Load().(string)), zap.Error(err),
		zap.Int("inflight", len(l.slots)))
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
	tok := l.client.Publish(l.topics.Telemetry, 1, false, body)
	l.published.Add(1)
	l.queue <- pending{seq: seq, tok: tok, sent: time.Now(), resumes: l.resumes.Load()} // never blocks: slots bound the queue
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
	return Stats{
		Connected:  l.Connected(),
		Broker:     l.broker.Load().(string),
		Published:  l.published.Load(),
		Acked:      l.acked.Load(),
		Failed:     l.failed.Load(),
		Inflight:   len(l.slots),
		Connects:   l.connects.Load(),
		LastAckRTT: time.Duration(l.lastAckRTT.Load()),
	}
}

// Close waits up to timeout for the broker to acknowledge every published batch, replaces the
// retained status with an orderly "offline" (the last will is only sent on an unclean loss), and
// disconnects. It returns an error naming how many batches were left unacknowledged.
func (l *Link) Close(timeout time.Duration) error {
	var err error
	l.closeOnce.Do(func() {
		deadline := time.Now().Add(timeout)
		for len(l.slots) > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		left := len(l.slots)
		close(l.stop)
		close(l.queue)
		<-l.ackDone
		if l.client.IsConnected() {
			if off, e := l.statusPayload("offline", true); e == nil {
				tok := l.client.Publish(l.topics.Status, 1, true, off)
				if !tok.WaitTimeout(time.Until(deadline) + time.Second) {
					l.log.Warn("offline status not acknowledged before disconnect")
				}
			}
		}
		l.client.Disconnect(250)
		if left > 0 {
			err = fmt.Errorf("cloudsync: %d batches not acknowledged by the broker within %v", left, timeout)
		}
		l.log.Info("mqtt closed", zap.Uint64("published", l.published.Load()), zap.Uint64("acked", l.acked.Load()),
			zap.Int("unacked", left))
	})
	return err
}
