package cloudsync

import (
	"crypto/tls"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
)

// connection is the connection loop's state; Stats and the status message read it.
type connection struct {
	lost     chan error    // connection losses, for the connection loop
	broker   atomic.Value  // string: the broker of the current or last attempt
	state    atomic.Value  // string: connecting, connected, backoff, takeover-hold, closed
	nextTry  atomic.Int64  // unix ns of the next connection attempt while backing off
	takeover atomic.Bool   // holding off after a takeover loop
	rng      *rand.Rand    // the connection loop's jitter
	done     chan struct{} // closed when connectLoop returns
}

// onAttempt runs before each connection attempt to one broker: it records the broker and builds
// that attempt's TLS configuration (certificate files are re-read when they change).
func (l *Link) onAttempt(b *url.URL, tc *tls.Config) *tls.Config {
	l.conn.broker.Store(b.String())
	l.count.lastTry.Store(time.Now().UnixNano())
	l.count.attempts.Add(1)
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
	defer close(l.conn.done)
	failures := 0
	lost := false // a connection has been lost: backoffs start from ReconnectSpread
	var short shortSessions
	for !l.closing() {
		completed, err := l.connectRound()
		if !completed && l.closing() {
			return
		}
		if err != nil || !l.client.IsConnectionOpen() {
			failures++
			l.log.Warn("mqtt connect failed on every broker", zap.Strings("brokers", l.opts.Brokers), zap.Error(err),
				zap.Int("failures_in_a_row", failures))
			// A connection the broker accepted and closed at once (no error) proves nothing either way.
			if !completed || err != nil {
				l.restartNotTakeover(&short, err)
			}
		} else {
			began := time.Now()
			failures = 0
			end, lostErr := l.waitSession()
			switch end {
			case sessionClosing:
				return
			case sessionRenewed:
				continue // at once, with fresh credentials
			}
			lost = true
			now := time.Now()
			if short.ended(l.opts.Takeover, began, now) {
				if l.holdForTakeover(&short, now, lostErr) {
					return
				}
				continue
			}
		}
		if l.sleep(l.backoff(failures, lost), "backoff") {
			return
		}
	}
}

// closing tells whether Close has begun.
func (l *Link) closing() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// connectRound makes one connection round: paho tries each broker in order within one Connect. It
// returns whether the round completed in time, and the round's error.
func (l *Link) connectRound() (completed bool, err error) {
	l.conn.state.Store("connecting")
	// paho refuses Connect until it has finished tearing down the previous connection.
	for i := 0; i < 200 && l.client.IsConnected(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	for len(l.conn.lost) > 0 { // losses of earlier connections, reported late
		<-l.conn.lost
	}
	tok := l.client.Connect()
	// Bound the whole round.
	round := time.Duration(len(l.opts.Brokers))*(l.opts.ConnectTimeout+2*time.Second) + 5*time.Second
	completed = waitToken(tok, round, l.stop)
	if !completed && !l.closing() {
		l.log.Error("mqtt connect did not complete; trying again", zap.Duration("waited", round))
	}
	return completed, tok.Error()
}

// sessionEnd is why waitSession returned.
type sessionEnd int

const (
	sessionLost    sessionEnd = iota // the connection was lost
	sessionRenewed                   // the link disconnected to reconnect with fresh credentials
	sessionClosing                   // Close has begun
)

// waitSession waits while the connection that just came up lasts; on a loss it returns the loss's
// error.
func (l *Link) waitSession() (sessionEnd, error) {
	var renew <-chan time.Time
	if l.opts.CredentialsTTL > 0 {
		renew = time.After(l.opts.CredentialsTTL * 9 / 10)
	}
	for {
		select {
		case err := <-l.conn.lost:
			if l.client.IsConnectionOpen() {
				continue // the loss of an earlier connection, reported after this one came up
			}
			return sessionLost, err
		case <-renew:
			// Leave before the platform drops us for an expired token (which would fire the
			// last will); the caller reconnects at once with fresh credentials.
			l.log.Info("mqtt credentials about to expire: reconnecting with fresh ones",
				zap.Duration("ttl", l.opts.CredentialsTTL))
			l.gate.resumed.Store(false)
			l.client.Disconnect(250)
			return sessionRenewed, nil
		case <-l.stop:
			return sessionClosing, nil
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
	return FullJitter(l.conn.rng, base, l.opts.ReconnectMax, failures)
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
	l.conn.state.Store(state)
	l.conn.nextTry.Store(time.Now().Add(d).UnixNano())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		l.conn.nextTry.Store(0)
		return false
	case <-l.stop:
		return true
	}
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

func (l *Link) onConnect(c mqtt.Client) {
	l.count.connects.Add(1)
	l.conn.state.Store("connected")
	broker := l.conn.broker.Load().(string)
	l.log.Info("mqtt connected", zap.String("broker", broker), zap.String("client_id", l.opts.ClientID),
		zap.Uint64("connects", l.count.connects.Load()))
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

func (l *Link) onLost(c mqtt.Client, err error) {
	if !c.IsConnectionOpen() { // not a newer connection already up and resumed
		l.gate.resumed.Store(false)
	}
	l.log.Warn("mqtt disconnected", zap.String("broker", l.conn.broker.Load().(string)), zap.Error(err),
		zap.Int("inflight", len(l.acks.slots)))
	select {
	case l.conn.lost <- err:
	default:
	}
}
