package sim

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/bh1750"
	"github.com/wayside-iot/wayside/drivers/bh1750/bh1750emu"
	"github.com/wayside-iot/wayside/drivers/bme280"
	"github.com/wayside-iot/wayside/drivers/bme280/bme280emu"
	"github.com/wayside-iot/wayside/drivers/nmea"
	"github.com/wayside-iot/wayside/drivers/pms5003"
	"github.com/wayside-iot/wayside/drivers/pms5003/pms5003emu"
	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/drivers/scd4x"
	"github.com/wayside-iot/wayside/drivers/scd4x/scd4xemu"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/drivers/sht4x"
	"github.com/wayside-iot/wayside/drivers/sht4x/sht4xemu"
	"github.com/wayside-iot/wayside/drivers/vl53l0x"
	"github.com/wayside-iot/wayside/drivers/vl53l0x/vl53l0xemu"
)

// part is one simulated part: which model quantities it senses, how its emulator and real driver
// are opened, and what the driver makes of given quantities.
type part struct {
	// chansFor, when set, gives the channels for a sensor's options (nil: the defaults); chans are
	// those of the defaults.
	chansFor func(o sensor.Options) []sensor.Channel
	// unchecked names the channels whose live values depend on more than the model at the sample's
	// time (history, the real interval between samples): Expected gives their value for the
	// nominal interval, and Checked says a live reading need not equal it.
	unchecked map[string]bool
	// only, when set, names the only channels Expected knows: a part whose channels come from its
	// options (a Modbus register map) has Expected for its default map alone.
	only  map[string]bool
	bus   string // "i2c", "uart", "gpio" (from the driver registry) or "sim" (a load part)
	addr  uint16 // usual I²C address (from the driver registry)
	in    []Kind // the model quantities the part senses, in the order stim and expect take them
	chans []sensor.Channel
	// open attaches an emulator for o and opens the real driver on it.
	open func(o *opened) error
	// expectAt, when set, replaces expect for parts whose reading sums up the interval: it reads the
	// model at whatever times it needs.
	expectAt func(k uint64, model func(Kind, int64) (float64, bool), out []float64, ms int64, interval time.Duration) error
	// expect puts in through a separate emulator and the driver's conversions and stores what the
	// driver reports in out. It fails where the driver's Sample would.
	expect func(in, out []float64, ms int64, interval time.Duration) error
}

// opened is a part being opened: open fills dev, stim and, for ports, close.
type opened struct {
	spec Spec
	bus  *Bus
	addr uint16
	dev  sensor.Sensor
	// stim sets the emulator's physical state to in before the driver samples; ok is false when
	// the model has nothing for the part to sense (no vehicle in the radar beam).
	stim func(ms int64, in []float64, ok bool) error
	// close runs before the driver's Halt: it closes an emulated port so the reader goroutine ends.
	close func()
	// attached is set once the emulator is on the bus.
	attached bool
	// model is the sensor's model (Sensor.model, which tests may replace), for parts that feed
	// their emulator more than the state at the sample's time (fast noise samples, vehicles).
	model func(kind Kind, ms int64) (float64, bool)
}

// attach puts an emulator on the sensor's bus.
func (o *opened) attach(emu i2c.Bus) error {
	if err := o.bus.attach(o.addr, emu, fmt.Sprintf("sensor %s (%s)", o.spec.Name, o.spec.Driver)); err != nil {
		return err
	}
	o.attached = true
	return nil
}

func ch(name, unit string) sensor.Channel { return sensor.Channel{Name: name, Unit: unit} }

// The bus kind and usual address of each part are the driver registry's.
func init() {
	for name, p := range parts {
		if d, ok := registry.Lookup(name); ok {
			p.bus, p.addr = string(d.Bus), d.Addr
		}
	}
}

