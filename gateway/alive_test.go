package gateway

import (
	"strings"
	"testing"
	"time"
)

// TestAlive checks the watchdog's view of progress: fresh heartbeats pass; a loop that stopped turning
// and a sensor read hung in its driver are each named.
func TestAlive(t *testing.T) {
	s := &sensorState{name: "env1"}
	g := &Gateway{sensors: []*sensorState{s}}
	if err := g.Alive(time.Second); err != nil {
		t.Fatalf("before Run: %v", err)
	}
	now := time.Now().UnixNano()
	g.batcherBeat.Store(now)
	g.senderBeat.Store(now)
	if err := g.Alive(time.Second); err != nil {
		t.Fatalf("fresh heartbeats: %v", err)
	}
	g.senderBeat.Store(now - int64(5*time.Second))
	err := g.Alive(time.Second)
	if err == nil || !strings.Contains(err.Error(), "sender has not turned") || strings.Contains(err.Error(), "batcher") {
		t.Fatalf("stale sender: got %v", err)
	}
	g.senderBeat.Store(now)
	s.sampling.Store(now - int64(3*time.Second))
	if err := g.Alive(time.Second); err == nil || !strings.Contains(err.Error(), "sensor env1 stuck") {
		t.Fatalf("hung sensor: got %v", err)
	}
	s.sampling.Store(now - int64(100*time.Millisecond)) // a slow read, not a hung one
	if err := g.Alive(time.Second); err != nil {
		t.Fatalf("slow read: %v", err)
	}
}
