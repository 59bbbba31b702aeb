package sensor

import (
	"fmt"
	"testing"
	"time"
)

func TestHealthStates(t *testing.T) {
	h := &Health{FailAfter: 3, MaxBackoff: time.Minute}
	at := time.Unix(1000, 0)
	step := func(err error, wantFrom, wantTo State) {
		t.Helper()
		from, to := h.Record(err, at)
		if from != wantFrom || to != wantTo {
			t.Fatalf("Record(%v): %v -> %v, want %v -> %v", err, from, to, wantFrom, wantTo)
		}
	}
	step(nil, StateOK, StateOK)
	step(fmt.Errorf("x: %w", ErrNoData), StateOK, StateOK) // no data is not a fault
	step(fmt.Errorf("sht4x: read: %w", ErrCRC), StateOK, StateDegraded)
	step(fmt.Errorf("sht4x: read: %w", ErrBus), StateDegraded, StateDegraded)
	if d := h.Backoff(time.Second); d != time.Second {
		t.Fatalf("degraded backoff %v, want the interval", d)
	}
	step(fmt.Errorf("sht4x: read: %w", ErrTimeout), StateDegraded, StateFailing)
	if d := h.Backoff(time.Second); d != 2*time.Second {
		t.Fatalf("first failing backoff %v, want 2s", d)
	}
	for i := 0; i < 10; i++ {
		h.Record(fmt.Errorf("boom"), at)
	}
	if d := h.Backoff(time.Second); d != time.Minute {
		t.Fatalf("backoff %v, want the 1m cap", d)
	}
	s := h.Snapshot()
	if s.Reads != 15 || s.Good != 1 || s.NoData != 1 || s.Errors != 13 || s.ErrorsByKind[2] != 1 ||
		s.ErrorsByKind[len(ErrorKindNames)-1] != 10 || s.LastError != "boom" || s.State != StateFailing {
		t.Fatalf("snapshot %+v", s)
	}
	step(nil, StateFailing, StateOK)
	if d := h.Backoff(time.Second); d != time.Second {
		t.Fatalf("recovered backoff %v", d)
	}
}

func TestKind(t *testing.T) {
	if Kind(fmt.Errorf("a: %w", ErrStuck)) != ErrStuck || Kind(fmt.Errorf("plain")) != nil {
		t.Fatal("Kind misclassifies")
	}
}

// TestKindNames pins the kind names: the local API's JSON (errors_by_kind, an error's kind) carries
// them, and the CLI and scripts read them.
func TestKindNames(t *testing.T) {
	want := [...]string{"bus", "timeout", "crc", "frame", "range", "stuck", "exception", "other"}
	if ErrorKindNames != want {
		t.Fatalf("ErrorKindNames %q, want %q", ErrorKindNames, want)
	}
	for err, name := range map[error]string{ErrBus: "bus", ErrTimeout: "timeout", ErrCRC: "crc", ErrFrame: "frame",
		ErrRange: "range", ErrStuck: "stuck", ErrException: "exception", ErrNoData: "no-data", fmt.Errorf("plain"): "other"} {
		if got := KindName(fmt.Errorf("x: %w", err)); got != name {
			t.Errorf("KindName(%v) = %q, want %q", err, got, name)
		}
	}
}
