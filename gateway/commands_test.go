package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
)

// TestCloudCommands plays the city cloud against a gateway on a real mosquitto: every command signed
// with the city's key is carried out and answered on reply/<name>; unsigned, wrongly signed, stale,
// replayed and unknown ones are refused with their codes; and a replay is still refused by a new
// gateway on the same state directory (the nonces are on disk).
func TestCloudCommands(t *testing.T) {
	broker := testbroker.Start(t)
	pub, priv, err := command.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, _ := command.GenerateKey()
	dir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(`
gateway: {id: cmd-gw-1, board: sim}
sensors:
  - {name: env1, driver: bme280, bus: i2c1, interval: 100ms}
  - {name: gps,  driver: nmea,   bus: uart0, interval: 200ms}
cloud:
  brokers: [%s]
  commands: {keys: {city-ops: %s}}
batch: {max_readings: 20, max_age: 200ms}
spool: {dir: %s}
clock: {trust: always}
`, broker.URL, base64.StdEncoding.EncodeToString(pub), dir))
	const gw = "cmd-gw-1"
	topics := profile.PrefixTopics("wayside/v1", gw)
	cmdTopic := func(name string) string { return strings.TrimSuffix(topics.CommandFilter, "+") + name }
	replyTopic := func(name string) string { return topics.Reply(profile.Command{Name: name}, 200) }
	replies := make(chan mqtt.Message, 64)
	cloud := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL).SetClientID("city-cloud").SetOrderMatters(true))
	if tok := cloud.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer cloud.Disconnect(50)
	if tok := cloud.Subscribe(replyTopic("+"), 1, func(_ mqtt.Client, m mqtt.Message) { replies <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	var reloads atomic.Int32
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	start := func() (*gateway.Gateway, func()) {
		g := newGateway(t, gateway.Options{Config: cfg, Level: &level, OnReloadRequest: func(string) { reloads.Add(1) }})
		stopRun := goRun(t, g)
		deadline := time.Now().Add(10 * time.Second)
		for !g.Stats().Link.Connected {
			if time.Now().After(deadline) {
				t.Fatal("gateway did not connect")
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // the command subscription is made right after connecting
		return g, func() {
			if err := stopRun(); err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}
	sign := func(id, name, args string, issued time.Time, key []byte) []byte {
		t.Helper()
		r := command.Request{ID: id, Gateway: gw, Command: name, IssuedAt: issued.UnixMilli()}
		if args != "" {
			r.Args = json.RawMessage(args)
		}
		b, err := command.Sign(key, "city-ops", r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ask := func(name string, payload []byte) command.Response {
		t.Helper()
		if tok := cloud.Publish(cmdTopic(name), 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		select {
		case m := <-replies:
			if m.Topic() != replyTopic(name) {
				t.Fatalf("answer on %s, want %s", m.Topic(), replyTopic(name))
			}
			var r command.Response
			if err := json.Unmarshal(m.Payload(), &r); err != nil {
				t.Fatalf("answer %s: %v", m.Payload(), err)
			}
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer to %s", name)
		}
		return command.Response{}
	}
	ok := func(r command.Response, what string) map[string]any {
		t.Helper()
		if !r.OK || r.Error != nil {
			t.Fatalf("%s: refused: %+v", what, r.Error)
		}
		var m map[string]any
		if err := json.Unmarshal(r.Result, &m); err != nil {
			t.Fatalf("%s: result %s: %v", what, r.Result, err)
		}
		return m
	}
	refused := func(r command.Response, code command.Code, what string) {
		t.Helper()
		if r.OK || r.Error == nil || r.Error.Code != code {
			t.Errorf("%s: got %+v, want refusal %s", what, r, code)
		}
	}

	g, stop := start()
	now := time.Now()
	if m := ok(ask("ping", sign("p1", "ping", "", now, priv)), "ping"); m["pong"] != true {
		t.Errorf("ping: %v", m)
	}
	m := ok(ask("set-interval", sign("si1", "set-interval", `{"sensor":"env1","interval":"250ms"}`, now, priv)), "set-interval")
	if m["previous"] != "100ms" || m["interval"] != "250ms" {
		t.Errorf("set-interval result %v", m)
	}
	for _, s := range g.Stats().Sensors {
		if s.Name == "env1" && s.Interval != 250*time.Millisecond {
			t.Errorf("env1 interval after set-interval: %v", s.Interval)
		}
	}
	refused(ask("set-interval", sign("si2", "set-interval", `{"sensor":"nope","interval":"1s"}`, now, priv)), command.CodeBadRequest, "unknown sensor")
	if m := ok(ask("set-log-level", sign("ll1", "set-log-level", `{"level":"debug"}`, now, priv)), "set-log-level"); m["previous"] != "info" || level.Level() != zap.DebugLevel {
		t.Errorf("set-log-level: %v, level now %v", m, level.Level())
	}
	snap := ok(ask("snapshot", sign("sn1", "snapshot", "", now, priv)), "snapshot")
	if rs, _ := snap["readings"].([]any); len(rs) < 3 {
		t.Errorf("snapshot readings: %v", snap)
	}
	if st := ok(ask("get-status", sign("gs1", "get-status", "", now, priv)), "get-status"); st["gateway"] != gw || st["detail"] == nil {
		t.Errorf("get-status: %v", st)
	}
	if m := ok(ask("flush-spool", sign("fl1", "flush-spool", "", now, priv)), "flush-spool"); m["backlog"] == nil {
		t.Errorf("flush-spool: %v", m)
	}
	ok(ask("reload-config", sign("rc1", "reload-config", "", now, priv)), "reload-config")
	if reloads.Load() != 1 {
		t.Errorf("reload requests: %d", reloads.Load())
	}

	refused(ask("ping", []byte(`{"id":"u1","gateway":"cmd-gw-1","command":"ping","issued_at":1}`)), command.CodeBadRequest, "unsigned")
	refused(ask("ping", sign("w1", "ping", "", now, otherPriv)), command.CodeUnauthorized, "signed by another key")
	refused(ask("ping", sign("old", "ping", "", now.Add(-time.Hour), priv)), command.CodeStale, "an hour old")
	replayed := sign("r1", "set-log-level", `{"level":"warn"}`, time.Now(), priv)
	ok(ask("set-log-level", replayed), "first delivery")
	refused(ask("set-log-level", replayed), command.CodeReplayed, "replay")
	refused(ask("reboot", sign("rb1", "reboot", "", now, priv)), command.CodeUnknownCommand, "unknown command")
	stop()

	// A new gateway on the same state directory still refuses the replay.
	_, stop = start()
	refused(ask("set-log-level", replayed), command.CodeReplayed, "replay after a restart")
	stop()
}
