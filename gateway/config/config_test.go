package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// board is a BusChecker for tests: board "b" with i2c1, uart0 and GPIO line GPIO17 on gpiochip0.
func board(b, kind, name string) (bool, []string) {
	if b != "b" {
		return false, []string{"b"}
	}
	valid := map[string][]string{"": {""}, "i2c": {"i2c1"}, "uart": {"uart0"}, "gpio": {"gpiochip0"}, "gpio-line": {"GPIO17"}}[kind]
	for _, v := range valid {
		if v == name || kind == "" {
			return true, nil
		}
	}
	return false, valid
}

const good = `
gateway: {id: gw-1, board: b}
sensors:
  - {name: env1, driver: bme280, bus: i2c1, interval: 1s}
  - {name: loop, driver: pulse, bus: gpiochip0, pin: GPIO17, interval: 1m}
cloud: {brokers: ["tcp://127.0.0.1:1883"]}
`

func TestGoodConfigAndDefaults(t *testing.T) {
	c, err := Parse([]byte(good), board)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sensors[0].Address != 0x76 || c.Cloud.ClientID != "wayside-gw-1" || c.Cloud.TopicPrefix != "wayside/v1" ||
		c.Batch.MaxReadings != 100 || c.Batch.MaxAge.D() != time.Second || c.Buffer.Capacity != 16384 ||
		c.Gateway.LogLevel != "info" || c.Sensors[1].Interval.D() != time.Minute || len(c.Hash) != 16 {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

// TestBadConfigs checks each mistake is reported with its field path and a hint of what is valid.
func TestBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown top key", good + "colud: {}\n", []string{"colud (line", "unknown key", "valid keys here: batch, buffer, clock, cloud"}},
		{"unknown nested key", strings.Replace(good, "interval: 1s", "intervl: 1s", 1), []string{"sensors[0].intervl", "valid keys here: address, bus, driver, interval, name, options, phase, pin, pins"}},
		{"missing id", strings.Replace(good, "id: gw-1, ", "", 1), []string{"gateway.id: missing"}},
		{"bad id", strings.Replace(good, "gw-1", "gw/1", 1), []string{"gateway.id", "not valid"}},
		{"unknown board", strings.Replace(good, "board: b", "board: rpi9", 1), []string{"gateway.board", `unknown board "rpi9"; valid: b`}},
		{"unknown driver", strings.Replace(good, "bme280", "bme681", 1), []string{"sensors[0].driver", `unknown driver "bme681"`, "bme280, bmp280"}},
		{"bad interval", strings.Replace(good, "interval: 1s", "interval: fast", 1), []string{"sensors[0].interval (line 4)", "want a duration like 500ms"}},
		{"bad address", strings.Replace(good, "bus: i2c1,", "bus: i2c1, address: lots,", 1), []string{"sensors[0].address (line 4)", "want an integer that fits uint16"}},
		{"short interval", strings.Replace(good, "interval: 1s", "interval: 1ms", 1), []string{"sensors[0].interval", "between 10ms and 24h"}},
		{"phase not within the interval", strings.Replace(good, "interval: 1s", "interval: 1s, phase: 1s", 1), []string{"sensors[0].phase", "not within the interval 1s", "between -1s and 1s"}},
		{"phase before the interval", strings.Replace(good, "interval: 1s", "interval: 1s, phase: -1500ms", 1), []string{"sensors[0].phase", "-1.5s is not within"}},
		{"bus the board lacks", strings.Replace(good, "bus: i2c1", "bus: i2c7", 1), []string{"sensors[0].bus", `no i2c bus "i2c7"; valid: i2c1`}},
		{"pin the board lacks", strings.Replace(good, "GPIO17", "GPIO99", 1), []string{"sensors[1].pin", "valid: GPIO17"}},
		{"bad address", strings.Replace(good, "bus: i2c1,", "bus: i2c1, address: 0x80,", 1), []string{"sensors[0].address", "0x08..0x77"}},
		{"duplicate name", strings.Replace(good, "name: loop", "name: env1", 1), []string{"sensors[1].name", "already used by sensors[0]"}},
		{"no brokers", strings.Replace(good, `["tcp://127.0.0.1:1883"]`, "[]", 1), []string{"cloud.brokers: missing"}},
		{"broker scheme", strings.Replace(good, "tcp://", "http://", 1), []string{"cloud.brokers[0]", `scheme "http"`}},
		{"broker port", strings.Replace(good, ":1883", "", 1), []string{"cloud.brokers[0]", "has no port"}},
		{"dev broker off sim", strings.Replace(good, "cloud: {", "cloud: {dev_broker: true, ", 1), []string{"cloud.dev_broker", "only allowed with board sim"}},
		{"capacity", good + "buffer: {capacity: 1000}\n", []string{"buffer.capacity", "power of two"}},
		{"sensors not a list", strings.Replace(good, "sensors:\n  - {name: env1, driver: bme280, bus: i2c1, interval: 1s}\n  - {name: loop, driver: pulse, bus: gpiochip0, pin: GPIO17, interval: 1m}", "sensors: {a: 1}", 1), []string{"sensors", "want a list"}},
		{"not yaml", "gateway: [", []string{"not valid YAML"}},
		{"empty", "", []string{"empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), board)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDevBrokerNeedsLoopback(t *testing.T) {
	y := strings.Replace(good, "board: b", "board: sim", 1)
	y = strings.Replace(strings.Replace(y, "127.0.0.1", "10.0.0.5", 1), "cloud: {", "cloud: {dev_broker: true, ", 1)
	_, err := Parse([]byte(y), nil)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("dev broker on a non-loopback address: %v", err)
	}
}

func TestShippedConfigsAreValid(t *testing.T) {
	for _, f := range []string{"sim.yaml", "example.yaml"} {
		if _, err := Load(filepath.Join("..", "..", "configs", f), nil); err != nil {
			t.Errorf("configs/%s: %v", f, err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

// TestCloudProfiles: a platform profile derives the broker and client id from its section, and every
// problem in that section is reported with its field path.
func TestCloudProfiles(t *testing.T) {
	const head = "gateway: {id: cab-17, board: b}\nsensors: [{name: env1, driver: bme280, bus: i2c1, interval: 1s}]\n"
	c, err := Parse([]byte(head+"cloud:\n  profile: azure-iothub\n  azure: {hub_host: cityhub.azure-devices.net, shared_access_key: "+
		"c2VjcmV0LWtleS0wMTIzNDU2Nzg5YWJjZGVm}\n"), board)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Cloud.Brokers; len(got) != 1 || got[0] != "ssl://cityhub.azure-devices.net:8883" || c.Cloud.ClientID != "cab-17" {
		t.Errorf("azure: brokers %v client id %q", got, c.Cloud.ClientID)
	}
	for _, tc := range []struct{ name, cloud, field string }{
		{"azure without key", "cloud: {profile: azure-iothub, azure: {hub_host: h.azure-devices.net}}", "cloud.azure.shared_access_key"},
		{"aws without certificate", "cloud: {profile: aws-iot, aws: {endpoint: abc-ats.iot.eu-west-1.amazonaws.com}}", "cloud.tls.cert"},
		{"section of another profile", "cloud: {brokers: [tcp://127.0.0.1:1883], azure: {hub_host: h.azure-devices.net}}", "cloud.azure"},
		{"unknown profile", "cloud: {profile: gcp, brokers: [tcp://127.0.0.1:1883]}", "cloud.profile"},
		{"aliyun without secret", "cloud: {profile: aliyun-iot, aliyun: {product_key: a1B2c3D4e5F, device_name: cab-17, region: cn-shanghai}}", "cloud.aliyun.device_secret"},
	} {
		_, err := Parse([]byte(head+tc.cloud+"\n"), board)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v does not name %s", tc.name, err, tc.field)
		}
	}
}

// TestModbusExamples: the ready-made register maps of configs/modbus are valid sensors, and the sim
// configuration carries them unchanged (so `make run` shows what a site would paste).
func TestModbusExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "configs", "modbus", "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("configs/modbus: %v %v", files, err)
	}
	simc, err := Load(filepath.Join("..", "..", "configs", "sim.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(append([]byte("gateway: {id: gw-1, board: sim}\ncloud: {brokers: [\"tcp://127.0.0.1:1883\"]}\n"), b...), nil)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, s := range c.Sensors {
			i := slices.IndexFunc(simc.Sensors, func(x Sensor) bool { return x.Name == s.Name })
			if i < 0 {
				t.Errorf("%s: sensor %s is not in configs/sim.yaml", f, s.Name)
				continue
			}
			if !reflect.DeepEqual(simc.Sensors[i].Opts, s.Opts) || simc.Sensors[i].Bus != s.Bus {
				t.Errorf("%s: sensor %s differs from configs/sim.yaml's", f, s.Name)
			}
		}
	}
}
