package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/cloudsync/tlsconf"
)

// Quarantine reasons (the reason column of wayside_quarantine).
const (
	ReasonUnknownGateway = "unknown_gateway" // the topic's gateway is not registered
	ReasonUnknownKey     = "unknown_key"     // signed by a key no gateway is registered with
	ReasonWrongGateway   = "wrong_gateway"   // signed by another gateway's key, or readings named for another gateway
	ReasonSignature      = "bad_signature"   // the signature does not verify
	ReasonBinding        = "binding"         // the signed seq or boot id differ from the pack's
	ReasonDecrypt        = "decrypt"         // sealed, but to an unknown city key, or tampered with
	ReasonNotSealed      = "not_sealed"      // keys.require_sealed and the batch is signed only
	ReasonUndecodable    = "undecodable"     // not a COSE batch, or not SenML-CBOR inside
	ReasonBadStatus      = "bad_status"      // a status message that is not a Wayside status
)

// Stats counts what an Ingest did since it started.
type Stats struct {
	Batches, Readings, Duplicates, Quarantined, Statuses, DBRetries int64
}

// Ingest consumes telemetry and statuses into PostgreSQL. Run it once.
type Ingest struct {
	cfg     Config
	log     *zap.Logger
	city    []cityopen.CityKey
	reg     atomic.Pointer[registry]
	pool    *pgxpool.Pool
	tls     *tlsconf.Loader // nil for a plain broker
	amqpTLS *tlsconf.Loader // nil without amqp.url, or for a plain amqp:// one

	batches, readings, duplicates, quarantined, statuses, dbRetries atomic.Int64

	// test seams
	dial         func(network, addr string) (net.Conn, error)
	afterCommit  func(gw string, seq uint64) (ack bool)
	subscribed   chan struct{} // closed once the telemetry subscription (or AMQP consumer) is in place
	lastMsg      atomic.Int64  // Unix ns of the last telemetry message received
	resubscribed atomic.Int64  // MQTT telemetry subscriptions renewed after a reconnection
	abortWork    func()        // rolls back the batches being written (set by Run)
}

