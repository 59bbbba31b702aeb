package gateway_test

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
)

// TestNewSensorOpenFails: a sensor whose bus is missing at start (a Raspberry Pi profile on a machine
// without /dev/i2c-1) makes New return an error naming the sensor, after undoing what it opened: no
// panic (the field bench found one), and the state directory's lock is released for the next start.
func TestNewSensorOpenFails(t *testing.T) {
	dir := t.TempDir()
	body := fmt.Sprintf(`
gateway: {id: t-open, board: rpi4}
sensors:
  - {name: env1, driver: bme280, bus: i2c1, address: 0x76, interval: 1s}
cloud: {brokers: ["tcp://127.0.0.1:1"], allow_plaintext: true}
spool: {dir: %s}
`, dir)
	cfg, err := config.Parse([]byte(body), boards.Check)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second start finds the lock free again
		g, err := gateway.New(gateway.Options{Config: cfg, Version: "t", Log: zaptest.NewLogger(t)})
		if err == nil {
			g.Close()
			t.Skip("this machine has an I2C bus 1: the open does not fail here")
		}
		if g != nil || !strings.Contains(err.Error(), "open sensor env1") {
			t.Fatalf("New = %v, %v; want nil and an error naming sensor env1", g, err)
		}
	}
}
