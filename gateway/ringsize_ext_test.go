package gateway_test

import (
	"fmt"
	"testing"

	"github.com/wayside-iot/wayside/gateway"
)

// TestRingSizedFromSensors: a gateway whose file leaves buffer.capacity out gets a ring sized from its
// sensors; one that sets it gets exactly that.
func TestRingSizedFromSensors(t *testing.T) {
	for _, c := range []struct {
		buffer string
		want   int
	}{
		// bme280 (3 channels) every second and sht4x (2) every 2 s: 4 readings/s, 240 a minute, and
		// two packs of 100 plus 2 s: 208. Both below the floor.
		{"", 1024},
		{"buffer: {capacity: 4096}\n", 4096},
	} {
		cfg := parseConfig(t, fmt.Sprintf(`gateway: {id: ring-gw, board: sim}
sensors:
  - {name: env1, driver: bme280, bus: i2c1, interval: 1s}
  - {name: air1, driver: sht4x,  bus: i2c1, interval: 2s}
cloud: {brokers: [tcp://127.0.0.1:1], allow_plaintext: true}
batch: {max_readings: 100, max_age: 2s}
spool: {dir: %s}
`, t.TempDir())+c.buffer)
		g := newGateway(t, gateway.Options{Config: cfg})
		defer g.Close()
		if got := g.Stats().RingCap; got != c.want {
			t.Errorf("buffer %q: ring capacity %d, want %d", c.buffer, got, c.want)
		}
	}
}