// New checks cfg (after Defaults) and reads the key files.
func New(cfg Config, log *zap.Logger) (*Ingest, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest: config: %w", err)
	}
	in := &Ingest{cfg: cfg, log: log.Named("ingest"), dial: (&net.Dialer{Timeout: dialTimeout}).Dial, subscribed: make(chan struct{})}
	city, err := loadCityKeys(cfg.Keys.CityKeyFiles)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	in.city = city
	if tlsconf.IsTLS(cfg.MQTT.Broker) {
		t := cfg.MQTT.TLS
		if in.tls, err = tlsconf.New(tlsconf.Files{CA: t.CA, Cert: t.Cert, Key: t.Key, ServerName: t.ServerName,
			FieldPrefix: tlsFieldPrefix}, in.log); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
	}
	if u := cfg.AMQP.URL; strings.HasPrefix(u, "amqps:") {
		t := cfg.AMQP.TLS
		if in.amqpTLS, err = tlsconf.New(tlsconf.Files{CA: t.CA, Cert: t.Cert, Key: t.Key, ServerName: t.ServerName,
			FieldPrefix: amqpTLSFieldPrefix}, in.log); err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
	}
	if cfg.Keys.GatewaysFile != "" {
		b, err := os.ReadFile(cfg.Keys.GatewaysFile)
		if err != nil {
			return nil, fmt.Errorf("ingest: keys.gateways_file: %w", err)
		}
		keys, err := ParseGatewayKeys(string(b))
		if err != nil {
			return nil, fmt.Errorf("ingest: keys.gateways_file %s: %w", cfg.Keys.GatewaysFile, err)
		}
		if err := in.setKeys(keys); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Stats returns the counters.
func (in *Ingest) Stats() Stats {
	return Stats{Batches: in.batches.Load(), Readings: in.readings.Load(), Duplicates: in.duplicates.Load(),
		Quarantined: in.quarantined.Load(), Statuses: in.statuses.Load(), DBRetries: in.dbRetries.Load()}
}

// Subscribed is closed once Run's telemetry subscription is in place (for a caller that embeds the
// ingest and must not publish before it listens).
func (in *Ingest) Subscribed() <-chan struct{} { return in.subscribed }

// dialTimeout bounds a TCP connection attempt to the broker.
const dialTimeout = 10 * time.Second

// drainTimeout bounds how long Run waits, when its context ends, for batches being written.
const drainTimeout = 5 * time.Second

// Run connects to PostgreSQL and the broker and ingests until ctx ends. It returns an error only when
// it cannot start (database unreachable, schema refused, broker refusing the subscription or the
// queue); a broker it cannot connect to (down, or refusing its certificate or credentials) is retried
// and logged until it can or ctx ends, and after the start, failures are retried and logged.
func (in *Ingest) Run(ctx context.Context) error {
	pcfg, err := pgxpool.ParseConfig(in.cfg.Postgres.DSN)
	if err != nil {
		return fmt.Errorf("ingest: postgres.dsn: %w", err)
	}
	pcfg.MaxConns = in.cfg.Postgres.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("ingest: postgres: %w", err)
	}
	defer pool.Close()
	in.pool = pool
	if err := Migrate(ctx, pool); err != nil {
		return err
	}
	if in.cfg.Keys.GatewaysFile == "" {
		if err := in.loadKeyTable(ctx); err != nil {
			return err
		}
	}

	// Workers: the source hands each message over; a worker opens, writes, then acks.
	work := make(chan message)
	stop := make(chan struct{})
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	in.abortWork = cancelWork
	var wg sync.WaitGroup
	for range in.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case m := <-work:
					// With messages waiting, take up to batches_per_transaction of them: one
					// commit for several batches. Never waits for more.
					group := []message{m}
				fill:
					for len(group) < in.cfg.BatchesPerTx {
						select {
						case m := <-work:
							group = append(group, m)
						default:
							break fill
						}
					}
					in.process(workCtx, group)
				case <-stop:
					return
				}
			}
		}()
	}

	start, from, hint := in.startMQTT, zap.String("filter", in.TelemetryFilter()), in.silenceHintMQTT()
	if in.cfg.AMQP.URL != "" {
		start, from, hint = in.startAMQP, zap.String("queue", in.cfg.AMQP.Queue), in.silenceHintAMQP()
	}
	closeSource, err := start(ctx, work, stop)
	if closeSource == nil { // refused, or ctx ended before it started
		close(stop)
		wg.Wait()
		return err
	}
	in.lastMsg.Store(time.Now().UnixNano())
	close(in.subscribed)

	var side sync.WaitGroup
	side.Add(1)
	go func() { defer side.Done(); in.watchSilence(ctx, from, hint) }()
	side.Add(1)
	go func() { defer side.Done(); in.statusLoop(ctx) }()
	if in.cfg.Keys.GatewaysFile == "" {
		side.Add(1)
		go func() { defer side.Done(); in.refreshKeys(ctx) }()
	}

	<-ctx.Done()
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
		cancelWork() // the batches being written roll back and stay unacknowledged
		<-done
	}
	closeSource() // after the workers: their acks go out on its connection
	side.Wait()
	s := in.Stats()
	in.log.Info("stopped", zap.Int64("batches", s.Batches), zap.Int64("readings", s.Readings),
		zap.Int64("duplicates", s.Duplicates), zap.Int64("quarantined", s.Quarantined))
	return nil
}

// message is a telemetry message as a source hands it to the workers: paho's mqtt.Message, or an
// AMQP delivery (amqpDelivery). A worker calls Ack once, after the batch is committed or quarantined;
// a message never acknowledged is redelivered by the broker.
type message interface {
	Topic() string
	Payload() []byte
	Duplicate() bool // a redelivery: MQTT's DUP flag, AMQP's redelivered
	Ack()
}