// parts lists, per driver name, the simulated part (every driver in the registry has one: see
// TestPartsMatchRegistry). Channels are the real driver's.
var parts = map[string]*part{
	"bme280":  bmePart(true),
	"bmp280":  bmePart(false),
	"ads1115": noisePart(),
	"ops243":  radarPart(),
	"pulse":   loopPart(),
	"modbus":  modbusPart(),
	"sht4x": {
		in:    []Kind{Temperature, Humidity},
		chans: []sensor.Channel{ch("temperature", "Cel"), ch("humidity", "%RH")},
		open: func(o *opened) error {
			e := sht4xemu.New(o.addr, uint32(key(o.spec.Seed, o.spec.Name)))
			if err := o.attach(e); err != nil {
				return err
			}
			d, err := sht4x.New(o.bus, o.addr, nil)
			o.dev = d
			o.stim = func(_ int64, in []float64, _ bool) error { e.Set(env(in[0], in[1], 0)); return nil }
			return err
		},
		expect: func(in, out []float64, _ int64, _ time.Duration) error {
			e := sht4xemu.New(0x44, 1)
			e.Set(env(in[0], in[1], 0))
			var b [6]byte
			if err := query(e, 0x44, b[:], []byte{0xFD}); err != nil { // measure, high repeatability
				return err
			}
			out[0] = sht4x.Celsius(binary.BigEndian.Uint16(b[0:]))
			out[1] = sht4x.RelativeHumidity(binary.BigEndian.Uint16(b[3:]))
			return nil
		},
	},
	"scd4x": {
		in:    []Kind{CO2, Temperature, Humidity},
		chans: []sensor.Channel{ch("co2", "ppm"), ch("temperature", "Cel"), ch("humidity", "%RH")},
		open: func(o *opened) error {
			// Each Set is a new measurement, so the part is ready at every Sample whatever the
			// interval: the real one measures every 5 s and the driver reports ErrNoData between.
			e := scd4xemu.New(key(o.spec.Seed, o.spec.Name) & (1<<48 - 1))
			if err := o.attach(e); err != nil {
				return err
			}
			d, err := scd4x.NewWithOptions(o.bus, o.addr, optionsOr(o.spec.Options, scd4x.DefaultOptions))
			o.dev = d
			o.stim = func(_ int64, in []float64, _ bool) error { e.Set(ppm(in[0]), env(in[1], in[2], 0)); return nil }
			return err
		},
		expect: func(in, out []float64, _ int64, _ time.Duration) error {
			e := scd4xemu.New(1)
			e.Set(ppm(in[0]), env(in[1], in[2], 0))
			var b [9]byte
			if err := query(e, scd4x.Addr, b[:], []byte{0x21, 0xB1}, []byte{0xEC, 0x05}); err != nil { // start periodic, read_measurement
				return err
			}
			out[0] = float64(binary.BigEndian.Uint16(b[0:]))
			out[1] = scd4x.Celsius(binary.BigEndian.Uint16(b[3:]))
			out[2] = scd4x.RelativeHumidity(binary.BigEndian.Uint16(b[6:]))
			return nil
		},
	},

	"bh1750": {
		in:    []Kind{Illuminance},
		chans: []sensor.Channel{ch("illuminance", "lx")},
		open: func(o *opened) error {
			e := bh1750emu.New(o.addr)
			if err := o.attach(e); err != nil {
				return err
			}
			d, err := bh1750.New(o.bus, o.addr, &bh1750.Opts{Mode: lightMode(o.spec.Interval)})
			if !isDefault(o.spec.Options, bh1750.DefaultOptions) { // the site's settings, not the sim's tuning
				d, err = bh1750.NewWithOptions(o.bus, o.addr, optionsOr(o.spec.Options, bh1750.DefaultOptions))
			}
			o.dev = d
			o.stim = func(_ int64, in []float64, _ bool) error { e.Set(in[0]); return nil }
			return err
		},
		expect: func(in, out []float64, _ int64, interval time.Duration) error {
			e := bh1750emu.New(0x23)
			e.Set(in[0])
			var b [2]byte
			if err := query(e, 0x23, b[:], []byte{0x01}, []byte{byte(lightMode(interval))}); err != nil { // power on, measure
				return err
			}
			// 1.2 counts per lx in both H and L resolution mode (datasheet, "measurement procedure").
			out[0] = float64(binary.BigEndian.Uint16(b[:])) / 1.2
			return nil
		},
	},
	"vl53l0x": {
		in:    []Kind{Distance},
		chans: []sensor.Channel{ch("distance", "m"), ch("occupied", "/")},
		open: func(o *opened) error {
			e := vl53l0xemu.New(o.addr)
			if err := o.attach(e); err != nil {
				return err
			}
			d, err := vl53l0x.New(o.bus, o.addr, &bayOpts)
			if !isDefault(o.spec.Options, vl53l0x.DefaultOptions) {
				d, err = vl53l0x.NewWithOptions(o.bus, o.addr, optionsOr(o.spec.Options, vl53l0x.DefaultOptions))
			}
			o.dev = d
			o.stim = func(_ int64, in []float64, _ bool) error { aim(e, in[0]); return nil }
			return err
		},
		expect: func(in, out []float64, _ int64, _ time.Duration) error {
			e := vl53l0xemu.New(0x29)
			aim(e, in[0])
			var b [12]byte
			if err := e.Tx(0x29, []byte{0x00, 0x01}, nil); err != nil { // SYSRANGE_START
				return err
			}
			if err := e.Tx(0x29, []byte{0x14}, b[:]); err != nil { // result block
				return err
			}
			dist := bayOpts.NoTarget
			if mm := binary.BigEndian.Uint16(b[10:]); b[0]>>3 == 11 && mm < 8190 { // valid range
				dist = physic.Distance(mm) * physic.MilliMetre
			}
			out[0] = float64(dist) / float64(physic.Metre)
			out[1] = 0
			if dist < bayOpts.OccupiedBelow { // never inside the band: see bayOpts
				out[1] = 1
			}
			return nil
		},
	},
	"pms5003": {
		in:    []Kind{PM1, PM25, PM10},
		chans: []sensor.Channel{ch("pm1", "ug/m3"), ch("pm2_5", "ug/m3"), ch("pm10", "ug/m3")},
		open: func(o *opened) error {
			p := newPort()
			d, err := pms5003.New(p, o.spec.Port, nil)
			buf := make([]byte, 0, pms5003.FrameLen)
			o.dev, o.close = d, p.h.close
			o.stim = func(_ int64, in []float64, _ bool) error {
				buf = pms5003emu.Append(buf[:0], pms5003emu.Atmospheric(u16(in[0]), u16(in[1]), u16(in[2])))
				return p.feed(buf)
			}
			return err
		},
		expect: func(in, out []float64, _ int64, _ time.Duration) error {
			b := pms5003emu.Encode(pms5003emu.Atmospheric(u16(in[0]), u16(in[1]), u16(in[2])))
			var f pms5003.Frame
			if err := pms5003.Decode(b[:], &f); err != nil {
				return err
			}
			out[0], out[1], out[2] = float64(f.PM1), float64(f.PM25), float64(f.PM10)
			return nil
		},
	},

	"nmea": {
		in:    []Kind{Latitude, Longitude, Altitude, FixQuality, Satellites},
		chans: []sensor.Channel{ch("lat", "lat"), ch("lon", "lon"), ch("altitude", "m"), ch("fix_quality", "/"), ch("satellites", "count")},
		open: func(o *opened) error {
			p := newPort()
			opts := nmea.DefaultOpts
			opts.Name = o.spec.Port
			d, err := nmea.New(p, &opts)
			buf := make([]byte, 0, 96)
			o.dev, o.close = d, p.h.close
			o.stim = func(ms int64, in []float64, _ bool) error {
				f := gga(ms, in)
				buf = nmea.AppendGGA(buf[:0], &f)
				return p.feed(buf)
			}
			return err
		},
		expect: func(in, out []float64, ms int64, _ time.Duration) error {
			f := gga(ms, in)
			var got nmea.Fix
			if _, err := nmea.Parse(nmea.AppendGGA(nil, &f), &got); err != nil {
				return err
			}
			out[0], out[1], out[2] = got.Lat, got.Lon, float64(got.Altitude)/1e9
			out[3], out[4] = float64(got.Quality), float64(got.Satellites)
			return nil
		},
	},
}

