package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
)

// TestReplayRateAfterOutage: the backlog an outage leaves while the gateway runs is replayed at
// spool.replay_rate after the reconnect, with live batches going first, as after a restart. The bug
// (issue #15, item 3): the live mark stood still while the link was down, so the whole backlog counted
// as live and went at full speed (1280 batches in 0.48 s against 20/s), live data waiting behind it.
func TestReplayRateAfterOutage(t *testing.T) {
	const rate = 10 // backlog batches per second
	broker := testbroker.Start(t, testbroker.Persistent(t.TempDir()))
	body := fmt.Sprintf(simConfig, broker.URL, t.TempDir())
	for old, repl := range map[string]string{
		"batch: {max_readings: 50, max_age: 200ms}": "batch: {max_readings: 20, max_age: 200ms}",
		"spool: {dir: ":     fmt.Sprintf("spool: {replay_rate: %d, dir: ", rate),
		"max_inflight: 16}": "max_inflight: 16, reconnect: {min: 100ms, max: 300ms}}",
	} {
		if !strings.Contains(body, old) {
			t.Fatalf("simConfig lacks %q", old)
		}
		body = strings.Replace(body, old, repl, 1)
	}
	cfg := parseConfig(t, body)
	sub := subscribe(t, broker.URL, cfg.Gateway.ID)
	g := newGateway(t, gateway.Options{Config: cfg, Version: "it", DrainTimeout: 2 * time.Second})
	stop := goRun(t, g)

	time.Sleep(1500 * time.Millisecond) // live, connected
	broker.StopGraceful()
	time.Sleep(2500 * time.Millisecond) // the outage: about 20 batches a second pile up
	got, _ := sub.snapshot()
	before := len(got)
	received := map[uint64]bool{}
	for _, p := range got {
		received[seqOf(t, cfg.Spool.Dir, p)] = true
	}
	// A fresh state directory: sequence numbers start at 1, so the newest spooled batch is Batches.
	lastOutage := g.Stats().Batches
	var backlog []uint64
	for seq := uint64(1); seq <= lastOutage; seq++ {
		if !received[seq] {
			backlog = append(backlog, seq)
		}
	}
	if len(backlog) < 20 {
		t.Fatalf("only %d batches piled up in the outage", len(backlog))
	}
	broker.Restart()
	want := time.Duration(len(backlog)) * time.Second / rate
	deadline := time.Now().Add(want + 15*time.Second)
	for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got, _ = sub.snapshot()
		n := 0
		for _, p := range got[before:] {
			if s := seqOf(t, cfg.Spool.Dir, p); s <= lastOutage && !received[s] {
				n++
			}
		}
		if n >= len(backlog) {
			break
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	sub.mu.Lock()
	got, arrived := sub.telemetry[before:], sub.arrived[before:]
	sub.mu.Unlock()

	var first, last time.Time
	var backlogBeforeLive, live int
	seen := map[uint64]bool{}
	for i, p := range got {
		s := seqOf(t, cfg.Spool.Dir, p)
		switch {
		case s > lastOutage:
			live++
		case !received[s] && !seen[s]:
			seen[s] = true
			if live == 0 {
				backlogBeforeLive++
			}
			if first.IsZero() {
				first = arrived[i]
			}
			last = arrived[i]
		}
	}
	span := last.Sub(first)
	t.Logf("outage backlog %d batches at replay_rate %d/s: delivered %d over %v (paced: at least %v); %d backlog batches before the first live one; %d live",
		len(backlog), rate, len(seen), span.Round(time.Millisecond), want, backlogBeforeLive, live)
	if len(seen) != len(backlog) {
		t.Fatalf("%d of %d backlog batches delivered", len(seen), len(backlog))
	}
	// Paced: n batches at rate per second take at least (n-1)/rate from the first to the last, less a
	// margin for batches the broker or the subscriber queued; at full speed they came in under a second.
	if min := time.Duration(len(backlog)-1) * time.Second / rate / 2; span < min {
		t.Errorf("the backlog arrived within %v, want it paced over at least %v", span, min)
	}
	// Live first: at most a replay slot or two go before the first live batch after the reconnect.
	if backlogBeforeLive > 3 {
		t.Errorf("%d backlog batches arrived before the first live batch", backlogBeforeLive)
	}
}

func seqOf(t *testing.T, stateDir string, payload []byte) uint64 {
	t.Helper()
	return openBatch(t, stateDir, payload).Seq
}
