package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testgw"
	"github.com/wayside-iot/wayside/internal/testkit/testpg"
)

// TestSilence: an ingest that receives nothing says so once, naming the RabbitMQ pitfall, and says
// when telemetry flows again.
func TestSilence(t *testing.T) {
	silentAfter = 300 * time.Millisecond
	t.Cleanup(func() { silentAfter = 5 * time.Minute }) // first registered, so run after the ingest stops
	pg := testpg.Start(t)
	broker := testbroker.Start(t)
	core, logs := observer.New(zap.InfoLevel)
	g := testgw.New(t, "gw-1", nil)
	cfg := Config{MQTT: MQTTConfig{Broker: broker.URL, ClientID: "quiet"}, Postgres: PostgresConfig{DSN: pg.DSN}}
	startIngest(t, cfg, zap.New(core), nil)
	waitFor(t, 5*time.Second, "a warning about silence", func() (bool, string) {
		return logs.FilterMessage("no telemetry").Len() == 1, fmt.Sprint(logs.All())
	})
	if e := logs.FilterMessage("no telemetry").All()[0]; !containsField(e, "hint", "mqtt.shared: false") {
		t.Errorf("the warning does not name mqtt.shared: %v", e.Context)
	}
	time.Sleep(2 * silentAfter)
	if n := logs.FilterMessage("no telemetry").Len(); n != 1 {
		t.Errorf("%d warnings during one silence, want 1 (state changes only)", n)
	}
	g.Connect(t, broker.URL)
	g.Publish(t, "telemetry", g.Batch(t, 1, 3), false)
	waitFor(t, 5*time.Second, "telemetry flowing again", func() (bool, string) {
		return logs.FilterMessage("telemetry flowing again").Len() == 1, fmt.Sprint(logs.All())
	})
}

func containsField(e observer.LoggedEntry, key, sub string) bool {
	for _, f := range e.Context {
		if f.Key == key && strings.Contains(f.String, sub) {
			return true
		}
	}
	return false
}