// process opens a group of telemetry messages and writes them in one transaction, quarantining those
// it refuses, then acknowledges them. When ctx ends first, the messages not yet written stay
// unacknowledged.
func (in *Ingest) process(ctx context.Context, msgs []message) {
	var items []*item
	var acks []message
	arrived := time.Now().UnixMilli()
	for _, m := range msgs {
		topic, payload := m.Topic(), m.Payload()
		gw := in.gatewayOf(topic, "telemetry")
		reason, detail, b := in.open(gw, payload)
		var it *item
		if reason == "" {
			var err error
			if it, err = newItem(gw, b, arrived); err != nil {
				reason, detail = ReasonUndecodable, err.Error()
			}
		}
		if reason != "" {
			if in.retry(ctx, "quarantine", func() error { return quarantine(ctx, in.pool, topic, gw, reason, detail, payload) }) != nil {
				return
			}
			in.quarantined.Add(1)
			in.log.Warn("quarantined", zap.String("topic", topic), zap.String("reason", reason), zap.String("detail", detail))
			m.Ack()
			continue
		}
		items = append(items, it)
		acks = append(acks, m)
	}
	if len(items) == 0 {
		return
	}
	byItem := make(map[*item]message, len(items))
	for i, it := range items {
		byItem[it] = acks[i]
	}
	if in.retry(ctx, "write batches", func() error { return writeBatches(ctx, in.pool, items) }) != nil {
		return
	}
	for _, it := range items {
		b, m := it.b, byItem[it]
		if it.dup {
			in.duplicates.Add(1)
			if ce := in.log.Check(zap.DebugLevel, "duplicate batch"); ce != nil {
				ce.Write(zap.String("gateway", it.gw), zap.String("boot_id", b.BootID), zap.Uint64("seq", b.Seq), zap.Bool("redelivered", m.Duplicate()))
			}
		} else {
			if ce := in.log.Check(zap.DebugLevel, "batch written"); ce != nil {
				ce.Write(zap.String("gateway", it.gw), zap.String("boot_id", b.BootID), zap.Uint64("seq", b.Seq),
					zap.Int("readings", len(b.Pack.Readings)), zap.Bool("redelivered", m.Duplicate()))
			}
			in.batches.Add(1)
			in.readings.Add(int64(len(b.Pack.Readings)))
		}
		if in.afterCommit != nil && !in.afterCommit(it.gw, b.Seq) {
			continue
		}
		m.Ack()
	}
}

// open checks and opens a batch; a non-empty reason says why it is refused.
func (in *Ingest) open(gw string, payload []byte) (reason, detail string, b *cityopen.Batch) {
	reg := in.reg.Load()
	if gw == "" {
		return ReasonUndecodable, "topic is not <prefix>/<gateway>/telemetry", nil
	}
	if _, ok := reg.keys[gw]; !ok {
		return ReasonUnknownGateway, "gateway " + gw + " is not registered (keys.gateways_file or table wayside_gateway_keys)", nil
	}
	b, err := reg.opener.Open(payload)
	switch {
	case err == nil:
	case errors.Is(err, cityopen.ErrUnknownKey):
		return ReasonUnknownKey, err.Error(), nil
	case errors.Is(err, cityopen.ErrSignature):
		return ReasonSignature, err.Error(), nil
	case errors.Is(err, cityopen.ErrBinding):
		return ReasonBinding, err.Error(), nil
	case errors.Is(err, cityopen.ErrDecrypt):
		return ReasonDecrypt, err.Error(), nil
	case errors.Is(err, cityopen.ErrSealRequired):
		return ReasonNotSealed, err.Error(), nil
	default:
		return ReasonUndecodable, err.Error(), nil
	}
	if owner := reg.byKID[string(b.GatewayKID)]; owner != gw {
		return ReasonWrongGateway, fmt.Sprintf("signed with the key of gateway %s, published on the topic of %s", owner, gw), nil
	}
	if len(b.Pack.Readings) == 0 {
		return ReasonUndecodable, "no readings", nil
	}
	for _, r := range b.Pack.Readings {
		if !strings.HasPrefix(r.Name, gw+"/") || len(r.Name) == len(gw)+1 {
			return ReasonWrongGateway, fmt.Sprintf("reading named %q in a batch of %s", r.Name, gw), nil
		}
	}
	return "", "", b
}

// retry runs f until it succeeds or ctx ends, with backoff; database errors are logged once per
// outage, not per attempt.
func (in *Ingest) retry(ctx context.Context, what string, f func() error) error {
	delay := 100 * time.Millisecond
	failed := false
	for {
		err := f()
		if err == nil {
			if failed {
				in.log.Info("database back", zap.String("step", what))
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !failed {
			in.log.Warn("database error, retrying; the message stays unacknowledged", zap.String("step", what), zap.Error(err))
			failed = true
		}
		in.dbRetries.Add(1)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		delay = min(2*delay, 5*time.Second)
	}
}