func bmePart(bme bool) *part {
	p := &part{in: []Kind{Temperature, Pressure},
		chans: []sensor.Channel{ch("temperature", "Cel"), ch("pressure", "Pa")}}
	if bme {
		p.in = []Kind{Temperature, Pressure, Humidity}
		p.chans = []sensor.Channel{ch("temperature", "Cel"), ch("humidity", "%RH"), ch("pressure", "Pa")}
	}
	p.open = func(o *opened) error {
		e := bme280emu.New(o.addr, bme)
		if err := o.attach(e); err != nil {
			return err
		}
		d, err := bme280.NewWithOptions(o.bus, o.addr, optionsOr(o.spec.Options, bme280.DefaultOptions))
		o.dev = d
		o.stim = func(_ int64, in []float64, _ bool) error { e.Set(bmeEnv(in)); return nil }
		return err
	}
	p.expect = func(in, out []float64, _ int64, _ time.Duration) error {
		return bmeRefs[b2i(bme)].sample(bme, bmeEnv(in), out)
	}
	return p
}

func bmeEnv(in []float64) physic.Env {
	h := 0.0
	if len(in) == 3 {
		h = in[2]
	}
	return env(in[0], h, in[1])
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bmeRef decodes like the driver by being the driver: the BME280's compensation is integer code
// inside package bme280, so Expected runs a second emulator and driver. A Sample waits the
// measurement time (about 9 ms), so results are kept.
type bmeRef struct {
	mu   sync.Mutex
	dev  *bme280.Dev
	emu  *bme280emu.Emu
	memo map[physic.Env][3]float64
}

var bmeRefs [2]bmeRef // BMP280, BME280

// maxMemo bounds bmeRef.memo: past it the memo starts again.
const maxMemo = 1 << 14

func (r *bmeRef) sample(bme bool, env physic.Env, out []float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.memo[env]; ok {
		copy(out, v[:])
		return nil
	}
	if r.dev == nil {
		r.emu = bme280emu.New(0x76, bme)
		opts := bme280.DefaultOpts
		opts.StuckAfter = 0 // the memo would hide repeats anyway; values must not depend on history
		d, err := bme280.New(r.emu, 0x76, &opts)
		if err != nil {
			return err
		}
		r.dev = d
	}
	if r.memo == nil || len(r.memo) >= maxMemo {
		r.memo = map[physic.Env][3]float64{}
	}
	r.emu.Set(env)
	var v [3]float64
	if err := r.dev.Sample(time.Time{}, v[:len(out)]); err != nil {
		return err
	}
	r.memo[env] = v
	copy(out, v[:])
	return nil
}

// query writes each command to e, then reads the reply into r without a register pointer, as the
// Sensirion and ROHM drivers do.
func query(e i2c.Bus, addr uint16, r []byte, cmds ...[]byte) error {
	for _, c := range cmds {
		if err := e.Tx(addr, c, nil); err != nil {
			return err
		}
	}
	return e.Tx(addr, nil, r)
}

func env(celsius, rh, pa float64) physic.Env {
	return physic.Env{
		Temperature: physic.ZeroCelsius + physic.Temperature(math.Round(celsius*float64(physic.Celsius))),
		Pressure:    physic.Pressure(math.Round(pa * float64(physic.Pascal))),
		Humidity:    physic.RelativeHumidity(math.Round(rh * float64(physic.PercentRH))),
	}
}

func ppm(v float64) uint16 { return u16(v) }

func u16(v float64) uint16 { return uint16(math.Round(min(max(v, 0), 65535))) }

// lightMode is the BH1750 mode for a sampling interval: H-resolution needs 180 ms per measurement,
// so shorter intervals than a second use L-resolution (24 ms, 4 count steps).
func lightMode(interval time.Duration) bh1750.Mode {
	if interval >= time.Second {
		return bh1750.HighRes
	}
	return bh1750.LowRes
}

// bayOpts are the VL53L0X options of the sim: the driver's defaults with Confirm 1. The model's
// distances are 0.40..0.50 m for a parked car and no target for an empty bay, never inside the
// OccupiedBelow..FreeAbove band, so with Confirm 1 the occupancy follows each sample alone and
// Expected can compute it from one time.
var bayOpts = func() vl53l0x.Opts {
	o := vl53l0x.DefaultOpts
	o.Confirm = 1
	return o
}()

// aim points the emulated VL53L0X at a target m metres away; beyond the part's range it sees none.
func aim(e *vl53l0xemu.Emu, m float64) {
	if m > float64(vl53l0x.MaxRange)/float64(physic.Metre) {
		e.SetNoTarget()
		return
	}
	e.SetDistance(physic.Distance(math.Round(m * float64(physic.Metre))))
}

// gga is the fix a receiver reports at ms for the model's lat, lon, altitude, quality, satellites.
func gga(ms int64, in []float64) nmea.Fix {
	day := ms % (24 * 3600 * 1000)
	if day < 0 {
		day += 24 * 3600 * 1000
	}
	return nmea.Fix{
		Lat: in[0], Lon: in[1], Altitude: physic.Distance(math.Round(in[2] * float64(physic.Metre))),
		Quality: uint8(in[3]), Satellites: uint8(in[4]), HDOP: 0.9,
		TimeOfDay: time.Duration(day) * time.Millisecond,
	}
}
