package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

type channel struct {
	sensor.Channel
	kind Kind
}

// drivers lists, per hardware driver, the channels the simulated part reports: the same names and
// units as the real driver's Channels().
var drivers = map[string][]channel{
	"bme280":  {{sensor.Channel{Name: "temperature", Unit: "Cel"}, Temperature}, {sensor.Channel{Name: "humidity", Unit: "%RH"}, Humidity}, {sensor.Channel{Name: "pressure", Unit: "Pa"}, Pressure}},
	"bmp280":  {{sensor.Channel{Name: "temperature", Unit: "Cel"}, Temperature}, {sensor.Channel{Name: "pressure", Unit: "Pa"}, Pressure}},
	"sht4x":   {{sensor.Channel{Name: "temperature", Unit: "Cel"}, Temperature}, {sensor.Channel{Name: "humidity", Unit: "%RH"}, Humidity}},
	"scd4x":   {{sensor.Channel{Name: "co2", Unit: "ppm"}, CO2}, {sensor.Channel{Name: "temperature", Unit: "Cel"}, Temperature}, {sensor.Channel{Name: "humidity", Unit: "%RH"}, Humidity}},
	"pms5003": {{sensor.Channel{Name: "pm1", Unit: "ug/m3"}, PM1}, {sensor.Channel{Name: "pm2_5", Unit: "ug/m3"}, PM25}, {sensor.Channel{Name: "pm10", Unit: "ug/m3"}, PM10}},
	"ads1115": {{sensor.Channel{Name: "noise", Unit: "dB"}, Noise}},
	"bh1750":  {{sensor.Channel{Name: "illuminance", Unit: "lx"}, Illuminance}},
	"pulse":   {{sensor.Channel{Name: "vehicles", Unit: "count"}, Vehicles}},
	"ops243":  {{sensor.Channel{Name: "speed", Unit: "m/s"}, Speed}},
	"vl53l0x": {{sensor.Channel{Name: "distance", Unit: "m"}, Distance}, {sensor.Channel{Name: "occupied", Unit: "/"}, Occupied}},
	"nmea": {{sensor.Channel{Name: "lat", Unit: "lat"}, Latitude}, {sensor.Channel{Name: "lon", Unit: "lon"}, Longitude},
		{sensor.Channel{Name: "alt", Unit: "m"}, Altitude}, {sensor.Channel{Name: "fix", Unit: "/"}, FixQuality}, {sensor.Channel{Name: "satellites", Unit: "count"}, Satellites}},
}

// Drivers lists the driver names the simulated board can stand in for.
func Drivers() []string {
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Sensor is a simulated part.
type Sensor struct {
	name, driver string
	key          uint64
	interval     time.Duration
	chans        []channel
	pub          []sensor.Channel
}

// NewSensor returns the simulated stand-in for driver, for the sensor configured as name, sampled every
// interval.
func NewSensor(seed uint64, name, driver string, interval time.Duration) (*Sensor, error) {
	chans, ok := drivers[driver]
	if !ok {
		return nil, fmt.Errorf("sim: no simulated %q; the sim board has %s", driver, strings.Join(Drivers(), ", "))
	}
	s := &Sensor{name: name, driver: driver, key: key(seed, name), interval: interval, chans: chans}
	for _, c := range chans {
		s.pub = append(s.pub, c.Channel)
	}
	return s, nil
}

func (s *Sensor) String() string { return fmt.Sprintf("sim-%s(%s)", s.driver, s.name) }

// Channels implements sensor.Sensor.
func (s *Sensor) Channels() []sensor.Channel { return s.pub }

// Sample implements sensor.Sensor: the model's values at at, truncated to the millisecond.
func (s *Sensor) Sample(at time.Time, dst []float64) error {
	ms := at.UnixMilli()
	for i, c := range s.chans {
		v, ok := value(s.key, c.kind, ms, s.interval)
		if !ok {
			return fmt.Errorf("sim: %s: %w", s.name, sensor.ErrNoData)
		}
		dst[i] = v
	}
	return nil
}

// Halt implements sensor.Sensor.
func (s *Sensor) Halt() error { return nil }

// Expected returns what the simulated sensor name (driver, sampled every interval, under seed) reports
// for channel at ms, and false when it reports nothing then.
func Expected(seed uint64, name, driver, channel string, ms int64, interval time.Duration) (float64, bool) {
	k := key(seed, name)
	for _, c := range drivers[driver] {
		if c.Name == channel {
			return value(k, c.kind, ms, interval)
		}
	}
	return 0, false
}

var _ sensor.Sensor = (*Sensor)(nil)
