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

// TestStateDirLock: a second gateway on the same state directory is refused with a message naming
// the directory, and gets it once the first has let go.
func TestStateDirLock(t *testing.T) {
	dir := t.TempDir()
	first, err := lockStateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockStateDir(dir); err == nil || !strings.Contains(err.Error(), "in use by another waysided") ||
		!strings.Contains(err.Error(), dir) {
		t.Fatalf("second lock: %v", err)
	}
	first.Close()
	again, err := lockStateDir(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.Close()
}
