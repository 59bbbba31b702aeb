// Package sensor owns the contract between Wayside's sensor drivers and the gateway: the small Sensor
// interface every driver implements, the measurement channels a driver reports with their SenML units
// (and the registry of unit symbols those units come from), the error kinds a failed read is
// classified by and their names (the one list the health counts, the local API and the CLI use), the
// wrapping of a failed bus transaction, and each sensor's health.
//
// Drivers live in sibling packages (drivers/bme280, drivers/nmea, ...), one per part, in periph.io's
// style: they take a bus (i2c.Bus, a UART io.Reader, a gpio.PinIn), never own it, and report values
// through Sample. A bad read never produces a value: Sample returns an error wrapping one of the
// sentinel errors below, and the gateway turns it into a health event.
package sensor

import (
	"errors"
	"fmt"
	"time"
)

// Channel is one value a sensor reports on every successful Sample.
type Channel struct {
	// Name is the measurement's SenML name suffix, e.g. "temperature". The gateway prefixes it with the
	// configured sensor name: "/env1/temperature".
	Name string
	// Unit is the SenML unit symbol (RFC 8428 section 12.1, RFC 8798), e.g. "Cel", "%RH", "Pa".
	Unit string
	// Resolution is the step, in Unit, at which the part resolves the quantity, from its datasheet
	// (BME280 temperature: 0.01 °C): the telemetry pack rounds values to it and sends each in the
	// narrowest form that keeps it at that step (an integer when integral, else float16, 32 or 64).
	// 1 for counts. 0 when undeclared: values then keep float32 precision. Drivers say in a comment
	// which datasheet figure they declare and why.
	Resolution float64
}

// Sensor is what the gateway samples. Call order: Channels any time, Sample from one goroutine at a
// time, Halt once after the last Sample. Implementations need no locking for that order.
type Sensor interface {
	// String names the part and where it sits, e.g. "bme280(i2c1@0x76)".
	String() string
	// Channels lists the values Sample writes, in order. It never changes over the sensor's life.
	Channels() []Channel
	// Sample reads the part once and stores one value per channel in dst, which has len(Channels()).
	// at is the timestamp the gateway stamps on the reading; drivers of real parts may use it to turn
	// counts into rates, simulated ones compute their values from it. Sample must not allocate in
	// steady state. On error no value of dst may be used.
	Sample(at time.Time, dst []float64) error
	// Halt stops background work (UART readers, edge counters) and waits for it. It does not close
	// the bus: the board owns buses.
	Halt() error
}

// Error kinds. Drivers wrap them with context ("bme280: read calibration: %w") so callers can classify a
// failure with errors.Is while the log keeps the detail. Their names are in errorKinds (health.go).
var (
	// ErrBus: the bus transaction failed (NACK, I/O error, UART closed).
	ErrBus = errors.New("bus error")
	// ErrTimeout: the part did not answer in time.
	ErrTimeout = errors.New("timeout")
	// ErrCRC: a checksum or CRC did not match.
	ErrCRC = errors.New("checksum mismatch")
	// ErrFrame: a short, truncated or malformed frame.
	ErrFrame = errors.New("malformed frame")
	// ErrRange: the decoded value is outside what the part can measure.
	ErrRange = errors.New("value out of range")
	// ErrStuck: the part keeps returning the identical raw value, a known failure mode of hung parts.
	ErrStuck = errors.New("stuck value")
	// ErrException: the part got the request and refused it with a protocol exception (a Modbus
	// exception response: illegal address, device busy, device failure).
	ErrException = errors.New("exception response")
	// ErrNoData: the part has nothing new yet (no GPS fix, no radar target). Not a fault: the gateway
	// skips the sample without degrading health.
	ErrNoData = errors.New("no data")
)

// Kind returns the sentinel err wraps (ErrNoData first, then the fault kinds in ErrorsByKind's
// order), or nil when it wraps none of them.
func Kind(err error) error {
	if errors.Is(err, ErrNoData) {
		return ErrNoData
	}
	if i := kindIndex(err); i < len(errorKinds) {
		return errorKinds[i].err
	}
	return nil
}

// BusErr wraps err, a failed bus transaction during step, as ErrBus with the part's name and the
// step: BusErr("bme280", "read calibration", err) reads "bme280: read calibration: bus error: ...".
// The I2C drivers return it for every failed Tx.
func BusErr(part, step string, err error) error {
	return fmt.Errorf("%s: %s: %w: %w", part, step, ErrBus, err)
}

// FieldError is a bad driver option: Field is its key as a configuration writes it under
// sensors[].options (snake_case, dotted for nested keys: "trap.spacing"), Msg what is wrong and what
// would be valid. A driver's Opts.Validate returns them, joined with errors.Join; the configuration
// reports each with its full path.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Fieldf returns a FieldError for field with a formatted message.
func Fieldf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Options are a driver's per-sensor settings, decoded from a configuration's sensors[].options over
// the driver's defaults. Validate returns nil or FieldErrors joined with errors.Join.
type Options interface {
	Validate() error
}

// PressureSink is a sensor that compensates its readings with the live ambient pressure (Pa) of
// another sensor of the same gateway (an SCD4x's CO2 with a BME280's pressure). The gateway calls
// SetAmbientPressure after each good reading of the source, from the source's sampler goroutine;
// implementations only store the value.
type PressureSink interface {
	SetAmbientPressure(pa float64) error
}

// PressureSourced is implemented by the options of a PressureSink driver: AmbientPressureFrom names
// the source channel as "<sensor>/<channel>", "" for none.
type PressureSourced interface {
	AmbientPressureFrom() string
}

// LineScanner is a sensor on a shared multi-drop line (a Modbus slave on RS-485) that can ask the
// line's other addresses whether anything answers. The scan takes turns with the line's sampling:
// every request holds the line alone, as the samples' requests do.
type LineScanner interface {
	// ScanLine asks each address first..last once, waiting at most timeout for each, and lists those
	// that answered. It stops early when stop is closed.
	ScanLine(first, last int, timeout time.Duration, stop <-chan struct{}) []LineAnswer
}

// LineAnswer is an address that answered a scan; Note says how when not with data (an exception,
// a garbled frame).
type LineAnswer struct {
	Address int
	Note    string
}
