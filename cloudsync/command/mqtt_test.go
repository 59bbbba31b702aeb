package command_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
)

// TestOverMQTT serves commands over a real mosquitto as the link does (subscribe to cmd/+, answer
// on reply/<name> with Dispatcher.Reply) and plays the cloud: signed commands down, answers up, a
// replay and garbage refused.
func TestOverMQTT(t *testing.T) {
	broker := testbroker.Start(t)
	const gw = "mqtt-gw"
	pub, priv, err := command.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cache, err := command.OpenReplayCache(filepath.Join(t.TempDir(), command.DefaultReplayFile), command.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	v, err := command.NewVerifier(command.VerifierOptions{Gateway: gw, Keys: map[string]ed25519.PublicKey{"city": pub}, Replay: cache})
	if err != nil {
		t.Fatal(err)
	}
	d, err := command.New(command.Options{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	level := "info"
	d.Register(command.CmdPing, command.Ping(time.Now, nil))
	d.Register(command.CmdSetLogLevel, command.Typed(func(_ context.Context, a command.SetLogLevelArgs) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		old := level
		level = a.Level
		return map[string]string{"old": old, "new": a.Level}, nil
	}))

	// The gateway's side, as the link serves commands: one at a time, answered on reply/<name>.
	const prefix = "wayside/v1/" + gw + "/"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	requests := make(chan mqtt.Message, 64)
	gwc := connect(t, broker.URL, gw)
	if tok := gwc.Subscribe(prefix+"cmd/+", 1, func(_ mqtt.Client, m mqtt.Message) { requests <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("gateway subscribe: %v", tok.Error())
	}
	statuses := make(chan int, 64)
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-requests:
				name := strings.TrimPrefix(m.Topic(), prefix+"cmd/")
				reply, status := d.Reply(ctx, name, m.Payload())
				if reply == nil {
					continue
				}
				statuses <- status
				gwc.Publish(prefix+"reply/"+name, 1, false, reply).WaitTimeout(5 * time.Second)
			}
		}
	}()
	defer func() { cancel(); <-served }()

	// The cloud.
	replies := make(chan mqtt.Message, 64)
	cloud := connect(t, broker.URL, "city-cloud")
	if tok := cloud.Subscribe(prefix+"reply/"+"+", 1, func(_ mqtt.Client, m mqtt.Message) { replies <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("cloud subscribe: %v", tok.Error())
	}
	send := func(name string, payload []byte) {
		t.Helper()
		if tok := cloud.Publish(prefix+"cmd/"+name, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	sign := func(id, cmd, args string) []byte {
		t.Helper()
		r := command.Request{ID: id, Gateway: gw, Command: cmd}
		if args != "" {
			r.Args = json.RawMessage(args)
		}
		b, err := command.Sign(priv, "city", r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	next := func(within time.Duration) (string, command.Response) {
		t.Helper()
		select {
		case m := <-replies:
			var r command.Response
			if err := json.Unmarshal(m.Payload(), &r); err != nil {
				t.Fatalf("answer %s: %v", m.Payload(), err)
			}
			return m.Topic(), r
		case <-time.After(within):
			return "", command.Response{}
		}
	}

	send(command.CmdPing, sign("ping-1", command.CmdPing, ""))
	if topic, r := next(10 * time.Second); topic != prefix+"reply/ping" || !r.OK || r.ID != "ping-1" || r.Gateway != gw ||
		!strings.HasPrefix(string(r.Result), `{"pong":true,"time":`) {
		t.Fatalf("ping answer on %q: %+v", topic, r)
	}

	setDebug := sign("lvl-1", command.CmdSetLogLevel, `{"level":"debug"}`)
	send(command.CmdSetLogLevel, setDebug)
	send(command.CmdSetLogLevel, setDebug) // captured and replayed
	send(command.CmdSetLogLevel, []byte(`{"id":"junk","gateway":`))
	send("reboot", sign("rb-1", "reboot", ""))
	// Paho may hand the messages over in another order: whichever copy of lvl-1 comes first runs.
	want := map[string]int{
		"set-log-level lvl-1 ":                                1,
		"set-log-level lvl-1 " + string(command.CodeReplayed): 1,
		"set-log-level  " + string(command.CodeBadRequest):    1,
		"reboot rb-1 " + string(command.CodeUnknownCommand):   1,
	}
	for range len(want) {
		topic, r := next(10 * time.Second)
		if topic == "" {
			t.Fatalf("answers missing: %v", want)
		}
		code := command.Code("")
		if r.Error != nil {
			code = r.Error.Code
		}
		key := topic[len(prefix+"reply/"):] + " " + r.ID + " " + string(code)
		if want[key] == 0 {
			t.Errorf("unexpected answer on %s: %+v", topic, r)
		}
		want[key]--
	}
	if topic, r := next(300 * time.Millisecond); topic != "" {
		t.Errorf("extra answer on %s: %+v", topic, r)
	}
	mu.Lock()
	defer mu.Unlock()
	if level != "debug" {
		t.Errorf("level %q after set-log-level", level)
	}
	if s := d.Stats(); s.Refused != 2 || s.Accepted != 3 {
		t.Errorf("stats %+v", s)
	}
	got := map[int]int{}
	for len(statuses) > 0 {
		got[<-statuses]++
	}
	if want := map[int]int{200: 2, 409: 1, 400: 1, 404: 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

func connect(t *testing.T, url, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetOrderMatters(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}
