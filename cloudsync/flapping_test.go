//go:build !race

// The race detector is off for this file: under this fault paho v1.5.1 itself races (its resume sets
// the DUP flag of a stored PUBLISH while the new connection's writer is still writing a copy queued
// before the drop; client.go:1114 against packets.go:267). That is paho's, not ours, and cannot be
// gated from outside; make test runs this test without -race.

package cloudsync_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wayside-iot/wayside/cloudsync"
)

// fakeBroker never sends a PUBACK. Connections alternate: a "normal" one (kept open until kill) and,
// after each kill, one "flash" connection (CONNACK then close at once).
type fakeBroker struct {
	ln       net.Listener
	mu       sync.Mutex
	cur      net.Conn
	flashes  atomic.Int32 // flash connections still to serve
	gotPub   chan uint16
	accepted atomic.Int32
}

func (b *fakeBroker) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.accepted.Add(1)
		go b.handle(c)
	}
}

func (b *fakeBroker) handle(c net.Conn) {
	p, err := packets.ReadPacket(c)
	if err != nil {
		c.Close()
		return
	}
	if _, ok := p.(*packets.ConnectPacket); !ok {
		c.Close()
		return
	}
	ack := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
	ack.SessionPresent = true
	if b.flashes.Load() > 0 {
		b.flashes.Add(-1)
		ack.Write(c)
		c.Close()
		return
	}
	ack.Write(c)
	b.mu.Lock()
	b.cur = c
	b.mu.Unlock()
	for {
		p, err := packets.ReadPacket(c)
		if err != nil {
			c.Close()
			return
		}
		switch m := p.(type) {
		case *packets.PingreqPacket:
			packets.NewControlPacket(packets.Pingresp).Write(c)
		case *packets.PublishPacket:
			if strings.HasSuffix(m.TopicName, "telemetry") {
				select {
				case b.gotPub <- m.MessageID:
				default:
				}
			}
		case *packets.DisconnectPacket:
			c.Close()
			return
		}
	}
}

func (b *fakeBroker) kill(flash int32) {
	b.flashes.Store(flash)
	b.mu.Lock()
	if b.cur != nil {
		b.cur.Close()
		b.cur = nil
	}
	b.mu.Unlock()
}

// TestFlappingConnection drops the connection right after each publish and lets one connection in
// and out at once after every drop, while the broker never acknowledges: no batch may be reported
// acknowledged, and the connection loop must stay in step with paho (no Connect on a connected
// client). The fault (withheld PUBACKs, connections closed right after CONNACK) is one a real broker
// cannot be made to produce, hence this scripted one on a loopback socket speaking paho's own packets.
func TestFlappingConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fb := &fakeBroker{ln: ln, gotPub: make(chan uint16, 16)}
	go fb.serve()
	core, obs := observer.New(zapcore.WarnLevel)
	var mu sync.Mutex
	var nilAcks, errs []uint64
	l, err := cloudsync.New(cloudsync.Options{Brokers: []string{"tcp://" + ln.Addr().String()}, ClientID: "rv", GatewayID: "rv",
		TopicPrefix: "wayside/v1", KeepAlive: 30 * time.Second, MaxInflight: 256, ReconnectMin: 5 * time.Millisecond,
		ReconnectMax: 20 * time.Millisecond, ConnectTimeout: 2 * time.Second, Log: zap.New(core),
		Takeover: cloudsync.TakeoverPolicy{Count: 1000},
		OnResult: func(seq uint64, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				nilAcks = append(nilAcks, seq)
			} else {
				errs = append(errs, seq)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	defer l.Close(100 * time.Millisecond)
	iters := 0
	for seq := uint64(1); seq <= 150; seq++ {
		deadline := time.Now().Add(10 * time.Second)
		for !l.Connected() {
			if time.Now().After(deadline) {
				t.Logf("seq %d: not connected after 10s; state %s", seq, l.Stats().State)
				goto out
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err := l.Publish(context.Background(), seq, []byte{byte(seq)}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-fb.gotPub:
		case <-time.After(2 * time.Second):
			continue
		}
		fb.kill(1)
		iters++
		time.Sleep(20 * time.Millisecond)
	}
out:
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	t.Logf("iterations %d, accepted conns %d, results with nil error (no PUBACK ever sent): %v; errors: %d",
		iters, fb.accepted.Load(), nilAcks, len(errs))
	mu.Unlock()
	already := 0
	for _, e := range obs.All() {
		for _, f := range e.Context {
			if f.Type == zapcore.ErrorType && strings.Contains(f.Interface.(error).Error(), "already connected") {
				already++
			}
		}
	}
	t.Logf("connect-loop attempts that found paho already connected: %d; state now %s, paho-connected %v",
		already, l.Stats().State, l.Connected())
	if len(nilAcks) > 0 {
		t.Errorf("batches acked without PUBACK: %v", nilAcks)
	}
	if already > 0 {
		t.Errorf("the connect loop fell out of step with paho: %d attempts on a connected client", already)
	}
}
