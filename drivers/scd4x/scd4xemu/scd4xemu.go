// Package scd4xemu emulates a Sensirion SCD40/SCD41 on an I²C bus, for the simulated board and for
// tests: wake-up, periodic measurement start/stop, serial number, data ready status and
// read_measurement with CRC-protected words, for a state set with Set. Each Set is one new
// measurement; PowerCycle resets the part to idle.
//
// It keeps the settings the driver writes (sensor altitude, temperature offset, automatic
// self-calibration: idle mode only, as on the part; ambient pressure: at any time) and answers their
// get_ commands, so tests read them back over the bus or through Settings. The settings do not change
// the values reported: the real part compensates inside, and the emulator reports what Set stored.
package scd4xemu

import (
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/wayside-iot/wayside/drivers/scd4x"
)

// Emu is an emulated SCD4x at 0x62. It implements i2c.Bus; all methods are safe for concurrent use.
type Emu struct {
	mu       sync.Mutex
	serial   uint64
	co2      uint16
	tempC    float64
	rh       float64
	periodic bool
	asleep   bool // power_down: only wake_up gets through
	starts   int  // start commands received, refused ones too
	fresh    bool
	settings Settings
	pending  []byte
	reply    [9]byte
}

// Settings are the part's compensation settings, as raw words on the wire.
type Settings struct {
	Altitude          uint16 // m (set_sensor_altitude 0x2427, get 0x2322)
	TemperatureOffset uint16 // °C * 2^16 / 175 (set_temperature_offset 0x241D, get 0x2318)
	ASC               uint16 // 1 on, 0 off (set_automatic_self_calibration_enabled 0x2416, get 0x2313)
	Pressure          uint16 // hPa, 0 until set_ambient_pressure (0xE000) was received
	Persists          int    // persist_settings (0x3615) commands received: EEPROM writes
}

// factory is the part's state after a power cycle: the datasheet's defaults (altitude 0 m, offset
// 4 °C = 0x05DA, ASC on), no ambient pressure.
var factory = Settings{TemperatureOffset: 0x05DA, ASC: 1}

// New returns an SCD4x with the given 48 bit serial number, idle, at 420 ppm, 20 °C and 50 %RH,
// with factory settings.
func New(serial uint64) *Emu {
	return &Emu{serial: serial, co2: 420, tempC: 20, rh: 50, settings: factory}
}

// Settings returns the settings the part runs with.
func (e *Emu) Settings() Settings {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.settings
}

// Set stores a new measurement: get_data_ready_status reports it until read_measurement reads it.
func (e *Emu) Set(co2ppm uint16, env physic.Env) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.co2 = co2ppm
	e.tempC = env.Temperature.Celsius()
	e.rh = float64(env.Humidity) / float64(physic.PercentRH)
	e.fresh = true
}

// PowerCycle emulates a reset of the part (a brown-out or a power cycle of its supply): it comes back
// idle, with no measurement pending.
func (e *Emu) PowerCycle() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.periodic, e.asleep, e.fresh, e.pending = false, false, false, nil
	p := e.settings.Persists
	e.settings = factory // nothing was persisted to EEPROM
	e.settings.Persists = p
}

// PowerDown puts the part in power-down mode, as power_down (0x36E0) does: it ignores everything but
// wake_up.
func (e *Emu) PowerDown() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.asleep, e.periodic, e.fresh, e.pending = true, false, false, nil
}

// Starts counts the start_(low_power_)periodic_measurement commands received, refused ones too.
func (e *Emu) Starts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.starts
}

// Periodic reports whether periodic measurement runs.
func (e *Emu) Periodic() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.periodic
}

// String implements i2c.Bus.
func (e *Emu) String() string { return "scd4xemu" }

// SetSpeed implements i2c.Bus.
func (e *Emu) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus: either a two-byte command or a read of the pending reply.
func (e *Emu) Tx(addr uint16, w, r []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if addr != scd4x.Addr {
		return fmt.Errorf("scd4xemu: NACK at %#x", addr)
	}
	switch {
	case len(w) == 2 && len(r) == 0:
		return e.command(uint16(w[0])<<8 | uint16(w[1]))
	case len(w) == 5 && len(r) == 0:
		if scd4x.CRC8(w[2:4]) != w[4] {
			return fmt.Errorf("scd4xemu: NACK: argument CRC %#02x, want %#02x", w[4], scd4x.CRC8(w[2:4]))
		}
		return e.set(uint16(w[0])<<8|uint16(w[1]), uint16(w[2])<<8|uint16(w[3]))
	case len(w) == 0 && len(r) > 0:
		if e.pending == nil || len(r) > len(e.pending) {
			return fmt.Errorf("scd4xemu: NACK: no reply of %d bytes pending", len(r))
		}
		copy(r, e.pending)
		e.pending = nil
		return nil
	}
	return fmt.Errorf("scd4xemu: unsupported transaction w=%d r=%d bytes", len(w), len(r))
}

