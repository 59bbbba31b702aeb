// Package bme280emu emulates a Bosch BME280 or BMP280 on an I²C bus, for the simulated board and
// for tests: it answers the chip id, calibration, status and measurement registers like the part,
// for a physical state set with Set.
//
// The emulator turns the state into ADC counts by searching the datasheet's double-precision
// compensation formulas (BME280 section 8.1), an implementation separate from the driver's integer
// one, so a driver test through the emulator checks the driver's decoding.
package bme280emu

import (
	"encoding/binary"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Calibration is the trimming the emulated part reports (BME280 table 16). Temperature and
// pressure are the BMP280 datasheet's worked example (section 3.12); humidity values are of the
// usual magnitude.
type Calibration struct {
	T1                             uint16
	T2, T3                         int16
	P1                             uint16
	P2, P3, P4, P5, P6, P7, P8, P9 int16
	H1                             uint8
	H2                             int16
	H3                             uint8
	H4, H5                         int16
	H6                             int8
}

// DefaultCalibration is used by New.
var DefaultCalibration = Calibration{
	T1: 27504, T2: 26435, T3: -1000,
	P1: 36477, P2: -10685, P3: 3024, P4: 2855, P5: 140, P6: -7, P7: 15500, P8: -14600, P9: 6000,
	H1: 75, H2: 362, H3: 0, H4: 333, H5: 0, H6: 30,
}

// Emu is an emulated part. It implements i2c.Bus; all methods are safe for concurrent use.
type Emu struct {
	mu       sync.Mutex
	addr     uint16
	humidity bool
	cal      Calibration
	regs     [256]byte
	tempC    float64
	rh       float64
	pa       float64
	// Measurements counts the forced measurements done.
	measurements int
}

// New returns a BME280 (bme true, chip id 0x60) or BMP280 (chip id 0x58) at addr, at 20 °C,
// 50 %RH and 101325 Pa.
func New(addr uint16, bme bool) *Emu {
	e := &Emu{addr: addr, humidity: bme, cal: DefaultCalibration, tempC: 20, rh: 50, pa: 101325}
	e.reset()
	return e
}

// Set changes the physical state the next measurement reports. Humidity is ignored on a BMP280.
func (e *Emu) Set(env physic.Env) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tempC = env.Temperature.Celsius()
	e.pa = float64(env.Pressure) / float64(physic.Pascal)
	e.rh = float64(env.Humidity) / float64(physic.PercentRH)
}

// Measurements returns how many forced measurements the driver triggered.
func (e *Emu) Measurements() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.measurements
}

func (e *Emu) reset() {
	e.regs = [256]byte{}
	if e.humidity {
		e.regs[0xD0] = 0x60
	} else {
		e.regs[0xD0] = 0x58
	}
	c := e.cal
	le := binary.LittleEndian
	for i, v := range []uint16{c.T1, uint16(c.T2), uint16(c.T3), c.P1, uint16(c.P2), uint16(c.P3),
		uint16(c.P4), uint16(c.P5), uint16(c.P6), uint16(c.P7), uint16(c.P8), uint16(c.P9)} {
		le.PutUint16(e.regs[0x88+2*i:], v)
	}
	if e.humidity {
		e.regs[0xA1] = c.H1
		le.PutUint16(e.regs[0xE1:], uint16(c.H2))
		e.regs[0xE3] = c.H3
		e.regs[0xE4] = byte(c.H4 >> 4)
		e.regs[0xE5] = byte(c.H4&0x0F) | byte(c.H5&0x0F)<<4
		e.regs[0xE6] = byte(c.H5 >> 4)
		e.regs[0xE7] = byte(c.H6)
	}
	// Data registers hold the "skipped" values until a measurement (section 4.2.2).
	copy(e.regs[0xF7:], []byte{0x80, 0, 0, 0x80, 0, 0, 0x80, 0})
}

// String implements i2c.Bus.
func (e *Emu) String() string { return "bme280emu" }

// SetSpeed implements i2c.Bus.
func (e *Emu) SetSpeed(physic.Frequency) error { return nil }

