package cloudsync_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
)

// TestFullJitter checks the backoff's bounds and spread: every wait lies in [0, min(hi, lo*2^n)], and
// the waits of one step are spread over that range (a fixed or narrow delay would reconnect a whole
// city's gateways in the same instant).
func TestFullJitter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lo, hi := 100*time.Millisecond, 5*time.Second
	for n := 0; n < 70; n++ {
		ceil := hi
		if n < 6 {
			ceil = lo << n
		}
		var sum time.Duration
		var minD, maxD = ceil, time.Duration(0)
		const samples = 2000
		for i := 0; i < samples; i++ {
			d := cloudsync.FullJitter(r, lo, hi, n)
			if d < 0 || d > ceil {
				t.Fatalf("n=%d: wait %v outside [0, %v]", n, d, ceil)
			}
			sum += d
			minD, maxD = min(minD, d), max(maxD, d)
		}
		mean := sum / samples
		if mean < ceil*4/10 || mean > ceil*6/10 || minD > ceil/10 || maxD < ceil*9/10 {
			t.Errorf("n=%d: waits not spread over [0, %v]: mean %v, min %v, max %v", n, ceil, mean, minD, maxD)
		}
	}
}

// TestReconnectSpread restarts the broker under 16 connected links whose ReconnectMin is 20 ms and
// ReconnectSpread 2 s: right after the loss each link waits a random time in [0, 2 s], so they come back
// spread over that window (with ReconnectMin alone all of them would be back within a few tens of
// milliseconds, and a city's gateways in the same second). Attempts counts every try.
func TestReconnectSpread(t *testing.T) {
	broker := testbroker.Start(t)
	const n = 16
	spread := 2 * time.Second
	links := make([]*cloudsync.Link, n)
	for i := range links {
		id := "spread-" + string(rune('a'+i))
		l, err := cloudsync.New(cloudsync.Options{Brokers: []string{broker.URL}, ClientID: id, GatewayID: id,
			TopicPrefix: "wayside/v1", KeepAlive: 5 * time.Second, ReconnectMin: 20 * time.Millisecond,
			ReconnectSpread: spread, ReconnectMax: 4 * time.Second, ConnectTimeout: time.Second, Log: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		l.Start()
		defer l.Close(time.Second)
		links[i] = l
	}
	waitFor(t, "every link connected", 10*time.Second, func() bool {
		for _, l := range links {
			if !l.Connected() {
				return false
			}
		}
		return true
	})
	before := make([]uint64, n)
	for i, l := range links {
		before[i] = l.Stats().Attempts
		if before[i] == 0 {
			t.Fatalf("link %d connected with no attempt counted", i)
		}
	}
	stopped := time.Now()
	broker.Stop()
	broker.Restart()
	restarted := time.Now()
	back := make([]time.Duration, n)
	for left := n; left > 0; time.Sleep(5 * time.Millisecond) {
		if time.Since(restarted) > 2*spread+2*time.Second {
			t.Fatalf("%d links not back within %v of the restart", left, 2*spread+2*time.Second)
		}
		left = 0
		for i, l := range links {
			if back[i] == 0 && l.Connected() && l.Stats().Connects == 2 {
				back[i] = time.Since(restarted)
			}
			if back[i] == 0 {
				left++
			}
		}
	}
	first, last := slices.Min(back), slices.Max(back)
	t.Logf("back after the restart: first %v, last %v", first.Round(time.Millisecond), last.Round(time.Millisecond))
	// 16 uniform draws over 2 s: the chance that all fall within 700 ms of each other is below 1e-4.
	if last-first < 700*time.Millisecond {
		t.Errorf("reconnections not spread: all %d links back between %v and %v after the restart", n, first, last)
	}
	for i, l := range links {
		st := l.Stats()
		if st.Attempts <= before[i] {
			t.Errorf("link %d: attempts %d after the restart, %d before", i, st.Attempts, before[i])
		}
		// The attempt that brought it back began after the stop and before it was seen back.
		if st.LastAttempt.Before(stopped) || st.LastAttempt.After(restarted.Add(back[i])) {
			t.Errorf("link %d: last attempt at %v, want between the stop (%v) and its return (%v)", i,
				st.LastAttempt.Format(time.StampMicro), stopped.Format(time.StampMicro), restarted.Add(back[i]).Format(time.StampMicro))
		}
	}
}

// listener records messages from one broker.
type listener struct {
	mu   sync.Mutex
	msgs map[string][][]byte
}

func listen(t *testing.T, url, id string, topics ...string) *listener {
	t.Helper()
	ls := &listener{msgs: map[string][][]byte{}}
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetOrderMatters(false))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("listener connect %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(50) })
	filters := map[string]byte{}
	for _, tp := range topics {
		filters[tp] = 1
	}
	tok := cl.SubscribeMultiple(filters, func(_ mqtt.Client, m mqtt.Message) {
		ls.mu.Lock()
		defer ls.mu.Unlock()
		ls.msgs[m.Topic()] = append(ls.msgs[m.Topic()], append([]byte(nil), m.Payload()...))
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("listener subscribe: %v", tok.Error())
	}
	return ls
}

func (ls *listener) get(topic string) [][]byte {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return append([][]byte(nil), ls.msgs[topic]...)
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// results collects OnResult outcomes.
type results struct {
	mu    sync.Mutex
	acked map[uint64]bool
}

func (r *results) note(seq uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.acked[seq] = true
	}
}

func (r *results) all(n uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := uint64(1); s <= n; s++ {
		if !r.acked[s] {
			return false
		}
	}
	return true
}

// TestFailover runs a link with two brokers; the first is killed mid-stream. The link moves to the
// second, and every batch is acknowledged by one of them and delivered to a subscriber there (batches
// unacknowledged when the first died are re-published, so de-duplication by sequence number restores
// exactly one of each). The one exception is not ours to prevent: a batch the first broker
// acknowledged just before its SIGKILL but had not yet forwarded dies with it.
func TestFailover(t *testing.T) {
	a, b := testbroker.Start(t), testbroker.Start(t)
	topics := profile.PrefixTopics("wayside/v1", "fo-gw")
	la := listen(t, a.URL, "fo-listen-a", topics.Telemetry)
	lb := listen(t, b.URL, "fo-listen-b", topics.Telemetry, topics.Status)
	res := &results{acked: map[uint64]bool{}}
	link, err := cloudsync.New(cloudsync.Options{Brokers: []string{a.URL, b.URL}, ClientID: "fo-gw", GatewayID: "fo-gw",
		TopicPrefix: "wayside/v1", KeepAlive: 2 * time.Second, MaxInflight: 8, ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 200 * time.Millisecond, ConnectTimeout: 2 * time.Second, OnResult: res.note,
		Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	link.Start()
	defer link.Close(2 * time.Second)
	waitFor(t, "connection to the first broker", 10*time.Second, link.Connected)
	if got := link.Stats().Broker; got != a.URL {
		t.Fatalf("connected to %s, want the first broker %s", got, a.URL)
	}
	const total = 200
	unacked := map[uint64]bool{}
	for seq := uint64(1); seq <= total; seq++ {
		if seq == total/2 {
			a.Stop() // SIGKILL: no orderly disconnect
		}
		payload := []byte{byte(seq >> 8), byte(seq)}
		for {
			waitFor(t, "a connection", 20*time.Second, link.Connected)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := link.Publish(ctx, seq, payload)
			cancel()
			if err == nil {
				break
			}
		}
		unacked[seq] = true
	}
	// Re-publish what failed (the gateway's spool does this via OnResult errors) until all are acked.
	deadline := time.Now().Add(30 * time.Second)
	for !res.all(total) && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		res.mu.Lock()
		var again []uint64
		for s := uint64(1); s <= total; s++ {
			if !res.acked[s] {
				again = append(again, s)
			}
		}
		res.mu.Unlock()
		for _, s := range again {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = link.Publish(ctx, s, []byte{byte(s >> 8), byte(s)})
			cancel()
		}
	}
	if !res.all(total) {
		t.Fatal("not every batch was acknowledged after the failover")
	}
	if got := link.Stats().Broker; got != b.URL {
		t.Errorf("after the first broker died the link is on %s, want %s", got, b.URL)
	}
	delivered := func() map[uint64]int {
		seen := map[uint64]int{}
		for _, m := range append(la.get(topics.Telemetry), lb.get(topics.Telemetry)...) {
			seen[uint64(m[0])<<8|uint64(m[1])]++
		}
		return seen
	}
	// Batches from total/2 on were handed over after the kill: only the second broker can have
	// acknowledged them, so each must arrive. Earlier ones may have been acknowledged by the first
	// broker and died with it before it forwarded them (counted): MQTT makes the broker responsible
	// for a batch once it has sent PUBACK, and a SIGKILLed broker without persistence loses it.
	mustArrive := func(seq uint64) bool { return seq >= total/2 }
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		seen, done := delivered(), true
		for s := uint64(1); s <= total; s++ {
			done = done && (seen[s] > 0 || !mustArrive(s))
		}
		if done {
			break
		}
	}
	seen := delivered()
	dups, diedWithBroker := 0, 0
	for s := uint64(1); s <= total; s++ {
		switch {
		case seen[s] == 0 && mustArrive(s):
			t.Errorf("batch %d, acknowledged after the failover, never delivered", s)
		case seen[s] == 0:
			diedWithBroker++
		default:
			dups += seen[s] - 1
		}
	}
	t.Logf("batches=%d on_first=%d on_second=%d duplicates_removed=%d died_with_first_broker=%d connects=%d", total,
		len(la.get(topics.Telemetry)), len(lb.get(topics.Telemetry)), dups, diedWithBroker, link.Stats().Connects)
	var st cloudsync.Status
	if ms := lb.get(topics.Status); len(ms) == 0 {
		t.Error("no status on the second broker")
	} else if err := json.Unmarshal(ms[len(ms)-1], &st); err != nil || st.State != "online" || st.Broker != b.URL {
		t.Errorf("status on the second broker: %s (%v)", ms[len(ms)-1], err)
	}
}

// TestTakeoverLoop starts two links with the same client id: the broker hands the session to each
// newcomer, so without detection they kick each other off forever. One must detect the loop, hold off
// and say so; the other then keeps its session.
func TestTakeoverLoop(t *testing.T) {
	broker := testbroker.Start(t)
	var links []*cloudsync.Link
	var logs []*observer.ObservedLogs
	for i := 0; i < 2; i++ {
		core, obs := observer.New(zapcore.ErrorLevel)
		l, err := cloudsync.New(cloudsync.Options{Brokers: []string{broker.URL}, ClientID: "twin", GatewayID: "twin",
			TopicPrefix: "wayside/v1", KeepAlive: 2 * time.Second, ReconnectMin: 20 * time.Millisecond,
			ReconnectMax: 100 * time.Millisecond, Log: zap.New(core),
			Takeover: cloudsync.TakeoverPolicy{Short: 3 * time.Second, Count: 3, Window: 20 * time.Second, Hold: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		l.Start()
		defer l.Close(time.Second)
		links, logs = append(links, l), append(logs, obs)
	}
	holding := -1
	waitFor(t, "takeover detection", 15*time.Second, func() bool {
		for i, l := range links {
			if l.Stats().Takeover {
				holding = i
				return true
			}
		}
		return false
	})
	other := links[1-holding]
	waitFor(t, "the other link to keep its session", 10*time.Second, other.Connected)
	// The fight's last kick may still be on its way to the other link (it reads as connected until
	// it notices): let it settle before taking the counts that must then stay put.
	time.Sleep(500 * time.Millisecond)
	waitFor(t, "the other link to keep its session", 10*time.Second, other.Connected)
	c0 := [2]uint64{links[0].Stats().Connects, links[1].Stats().Connects}
	time.Sleep(2 * time.Second)
	c1 := [2]uint64{links[0].Stats().Connects, links[1].Stats().Connects}
	if c1 != c0 {
		t.Errorf("still fighting after detection: connects went from %v to %v in 2s", c0, c1)
	}
	if !other.Connected() {
		t.Error("the link that did not hold lost its session")
	}
	st := links[holding].Stats()
	if st.State != "takeover-hold" || st.NextTry.IsZero() {
		t.Errorf("holding link's stats: state %q next try %v", st.State, st.NextTry)
	}
	found := false
	for _, e := range logs[holding].All() {
		if strings.Contains(e.Message, "takeover") && strings.Contains(e.Message, `"twin"`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no error log naming the client id; logs: %v", logs[holding].All())
	}
	t.Logf("detected by link %d after connects %v", holding, c0)
}

// TestRestartsAreNotTakeover restarts the broker on the same port four times, each session shorter
// than the takeover policy's Short and the broker down long enough for a reconnect to be refused: a
// rolling restart, which the old rule took for a takeover loop (three short sessions in a row) and
// answered by holding off for the whole Hold. The refused connects between the sessions tell a restart
// apart, so the link never holds and is back as soon as the broker is.
func TestRestartsAreNotTakeover(t *testing.T) {
	broker := testbroker.Start(t)
	core, obs := observer.New(zapcore.InfoLevel)
	policy := cloudsync.TakeoverPolicy{Short: 3 * time.Second, Count: 3, Window: 20 * time.Second, Hold: time.Minute}
	l, err := cloudsync.New(cloudsync.Options{Brokers: []string{broker.URL}, ClientID: "restarts", GatewayID: "restarts",
		TopicPrefix: "wayside/v1", KeepAlive: 2 * time.Second, ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 100 * time.Millisecond, ConnectTimeout: time.Second, Log: zap.New(core), Takeover: policy})
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	defer l.Close(time.Second)
	refused := func() int { return obs.FilterMessage("mqtt connect failed on every broker").Len() }
	waitFor(t, "the first connection", 10*time.Second, l.Connected)
	const restarts = 4 // one more than Count: the old rule held at the third
	for i := 1; i <= restarts; i++ {
		began := time.Now()
		time.Sleep(200 * time.Millisecond) // a short session, but one that has begun
		before := refused()
		broker.Stop()
		// Keep the broker down until the link has had a connect refused (bounded), watching for a hold.
		for deadline := time.Now().Add(10 * time.Second); refused() == before; time.Sleep(10 * time.Millisecond) {
			if l.Stats().Takeover {
				t.Fatalf("restart %d: the link entered the takeover hold (state %q); logs: %v", i, l.Stats().State,
					messages(obs))
			}
			if time.Now().After(deadline) {
				t.Fatalf("restart %d: no refused connect within 10s of stopping the broker (state %q)", i,
					l.Stats().State)
			}
		}
		if d := time.Since(began); d >= policy.Short {
			t.Fatalf("restart %d: session lasted %v, not less than Short %v: the test proves nothing", i, d, policy.Short)
		}
		back := time.Now()
		broker.Restart()
		waitFor(t, "reconnection after the restart", 10*time.Second, l.Connected)
		if st := l.Stats(); st.Takeover || st.State == "takeover-hold" {
			t.Fatalf("restart %d: takeover %v, state %q", i, st.Takeover, st.State)
		}
		t.Logf("restart %d: reconnected %v after the broker was started again", i, time.Since(back).Round(time.Millisecond))
	}
	if got := l.Stats().Connects; got != restarts+1 {
		t.Errorf("connects = %d, want %d (one per broker start)", got, restarts+1)
	}
	for _, e := range obs.FilterLevelExact(zapcore.ErrorLevel).All() {
		t.Errorf("error logged: %s", e.Message)
	}
}

func messages(obs *observer.ObservedLogs) []string {
	var ms []string
	for _, e := range obs.All() {
		ms = append(ms, e.Message)
	}
	return ms
}

// TestCommandsAndEvents checks the command round trip (request on cmd/<name>, the handler's answer on
// reply/<name>), health events, and the status detail in the retained status.
func TestCommandsAndEvents(t *testing.T) {
	broker := testbroker.Start(t)
	topics := profile.PrefixTopics("wayside/v1", "cmd-gw")
	replyTopic := func(name string) string { return topics.Reply(profile.Command{Name: name}, 200) }
	ls := listen(t, broker.URL, "cmd-listen", replyTopic("+"), topics.Events, topics.Status)
	l, err := cloudsync.New(cloudsync.Options{Brokers: []string{broker.URL}, ClientID: "cmd-gw", GatewayID: "cmd-gw",
		TopicPrefix: "wayside/v1", KeepAlive: 2 * time.Second, Log: zap.NewNop(),
		Detail: func() cloudsync.StatusDetail {
			return cloudsync.StatusDetail{Sensors: cloudsync.SensorSummary{OK: 3, Failing: []string{"co2"}},
				Spool: cloudsync.SpoolSummary{Backlog: 7}}
		},
		Commands: func(c profile.Command, payload []byte) ([]byte, int) {
			return []byte(`{"echo":"` + c.Name + `:` + string(payload) + `"}`), 200
		}})
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	defer l.Close(time.Second)
	waitFor(t, "connection", 10*time.Second, l.Connected)
	waitFor(t, "online status", 5*time.Second, func() bool { return len(ls.get(topics.Status)) > 0 })
	var st cloudsync.Status
	if err := json.Unmarshal(ls.get(topics.Status)[0], &st); err != nil || st.Detail == nil ||
		st.Detail.Sensors.OK != 3 || len(st.Detail.Sensors.Failing) != 1 || st.Detail.Spool.Backlog != 7 {
		t.Fatalf("status %s: %v", ls.get(topics.Status)[0], err)
	}

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL).SetClientID("cmd-cloud"))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(50)
	waitFor(t, "a command answered", 10*time.Second, func() bool {
		pub.Publish(strings.TrimSuffix(topics.CommandFilter, "+")+"ping", 1, false, "x").WaitTimeout(time.Second)
		return len(ls.get(replyTopic("ping"))) > 0
	})
	if got := string(ls.get(replyTopic("ping"))[0]); got != `{"echo":"ping:x"}` {
		t.Errorf("reply %s", got)
	}
	l.Event(cloudsync.Event{Kind: "sensor-state", Sensor: "co2", From: "ok", To: "degraded"})
	waitFor(t, "the event", 5*time.Second, func() bool { return len(ls.get(topics.Events)) > 0 })
	var ev cloudsync.Event
	if err := json.Unmarshal(ls.get(topics.Events)[0], &ev); err != nil || ev.Gateway != "cmd-gw" || ev.Sensor != "co2" || ev.At == "" {
		t.Errorf("event %s: %v", ls.get(topics.Events)[0], err)
	}
	if s := l.Stats(); s.Commands == 0 || s.Events != 1 {
		t.Errorf("stats: commands %d events %d", s.Commands, s.Events)
	}
}

// TestCredentialsRenewal: with credentials that expire (Azure SAS tokens), the link leaves cleanly
// before they do and reconnects with fresh ones: the credentials provider is asked again, no last
// will is published (the broker saw an orderly disconnect), and batches keep being acknowledged.
func TestCredentialsRenewal(t *testing.T) {
	broker := testbroker.Start(t)
	topics := profile.PrefixTopics("wayside/v1", "ttl-gw")
	ls := listen(t, broker.URL, "ttl-listen", topics.Status)
	var asked atomic.Int32
	res := &results{acked: map[uint64]bool{}}
	l, err := cloudsync.New(cloudsync.Options{Brokers: []string{broker.URL}, ClientID: "ttl-gw", GatewayID: "ttl-gw",
		TopicPrefix: "wayside/v1", KeepAlive: 2 * time.Second, CredentialsTTL: 400 * time.Millisecond,
		ReconnectMin: 20 * time.Millisecond, OnResult: res.note, Log: zap.NewNop(),
		Credentials: func() (string, string) { asked.Add(1); return "ttl-gw", "" }})
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	defer l.Close(time.Second)
	seq := uint64(0)
	deadline := time.Now().Add(15 * time.Second)
	for l.Stats().Connects < 4 && time.Now().Before(deadline) {
		if l.Connected() {
			seq++
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := l.Publish(ctx, seq, []byte{byte(seq)}); err != nil {
				seq--
			}
			cancel()
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c := l.Stats().Connects; c < 4 {
		t.Fatalf("only %d connections in 15 s with a 400 ms credential lifetime", c)
	}
	if n := asked.Load(); n < 4 {
		t.Errorf("credentials asked for %d times over 4 connections", n)
	}
	waitFor(t, "acknowledgements", 10*time.Second, func() bool {
		res.mu.Lock()
		defer res.mu.Unlock()
		return len(res.acked) > 0
	})
	if len(ls.get(topics.Status)) == 0 {
		t.Fatal("no status message seen: the last-will check below would be empty")
	}
	for _, m := range ls.get(topics.Status) {
		var st cloudsync.Status
		if err := json.Unmarshal(m, &st); err != nil || (st.State == "offline" && !st.Clean) {
			t.Fatalf("a renewal let the broker publish the last will: %s", m)
		}
	}
	t.Logf("connects=%d credentials_asked=%d published=%d acked=%d", l.Stats().Connects, asked.Load(), seq, len(res.acked))
}
