package e2e

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/boards/sim"
	"github.com/wayside-iot/wayside/gateway/config"
)

// Sensor is one sensor of a generated configuration.
type Sensor struct {
	Name, Driver, Bus, Pin string
	Pins                   []string
	Address                uint16
	Interval               time.Duration
	// Options is the driver's options as one line of flow YAML, "" for the defaults.
	Options string
}

// YAML renders the sensor as one entry of a configuration's sensors list: "  - {name: ...}" and a
// newline, with only the fields that are set.
func (sn Sensor) YAML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - {name: %s, driver: %s, bus: %s, interval: %s", sn.Name, sn.Driver, sn.Bus, sn.Interval)
	if sn.Address != 0 {
		fmt.Fprintf(&b, ", address: 0x%02x", sn.Address)
	}
	if sn.Pin != "" {
		fmt.Fprintf(&b, ", pin: %s", sn.Pin)
	}
	if len(sn.Pins) > 0 {
		fmt.Fprintf(&b, ", pins: [%s]", strings.Join(sn.Pins, ", "))
	}
	if sn.Options != "" {
		fmt.Fprintf(&b, ", options: %s", sn.Options)
	}
	b.WriteString("}\n")
	return b.String()
}

// Spec is a waysided configuration for the sim board, syncing to a local broker.
type Spec struct {
	GatewayID string
	Seed      uint64
	Sensors   []Sensor
	// MaxReadings and MaxAge are batch.max_readings and batch.max_age (0: the defaults).
	MaxReadings int
	MaxAge      time.Duration
	// BufferCapacity is buffer.capacity (0: the default).
	BufferCapacity int
	// MaxInflight is cloud.max_inflight (0: the default).
	MaxInflight int
	// ReplayRate is spool.replay_rate (0: the default).
	ReplayRate float64
	// LocalSocket is local_api.socket ("": the local API is off).
	LocalSocket string
}

// YAML renders the configuration for a broker at brokerURL with its spool in spoolDir. The clock is
// trusted (a sim board has no NTP to wait for) and logs are at info.
func (s Spec) YAML(brokerURL, spoolDir string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "gateway: {id: %s, board: sim, log_level: info}\nsim: {seed: %d}\nsensors:\n", s.GatewayID, max(s.Seed, 1))
	for _, sn := range s.Sensors {
		b.WriteString(sn.YAML())
	}
	fmt.Fprintf(&b, "cloud: {brokers: [%q]", brokerURL)
	if s.MaxInflight > 0 {
		fmt.Fprintf(&b, ", max_inflight: %d", s.MaxInflight)
	}
	b.WriteString("}\nbatch: {")
	var batch []string
	if s.MaxReadings > 0 {
		batch = append(batch, fmt.Sprintf("max_readings: %d", s.MaxReadings))
	}
	if s.MaxAge > 0 {
		batch = append(batch, fmt.Sprintf("max_age: %s", s.MaxAge))
	}
	b.WriteString(strings.Join(batch, ", ") + "}\n")
	if s.BufferCapacity > 0 {
		fmt.Fprintf(&b, "buffer: {capacity: %d}\n", s.BufferCapacity)
	}
	fmt.Fprintf(&b, "spool: {dir: %q", spoolDir)
	if s.ReplayRate > 0 {
		fmt.Fprintf(&b, ", replay_rate: %g", s.ReplayRate)
	}
	socket := s.LocalSocket
	if socket == "" {
		socket = "off"
	}
	fmt.Fprintf(&b, "}\nlocal_api: {socket: %q}\nclock: {trust: always}\n", socket)
	return []byte(b.String())
}

// Check parses the configuration as the daemon will, so a bad one fails before a process starts.
func (s Spec) Check(brokerURL, spoolDir string) error {
	if _, err := config.Parse(s.YAML(brokerURL, spoolDir), boards.Check); err != nil {
		return fmt.Errorf("e2e: generated configuration:\n%w", err)
	}
	return nil
}

// SensorsOf returns the sensors of the configuration file at path (configs/sim.yaml), each sampled
// every interval when interval is not 0, else at its configured interval.
func SensorsOf(path string, interval time.Duration) ([]Sensor, error) {
	c, err := config.Load(path, boards.Check)
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	ss := make([]Sensor, len(c.Sensors))
	for i, s := range c.Sensors {
		ss[i] = Sensor{Name: s.Name, Driver: s.Driver, Bus: s.Bus, Pin: s.Pin, Pins: s.Pins, Address: s.Address, Interval: s.Interval.D()}
		if s.Opts != nil {
			if ss[i].Options, err = config.OptionsText(s.Opts); err != nil {
				return nil, fmt.Errorf("e2e: %s options: %w", s.Name, err)
			}
		}
		if interval != 0 {
			ss[i].Interval = interval
		}
	}
	return ss, nil
}

// MinInterval is the shortest sampling interval a configuration accepts.
const MinInterval = 10 * time.Millisecond

// Synthetic returns synthetic load sensors (boards/sim, sim.SyntheticChannels channels each) that
// together offer rate readings per second: as few sensors as the 10 ms minimum interval allows, all
// at the same interval. The offered rate is nominal: a sampler re-arms its timer after each sample,
// so the sample's own time stretches the period a little.
func Synthetic(rate float64) []Sensor {
	perSample := float64(sim.SyntheticChannels)
	n := max(1, int(math.Ceil(rate*MinInterval.Seconds()/perSample)))
	interval := time.Duration(float64(n) * perSample / rate * float64(time.Second)).Round(time.Millisecond)
	interval = max(interval, MinInterval)
	ss := make([]Sensor, n)
	for i := range ss {
		ss[i] = Sensor{Name: fmt.Sprintf("syn%03d", i+1), Driver: "synthetic", Bus: "sim", Interval: interval}
	}
	return ss
}

// OfferedRate is the nominal readings per second of synthetic load sensors.
func OfferedRate(sensors []Sensor) float64 {
	var r float64
	for _, s := range sensors {
		if s.Driver == "synthetic" {
			r += float64(sim.SyntheticChannels) / s.Interval.Seconds()
		}
	}
	return r
}
