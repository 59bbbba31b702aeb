package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
)

// The AMQP side (amqp.url): telemetry from one durable quorum queue on RabbitMQ that every instance
// consumes, bound to the exchange the MQTT plugin publishes the gateways' messages to. The broker
// hands each message to one consumer and takes back, when a consumer's channel closes, whatever it
// had not acknowledged: the load sharing that RabbitMQ 3.10's MQTT plugin does not offer with $share.
// amqp091-go reconnects only with its Config.Recovery, experimental in v1.17.0, which reopens a
// *Channel in place with delivery tags starting again at 1, while a delivery acks through its
// *Channel (no guard against a stale tag found in its channel.go): an ack of a delivery of the dead
// channel could land on a new one. So here a lost connection is replaced by a new one, on which the
// queue is declared and consumed again, and acks of the old deliveries fail harmlessly.

// amqpHandshake bounds the TLS and AMQP handshakes of a connection attempt (the library clears the
// deadline once the connection is open; heartbeats watch it from then on).
const amqpHandshake = 15 * time.Second

// amqpDelivery is an AMQP delivery as a message; its topic is the MQTT topic the gateway published to,
// from the routing key (topicOf).
type amqpDelivery struct {
	d     amqp.Delivery
	topic string
	log   *zap.Logger
}

func (m *amqpDelivery) Topic() string   { return m.topic }
func (m *amqpDelivery) Payload() []byte { return m.d.Body }
func (m *amqpDelivery) Duplicate() bool { return m.d.Redelivered }

// Ack acknowledges on the channel the delivery came on. When that channel has closed since, the
// broker has already put the message back in the queue: its redelivery is a duplicate the database
// skips.
func (m *amqpDelivery) Ack() {
	if err := m.d.Ack(false); err != nil {
		if ce := m.log.Check(zap.DebugLevel, "amqp ack after the channel closed; the broker redelivers it"); ce != nil {
			ce.Write(zap.String("routing_key", m.d.RoutingKey), zap.Error(err))
		}
	}
}

// amqpSession is one connection consuming the queue on one channel.
type amqpSession struct {
	conn       *amqp.Connection
	deliveries <-chan amqp.Delivery
	connClosed <-chan *amqp.Error
	chClosed   <-chan *amqp.Error
}

// amqpRefusal is the broker refusing the queue's set-up (a queue of the name with other arguments, no
// permission): retrying does not help until someone acts.
type amqpRefusal struct{ err error }

func (r *amqpRefusal) Error() string { return r.err.Error() }
func (r *amqpRefusal) Unwrap() error { return r.err }

// startAMQP opens the first session, retrying until the broker accepts the connection or ctx ends,
// then consumes in the background, reconnecting after a loss, and hands each delivery to work (or
// leaves it unacknowledged once stop is closed). It returns the function that ends the session (to
// call once the workers are done: their acknowledgements go out on its channel), or nil when ctx ended
// first or the broker refused the queue (err).
func (in *Ingest) startAMQP(ctx context.Context, work chan<- message, stop <-chan struct{}) (closeFn func(), err error) {
	a := in.cfg.AMQP
	var s *amqpSession
	delay := connectBackoff
	for attempt := 1; s == nil; attempt++ {
		if s, err = in.amqpOpen(); err != nil {
			if errors.As(err, new(*amqpRefusal)) {
				return nil, err
			}
			in.log.Warn("cannot connect to the AMQP broker, retrying", zap.String("amqp", redactedURL(a.URL)),
				zap.Int("attempt", attempt), zap.Duration("retry_in", delay), zap.Error(err))
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return nil, nil
			}
			delay = min(2*delay, connectBackoffMax)
		}
	}
	in.log.Info("consuming", zap.String("amqp", redactedURL(a.URL)), zap.String("queue", a.Queue),
		zap.String("exchange", a.Exchange), zap.String("routing_key", in.RoutingKey()),
		zap.Int("prefetch", a.Prefetch), zap.Int("workers", in.cfg.Workers))
	drained, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for s != nil {
			err := in.amqpPump(s, work, stop)
			if err == nil { // stopping: the workers still acknowledge on this connection
				<-drained
				s.conn.Close()
				return
			}
			s.conn.Close()
			in.log.Warn("amqp connection lost, reconnecting; its unacknowledged deliveries go back to the queue",
				zap.String("amqp", redactedURL(a.URL)), zap.Error(err))
			s = in.amqpReconnect(ctx)
		}
	}()
	return func() { close(drained); <-done }, nil
}

// amqpPump hands the session's deliveries to work until stop is closed (it returns nil) or the
// session ends (it returns why).
func (in *Ingest) amqpPump(s *amqpSession, work chan<- message, stop <-chan struct{}) error {
	for {
		select {
		case d, ok := <-s.deliveries:
			if !ok {
				select {
				case e := <-s.chClosed:
					return closeReason("channel", e)
				case e := <-s.connClosed:
					return closeReason("connection", e)
				default:
					return errors.New("the broker cancelled the consumer (the queue deleted?)")
				}
			}
			in.lastMsg.Store(time.Now().UnixNano())
			select {
			case work <- &amqpDelivery{d: d, topic: in.topicOf(d.RoutingKey), log: in.log}:
			case <-stop:
				return nil // not acknowledged: back to the queue when the channel closes
			}
		case e := <-s.chClosed:
			return closeReason("channel", e)
		case e := <-s.connClosed:
			return closeReason("connection", e)
		case <-stop:
			return nil
		}
	}
}

func closeReason(what string, e *amqp.Error) error {
	if e == nil {
		return fmt.Errorf("%s closed", what)
	}
	return fmt.Errorf("%s closed: %w", what, e)
}

