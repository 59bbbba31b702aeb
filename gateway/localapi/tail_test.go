package localapi

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

// tapGateway is an idle Gateway whose tap hands out readings queued before the request: channel 0
// is env1's pressure, channel 1 radar's speed.
type tapGateway struct {
	idleGateway
	readings chan buffer.Reading
}

func (g tapGateway) Tap(int) (<-chan buffer.Reading, func() uint64, func()) {
	return g.readings, func() uint64 { return 0 }, func() {}
}

func (tapGateway) Describe(r buffer.Reading) gateway.Value {
	v := gateway.Value{Sensor: "env1", Name: "pressure", Unit: "Pa", Value: r.Value, Time: time.Unix(0, r.Time)}
	if r.Channel == 1 {
		v = gateway.Value{Sensor: "radar", Name: "speed", Unit: "m/s", Value: r.Value, Time: time.Unix(0, r.Time)}
	}
	return v
}

// TestTailFlushesFilteredBurst: wayside tail env1 gets env1's reading at once even when the burst it
// came in ends with readings the filter drops (it used to wait for the next env1 reading that ended a
// burst, 12 s on a live gateway).
func TestTailFlushesFilteredBurst(t *testing.T) {
	g := tapGateway{readings: make(chan buffer.Reading, 8)}
	g.readings <- buffer.Reading{Channel: 0, Value: 101325, Time: 1}
	g.readings <- buffer.Reading{Channel: 1, Value: 13.5, Time: 2}
	g.readings <- buffer.Reading{Channel: 1, Value: 14, Time: 3}
	cfg := &config.Config{Sensors: []config.Sensor{{Name: "env1"}, {Name: "radar"}}}
	s, err := New(Options{Gateway: g, Config: cfg, Level: zap.NewAtomicLevel()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	resp, err := http.Get(hs.URL + apitype.Prefix + "tail?sensor=env1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan apitype.TailLine, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		if sc.Scan() {
			var l apitype.TailLine
			json.Unmarshal(sc.Bytes(), &l)
			got <- l
		}
	}()
	select {
	case l := <-got:
		if l.Sensor != "env1" || l.Name != "pressure" || l.Value.Value != 101325 {
			t.Errorf("tail line %+v, want env1 pressure 101325", l)
		}
	case <-time.After(500 * time.Millisecond): // less than the 1 s tick, which now flushes too
		t.Fatal("env1's reading not flushed within 500ms: held back by the filtered-out readings after it")
	}
}
