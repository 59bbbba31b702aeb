package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testpki"
)

// TestAzureProfileLink runs the gateway with the azure-iothub profile against a mosquitto set up like
// the hub's device endpoint (TLS, the device's topics only): telemetry goes to the device-to-cloud
// topic, the status is a device twin reported-properties update, and a signed command arrives as a
// direct method and is answered on the method response topic with its status code and request id.
func TestAzureProfileLink(t *testing.T) {
	const device, hub = "cab-az", "cityhub.azure-devices.net"
	user := hub + "/" + device + "/?api-version=2021-04-12"
	ca := testpki.NewCA(t, "hub-ca")
	srv := ca.Server(t)
	broker := testbroker.StartWith(t, testbroker.Options{
		TLS: &testbroker.TLS{CAFile: ca.CertFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile},
		// Anonymous clients (the test's "service side") see everything; the device only its topics.
		ACL: "topic readwrite #\ntopic readwrite $iothub/#\n\nuser " + user + "\n" +
			"topic write devices/" + device + "/messages/events/#\n" +
			"topic write $iothub/twin/PATCH/properties/reported/#\ntopic read $iothub/twin/res/#\n" +
			"topic read $iothub/methods/POST/#\ntopic write $iothub/methods/res/#\n",
	})
	pub, priv, _ := command.GenerateKey()
	_, otherPriv, _ := command.GenerateKey()
	cfg := parseConfig(t, fmt.Sprintf(`
gateway: {id: %s, board: sim}
sensors:
  - {name: env1, driver: bme280, bus: i2c1, interval: 100ms}
cloud:
  profile: azure-iothub
  brokers: [%s]
  tls: {ca: %s}
  azure: {hub_host: %s, shared_access_key: %s}
  commands: {keys: {city: %s}}
batch: {max_readings: 20, max_age: 200ms}
spool: {dir: %s}
clock: {trust: always}
`, device, broker.TLSURL, ca.CertFile, hub, base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
		base64.StdEncoding.EncodeToString(pub), t.TempDir()))
	if cfg.Cloud.ClientID != device {
		t.Fatalf("client id %q, want the device id", cfg.Cloud.ClientID)
	}

	var mu sync.Mutex
	got := map[string][][]byte{}
	service := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.TLSURL).SetClientID("hub-service").
		SetTLSConfig(ca.ClientTLS(t)).SetOrderMatters(true))
	if tok := service.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer service.Disconnect(50)
	record := func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		defer mu.Unlock()
		key := "telemetry"
		switch {
		case strings.HasPrefix(m.Topic(), "$iothub/twin/PATCH/properties/reported/"):
			key = "twin"
		case strings.HasPrefix(m.Topic(), "$iothub/methods/res/"):
			key = m.Topic()
		case strings.Contains(m.Topic(), "kind=event"):
			key = "event"
		}
		got[key] = append(got[key], append([]byte(nil), m.Payload()...))
	}
	if tok := service.SubscribeMultiple(map[string]byte{"devices/" + device + "/messages/events/#": 1,
		"$iothub/twin/PATCH/#": 1, "$iothub/methods/res/#": 1}, record); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	count := func(key string) int {
		mu.Lock()
		defer mu.Unlock()
		return len(got[key])
	}

	g := newGateway(t, gateway.Options{Config: cfg})
	defer goRun(t, g)()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; link %+v", what, g.Stats().Link)
			}
		}
	}
	wait("telemetry and the twin update", func() bool { return count("telemetry") >= 2 && count("twin") >= 1 })
	mu.Lock()
	openBatch(t, cfg.Spool.Dir, got["telemetry"][0])
	var twin struct {
		Wayside struct{ State, Gateway string } `json:"wayside"`
	}
	if err := json.Unmarshal(got["twin"][0], &twin); err != nil || twin.Wayside.State != "online" || twin.Wayside.Gateway != device {
		t.Errorf("twin update %s: %v", got["twin"][0], err)
	}
	mu.Unlock()

	call := func(rid string, key []byte) {
		req, err := command.Sign(key, "city", command.Request{ID: "m-" + rid, Gateway: device, Command: "ping"})
		if err != nil {
			t.Fatal(err)
		}
		// A direct method's payload must be JSON: the COSE_Sign1 travels as a JSON string of its base64.
		req = []byte(`"` + base64.StdEncoding.EncodeToString(req) + `"`)
		if tok := service.Publish("$iothub/methods/POST/ping/?$rid="+rid, 1, false, req); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	call("41", priv)
	wait("the method response", func() bool { return count("$iothub/methods/res/200/?$rid=41") == 1 })
	call("42", otherPriv)
	wait("the refusal", func() bool { return count("$iothub/methods/res/401/?$rid=42") == 1 })
	mu.Lock()
	defer mu.Unlock()
	var r command.Response
	if err := json.Unmarshal(got["$iothub/methods/res/200/?$rid=41"][0], &r); err != nil || !r.OK || r.ID != "m-41" {
		t.Errorf("method response: %+v (%v)", r, err)
	}
}