// Tx implements i2c.Bus: a write of register/value pairs, or a register pointer followed by a read.
func (e *Emu) Tx(addr uint16, w, r []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if addr != e.addr {
		return fmt.Errorf("bme280emu: NACK at %#x", addr)
	}
	if len(r) > 0 {
		if len(w) != 1 {
			return fmt.Errorf("bme280emu: read needs a 1 byte register pointer, got %d bytes", len(w))
		}
		for i := range r {
			r[i] = e.regs[(int(w[0])+i)&0xFF]
		}
		return nil
	}
	if len(w) == 0 || len(w)%2 != 0 {
		return fmt.Errorf("bme280emu: write of %d bytes is not register/value pairs", len(w))
	}
	for i := 0; i < len(w); i += 2 {
		e.write(w[i], w[i+1])
	}
	return nil
}

func (e *Emu) write(reg, v byte) {
	switch reg {
	case 0xE0:
		if v == 0xB6 {
			e.reset()
		}
	case 0xF2, 0xF5:
		e.regs[reg] = v
	case 0xF4:
		e.regs[reg] = v
		if v&3 != 0 { // forced mode: measure now and fall back to sleep
			e.measure(v>>5, (v>>2)&7, e.regs[0xF2]&7)
			e.regs[0xF4] = v &^ 3
		}
	}
}

// measure fills the data registers; ctrl_hum is the value latched by this ctrl_meas write.
func (e *Emu) measure(osrsT, osrsP, osrsH byte) {
	e.measurements++
	adcT, adcP, adcH := uint32(0x80000), uint32(0x80000), uint32(0x8000)
	var tFine float64
	if osrsT != 0 {
		adcT = uint32(search(0, 1<<20-1, true, func(a int) float64 { return e.tFine(float64(a)) / 5120 }, e.tempC))
		tFine = e.tFine(float64(adcT))
		if osrsP != 0 {
			adcP = uint32(search(0, 1<<20-1, false, func(a int) float64 { return e.pressure(float64(a), tFine) }, e.pa))
		}
		if osrsH != 0 && e.humidity {
			adcH = uint32(search(0, 1<<16-1, true, func(a int) float64 { return e.humidityOf(float64(a), tFine) }, e.rh))
		}
	}
	b := e.regs[0xF7:]
	b[0], b[1], b[2] = byte(adcP>>12), byte(adcP>>4), byte(adcP<<4)
	b[3], b[4], b[5] = byte(adcT>>12), byte(adcT>>4), byte(adcT<<4)
	if e.humidity {
		b[6], b[7] = byte(adcH>>8), byte(adcH)
	}
}

// search returns the input in lo..hi whose f is closest to want; f is monotonic, increasing when
// up is true.
func search(lo, hi int, up bool, f func(int) float64, want float64) int {
	for lo < hi {
		mid := (lo + hi) / 2
		if (f(mid) < want) == up {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo > 0 && abs(f(lo-1)-want) < abs(f(lo)-want) {
		return lo - 1
	}
	return lo
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// tFine is the double-precision t_fine (BME280 section 8.1).
func (e *Emu) tFine(adcT float64) float64 {
	c := e.cal
	v1 := (adcT/16384 - float64(c.T1)/1024) * float64(c.T2)
	d := adcT/131072 - float64(c.T1)/8192
	return v1 + d*d*float64(c.T3)
}

// pressure is the double-precision pressure formula in Pa (BME280 section 8.1).
func (e *Emu) pressure(adcP, tFine float64) float64 {
	c := e.cal
	v1 := tFine/2 - 64000
	v2 := v1 * v1 * float64(c.P6) / 32768
	v2 += v1 * float64(c.P5) * 2
	v2 = v2/4 + float64(c.P4)*65536
	v1 = (float64(c.P3)*v1*v1/524288 + float64(c.P2)*v1) / 524288
	v1 = (1 + v1/32768) * float64(c.P1)
	p := 1048576 - adcP
	p = (p - v2/4096) * 6250 / v1
	v1 = float64(c.P9) * p * p / 2147483648
	v2 = p * float64(c.P8) / 32768
	return p + (v1+v2+float64(c.P7))/16
}

// humidityOf is the double-precision humidity formula in %RH, unclamped (BME280 section 8.1).
func (e *Emu) humidityOf(adcH, tFine float64) float64 {
	c := e.cal
	v := tFine - 76800
	v = (adcH - (float64(c.H4)*64 + float64(c.H5)/16384*v)) *
		(float64(c.H2) / 65536 * (1 + float64(c.H6)/67108864*v*(1+float64(c.H3)/67108864*v)))
	return v * (1 - float64(c.H1)*v/524288)
}

var _ i2c.Bus = (*Emu)(nil)
