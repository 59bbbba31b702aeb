package cli_test

import (
	"strings"
	"testing"

	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

// TestScanModbus: two Modbus sensors share the sim board's uart3 as slaves 1 and 2; a scan of the
// line through the daemon finds both (and no other address), and their health shows in sensors.
func TestScanModbus(t *testing.T) {
	d := startDaemon(t, "", func(s string) string {
		return strings.Replace(s, "cloud:", `  - {name: meter, driver: modbus, bus: uart3, interval: 200ms, options: {registers: [{name: voltage, unit: V, function: input, type: f32}]}}
  - {name: soil, driver: modbus, bus: uart3, interval: 300ms, options: {slave: 2, registers: [{name: temperature, unit: Cel, type: i16, scale: 0.01}]}}
cloud:`, 1)
	})
	r := d.cli(t, "scan", "modbus", "uart3", "1-5")
	mustOK(t, r, "scan modbus")
	contains(t, "scan modbus", r.stdout, "uart3 (slaves 1-5, through sensor meter", "2 answered", "SLAVE", "1 ", "meter", "soil")
	sc := decode[apitype.ScanModbus](t, d.cli(t, "scan", "modbus", "uart3", "1-4", "--json"))
	if len(sc.Slaves) != 2 || sc.Slaves[0].Slave != 1 || sc.Slaves[1].Slave != 2 || sc.Slaves[1].Sensors[0] != "soil" || sc.First != 1 || sc.Last != 4 {
		t.Fatalf("scan JSON: %+v", sc)
	}
	if r := d.cli(t, "scan", "modbus", "uart2"); r.code != 1 || !strings.Contains(r.stderr, "no Modbus sensor is configured there") {
		t.Errorf("scan of a line without Modbus sensors: exit %d, %q", r.code, r.stderr)
	}
	if r := d.cli(t, "scan", "modbus", "uart3", "9-2"); r.code != 2 {
		t.Errorf("a backwards range: exit %d, %q", r.code, r.stderr)
	}
	s := d.cli(t, "sensors")
	mustOK(t, s, "sensors")
	contains(t, "sensors", s.stdout, "meter", "modbus", "uart3", "soil")
}
