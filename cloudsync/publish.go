package cloudsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
)

// inflight bounds and orders the batches awaiting their PUBACK: Publish takes a slot and queues the
// batch, trackAcks frees the slot when the broker acknowledged it.
type inflight struct {
	slots chan struct{} // one per batch in flight
	queue chan pending  // published batches in order, for trackAcks
	done  chan struct{} // closed when trackAcks returns
}

type pending struct {
	seq     uint64
	tok     mqtt.Token
	sent    time.Time
	resumes uint64 // l.gate.resumes when published
}

// ErrUnconfirmed is the result of a batch whose token completed across a reconnect: paho v1.5.1's
// resume replaces the tokens of stored publishes and completes the old ones without an error, with
// no PUBACK seen. Such a batch is offered again (the cloud de-duplicates on its sequence number).
var ErrUnconfirmed = errors.New("cloudsync: delivery not confirmed across a reconnect")

// Publish hands one encoded batch to the MQTT client at QoS 1; payload is copied. It blocks while
// MaxInflight batches await acknowledgement, until one is acknowledged or ctx ends.
func (l *Link) Publish(ctx context.Context, seq uint64, payload []byte) error {
	select {
	case l.acks.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("cloudsync: publish batch %d: %w", seq, ctx.Err())
	}
	body := make([]byte, len(payload)) // paho keeps the slice until the PUBACK; ours is reused
	copy(body, payload)
	resumes := l.gate.resumes.Load() // before Publish: a resume while it blocks must mark the batch unconfirmed
	tok := l.client.Publish(l.topics.Telemetry, 1, false, body)
	l.count.published.Add(1)
	l.acks.queue <- pending{seq: seq, tok: tok, sent: time.Now(), resumes: resumes} // never blocks: slots bound the queue
	return nil
}

// trackAcks waits for the tokens in publish order and frees a slot for each.
func (l *Link) trackAcks() {
	defer close(l.acks.done)
	for p := range l.acks.queue {
		select {
		case <-p.tok.Done():
		case <-l.stop:
			<-l.acks.slots
			continue
		}
		err := p.tok.Error()
		if err == nil && l.gate.resumes.Load() != p.resumes {
			err = ErrUnconfirmed
		}
		if err != nil {
			l.count.failed.Add(1)
			l.log.Warn("batch publish failed; it stays spooled", zap.Uint64("seq", p.seq), zap.Error(err))
		} else {
			l.count.acked.Add(1)
			l.count.lastAckRTT.Store(int64(time.Since(p.sent)))
		}
		if l.opts.OnResult != nil {
			l.opts.OnResult(p.seq, err)
		}
		<-l.acks.slots
	}
}