// amqpReconnect opens a new session, with backoff (1 s doubling to 10 s), until one opens (it logs
// that) or ctx ends (nil). Failed attempts of one outage are logged once.
func (in *Ingest) amqpReconnect(ctx context.Context) *amqpSession {
	delay, since := connectBackoff, time.Now()
	for attempt := 1; ; attempt++ {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil
		}
		s, err := in.amqpOpen()
		if err == nil {
			in.log.Info("amqp reconnected, consuming", zap.String("queue", in.cfg.AMQP.Queue),
				zap.Int("attempts", attempt), zap.Duration("after", time.Since(since).Round(time.Millisecond)))
			return s
		}
		if attempt == 1 {
			in.log.Warn("cannot reconnect to the AMQP broker yet, retrying every 1 s to 10 s", zap.Error(err))
		} else if ce := in.log.Check(zap.DebugLevel, "amqp reconnect failed"); ce != nil {
			ce.Write(zap.Int("attempt", attempt), zap.Error(err))
		}
		delay = min(2*delay, connectBackoffMax)
	}
}

// amqpOpen connects, declares the queue (durable, quorum) and its binding, sets the prefetch and
// starts consuming with manual acknowledgement. Errors from the broker refusing the set-up are
// *amqpRefusal.
func (in *Ingest) amqpOpen() (*amqpSession, error) {
	a := in.cfg.AMQP
	u, err := url.Parse(a.URL)
	if err != nil { // Validate parsed it
		return nil, &amqpRefusal{errors.New("ingest: amqp.url is not a URL")}
	}
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(in.cfg.MQTT.ClientID)
	cfg := amqp.Config{Properties: props, Heartbeat: 10 * time.Second,
		Dial: func(network, addr string) (net.Conn, error) {
			c, err := in.dial(network, addr)
			if err != nil {
				return nil, err
			}
			if err := c.SetDeadline(time.Now().Add(amqpHandshake)); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		}}
	if in.amqpTLS != nil {
		cfg.TLSClientConfig = in.amqpTLS.ForBroker(u) // the files are read again at each attempt
	}
	if a.PasswordFile != "" {
		b, err := os.ReadFile(a.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("ingest: amqp.password_file: %w", err)
		}
		cfg.SASL = []amqp.Authentication{&amqp.PlainAuth{Username: u.User.Username(), Password: strings.TrimSpace(string(b))}}
	}
	conn, err := amqp.DialConfig(a.URL, cfg)
	if err != nil {
		return nil, fmt.Errorf("ingest: amqp: dial %s: %w", u.Redacted(), err)
	}
	s := &amqpSession{conn: conn, connClosed: conn.NotifyClose(make(chan *amqp.Error, 1))}
	fail := func(step string, err error) (*amqpSession, error) {
		conn.Close()
		var ae *amqp.Error
		if !errors.As(err, &ae) || !ae.Server {
			return nil, fmt.Errorf("ingest: amqp: %s: %w", step, err)
		}
		return nil, &amqpRefusal{fmt.Errorf("ingest: amqp: %s: %w: %s", step, err, refusalFix(a, ae.Code))}
	}
	ch, err := conn.Channel()
	if err != nil {
		return fail("open a channel", err)
	}
	s.chClosed = ch.NotifyClose(make(chan *amqp.Error, 1))
	if _, err := ch.QueueDeclare(a.Queue, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		return fail("declare queue "+a.Queue, err)
	}
	if err := ch.QueueBind(a.Queue, in.RoutingKey(), a.Exchange, false, nil); err != nil {
		return fail(fmt.Sprintf("bind queue %s to exchange %s with %s", a.Queue, a.Exchange, in.RoutingKey()), err)
	}
	if err := ch.Qos(a.Prefetch, 0, false); err != nil {
		return fail("set the prefetch", err)
	}
	// The consumer tag is the client id, as the broker's consumer list shows it.
	if s.deliveries, err = ch.Consume(a.Queue, in.cfg.MQTT.ClientID, false, false, false, false, nil); err != nil {
		return fail("consume "+a.Queue, err)
	}
	return s, nil
}

// silenceHintAMQP is what to check when the queue receives nothing.
func (in *Ingest) silenceHintAMQP() string {
	return fmt.Sprintf("check the gateways, and that the MQTT plugin publishes to exchange %s (its mqtt.exchange) under routing keys %s (mqtt.topic_prefix %s): queue %s gets only those",
		in.cfg.AMQP.Exchange, in.RoutingKey(), in.cfg.MQTT.TopicPrefix, in.cfg.AMQP.Queue)
}

// refusalFix says what to do when the broker refuses the queue's set-up with code.
func refusalFix(a AMQPConfig, code int) string {
	switch code {
	case amqp.PreconditionFailed:
		return fmt.Sprintf("a queue %s exists with other arguments (a classic queue?): delete it once it is drained (rabbitmqctl delete_queue %s) or give another amqp.queue", a.Queue, a.Queue)
	case amqp.AccessRefused:
		q, x := regexp.QuoteMeta(a.Queue), regexp.QuoteMeta(a.Exchange)
		return fmt.Sprintf("give the user configure and write on the queue and read on the queue and the exchange, e.g. rabbitmqctl set_permissions -p VHOST USER '^%s$' '^%s$' '^(%s|%s)$'", q, q, q, x)
	case amqp.NotFound:
		return fmt.Sprintf("amqp.exchange %s does not exist: give the exchange the MQTT plugin publishes to (its mqtt.exchange, default amq.topic)", a.Exchange)
	}
	return "see the broker's log"
}