func (e *Emu) command(c uint16) error {
	e.pending = nil
	if e.asleep && c != 0x36F6 {
		return fmt.Errorf("scd4xemu: NACK: powered down")
	}
	switch c {
	case 0x21B1, 0x21AC: // start_(low_power_)periodic_measurement: refused while it runs
		e.starts++
		if e.periodic {
			return fmt.Errorf("scd4xemu: NACK: periodic measurement already running")
		}
		e.periodic = true
	case 0x3F86: // stop_periodic_measurement
		e.periodic = false
	case 0x36F6: // wake_up: the real part wakes but does not acknowledge it
		e.asleep = false
		return fmt.Errorf("scd4xemu: NACK: wake_up is not acknowledged")
	case 0x36E0: // power_down, only from idle
		if e.periodic {
			return fmt.Errorf("scd4xemu: NACK: power_down during periodic measurement")
		}
		e.asleep = true
	case 0x3682: // get_serial_number: refused during periodic measurement
		if e.periodic {
			return fmt.Errorf("scd4xemu: NACK: get_serial_number during periodic measurement")
		}
		e.setReply(uint16(e.serial>>32), uint16(e.serial>>16), uint16(e.serial))
	case 0x2322, 0x2318, 0x2313: // get_sensor_altitude, get_temperature_offset, get_asc: idle only
		if e.periodic {
			return fmt.Errorf("scd4xemu: NACK: %#04x during periodic measurement", c)
		}
		e.setReply(map[uint16]uint16{0x2322: e.settings.Altitude, 0x2318: e.settings.TemperatureOffset, 0x2313: e.settings.ASC}[c])
	case 0x3615: // persist_settings: idle only
		if e.periodic {
			return fmt.Errorf("scd4xemu: NACK: persist_settings during periodic measurement")
		}
		e.settings.Persists++
	case 0xE4B8: // get_data_ready_status
		status := uint16(0x8000) // upper bits undefined, lower 11 bits 0: not ready
		if e.periodic && e.fresh {
			status |= 0x0006
		}
		e.setReply(status)
	case 0xEC05: // read_measurement
		if !e.periodic || !e.fresh {
			return fmt.Errorf("scd4xemu: NACK: no new measurement")
		}
		// Inverse of section 3.5.2: word = (T + 45) * 65535 / 175, word = RH * 65535 / 100.
		e.setReply(e.co2, word((e.tempC+45)*65535/175), word(e.rh*65535/100))
		e.fresh = false
	default:
		return fmt.Errorf("scd4xemu: NACK: unknown command %#04x", c)
	}
	return nil
}

// set handles the commands that carry one argument word.
func (e *Emu) set(c, arg uint16) error {
	e.pending = nil
	if e.asleep {
		return fmt.Errorf("scd4xemu: NACK: powered down")
	}
	if c == 0xE000 { // set_ambient_pressure, also during periodic measurement
		e.settings.Pressure = arg
		return nil
	}
	if e.periodic {
		return fmt.Errorf("scd4xemu: NACK: %#04x during periodic measurement", c)
	}
	switch c {
	case 0x2427:
		e.settings.Altitude = arg
	case 0x241D:
		e.settings.TemperatureOffset = arg
	case 0x2416:
		if arg > 1 {
			return fmt.Errorf("scd4xemu: NACK: ASC %#04x is not 0 or 1", arg)
		}
		e.settings.ASC = arg
	default:
		return fmt.Errorf("scd4xemu: NACK: unknown command %#04x with an argument", c)
	}
	return nil
}

func (e *Emu) setReply(words ...uint16) {
	for i, w := range words {
		g := e.reply[3*i : 3*i+3]
		g[0], g[1] = byte(w>>8), byte(w)
		g[2] = scd4x.CRC8(g[:2])
	}
	e.pending = e.reply[:3*len(words)]
}

func word(v float64) uint16 {
	return uint16(math.Round(min(max(v, 0), 65535)))
}

var _ i2c.Bus = (*Emu)(nil)
