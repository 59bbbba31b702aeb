package benchsuite

import (
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/wayside-iot/wayside/boards/sim"
	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// CabinetSensor is one sensor of the typical cabinet: its configured name, its driver and the
// channels that driver reports, in its order.
type CabinetSensor struct {
	Name     string
	Driver   string
	Channels []sensor.Channel
}

// Cabinet is the typical roadside cabinet the wire figures describe: the sensors of configs/sim.yaml
// but its SHT4x (whose temperature and humidity the BME280 already gives): environment, CO2,
// particulates, noise, light, a traffic loop, a radar, a parking bay and a GPS receiver, 20 channels in
// all, every sensor sampled once a second: 20 readings a second. Of the interval aggregates the cabinet
// keeps one channel each, as the wire figures have always counted them: the noise meter's LAeq, the
// loop's volume and the radar's mean speed (0 in a second without a vehicle).
var Cabinet = []CabinetSensor{
	{"env1", "bme280", chans("temperature", "Cel", 0.01, "humidity", "%RH", 1.0/128, "pressure", "Pa", 0.125)},
	{"co2", "scd4x", chans("co2", "ppm", 1, "temperature", "Cel", 0.01, "humidity", "%RH", 0.01)},
	{"pm1", "pms5003", chans("pm1", "ug/m3", 1, "pm2_5", "ug/m3", 1, "pm10", "ug/m3", 1)},
	{"noise1", "ads1115", chans("laeq", "dB", 0.1)},
	{"light1", "bh1750", chans("illuminance", "lx", 1)},
	{"loop1", "pulse", chans("volume", "count", 1)},
	{"radar1", "ops243", chans("speed", "m/s", 0.01)},
	{"bay1", "vl53l0x", chans("distance", "m", 0.001, "occupied", "/", 1)},
	{"gps", "nmea", chans("lat", "lat", 1e-7, "lon", "lon", 1e-7, "altitude", "m", 0.1, "fix_quality", "/", 1, "satellites", "count", 1)},
}

// chans lists channels as name, unit, resolution triples; the resolutions are the drivers' own
// (TestCabinetMatchesSimBoard compares them).
func chans(nameUnitRes ...any) []sensor.Channel {
	cs := make([]sensor.Channel, 0, len(nameUnitRes)/3)
	for i := 0; i+2 < len(nameUnitRes); i += 3 {
		res, ok := nameUnitRes[i+2].(float64)
		if !ok {
			res = float64(nameUnitRes[i+2].(int))
		}
		cs = append(cs, sensor.Channel{Name: nameUnitRes[i].(string), Unit: nameUnitRes[i+1].(string), Resolution: res})
	}
	return cs
}

// The cabinet's identity and clock: a gateway id of the documented form, a boot id as the gateway
// makes them (16 random bytes in hex), the sim seed of configs/sim.yaml, a batch sequence number a
// gateway reaches after about a month of 5-second batches, and a Tuesday morning (UTC) for the
// model's daily curves.
const (
	CabinetGatewayID = "gw-0001"
	CabinetBootID    = "5f0c2a9e71d44b08a3c6e1f27b9d5043"
	CabinetSeed      = 42
	CabinetSeq       = 500_000
	// CabinetInterval is every cabinet sensor's sampling interval.
	CabinetInterval = time.Second
	// CabinetJitter bounds how late a sample is taken after its grid slot (timer and bus latency):
	// the gateway stamps the slot, so it orders the readings but does not show in their times.
	CabinetJitter = 15 * time.Millisecond
)

// CabinetStart is when the cabinet's first second begins.
var CabinetStart = time.Date(2025, 6, 3, 10, 0, 0, 0, time.UTC)

// CabinetChannels is the cabinet's channel table as the gateway builds it ("/env1/temperature").
func CabinetChannels() []senml.Channel {
	var cs []senml.Channel
	for _, s := range Cabinet {
		for _, c := range s.Channels {
			cs = append(cs, senml.Channel{Name: "/" + s.Name + "/" + c.Name, Unit: c.Unit, Resolution: c.Resolution})
		}
	}
	return cs
}

// CabinetReadingsPerSecond is the cabinet's nominal rate: one reading per channel per second.
func CabinetReadingsPerSecond() int { return len(CabinetChannels()) }

// CabinetReadings returns the cabinet's first n readings from CabinetStart, in the order the gateway
// pushes them: samples in the order they are taken, a sample's channels in the driver's order. Every
// sensor is sampled on the wall clock's grid, as the gateway does (gateway/sample.go): in second k
// its slot is CabinetStart + k s and the reading is stamped with it; the sample is taken up to
// CabinetJitter later (a hash of its name and k), which only orders the readings. Values are what
// the sim board's real drivers report at the slot (sim.Expected); a sensor with nothing to report
// then (no vehicle in the radar's beam) gives no reading.
func CabinetReadings(n int) ([]buffer.Reading, error) {
	type sample struct {
		ms     int64 // the grid slot, the reading's time
		sensor int
		late   int64 // ms after the slot the sample is taken
	}
	rs := make([]buffer.Reading, 0, n)
	first := make([]uint32, len(Cabinet)) // each sensor's first channel index
	for i := 1; i < len(Cabinet); i++ {
		first[i] = first[i-1] + uint32(len(Cabinet[i-1].Channels))
	}
	for sec := int64(0); len(rs) < n; sec++ {
		if sec > int64(n)+60 {
			return nil, fmt.Errorf("benchsuite: cabinet: only %d of %d readings after %d s", len(rs), n, sec)
		}
		samples := make([]sample, len(Cabinet))
		slot := CabinetStart.UnixMilli() + sec*CabinetInterval.Milliseconds()
		for i, s := range Cabinet {
			samples[i] = sample{ms: slot, sensor: i, late: int64(hash(s.Name, sec) % uint64(CabinetJitter.Milliseconds()+1))}
		}
		slices.SortStableFunc(samples, func(a, b sample) int { return int(a.late - b.late) })
		for _, smp := range samples {
			s := Cabinet[smp.sensor]
			vals := make([]float64, len(s.Channels))
			ok := true
			for j, c := range s.Channels {
				vals[j], ok = sim.Expected(CabinetSeed, s.Name, s.Driver, c.Name, smp.ms, CabinetInterval)
				if !ok {
					break
				}
			}
			if !ok {
				continue
			}
			for j, v := range vals {
				if len(rs) == n {
					break
				}
				rs = append(rs, buffer.Reading{Time: smp.ms * int64(time.Millisecond), Value: v, Channel: first[smp.sensor] + uint32(j)})
			}
		}
	}
	return rs, nil
}

// hash spreads (name, n) over uint64 for the cabinet's phases and jitter.
func hash(name string, n int64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	x := h.Sum64() ^ uint64(n)*0x9e3779b97f4a7c15
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	return x ^ x>>29
}
