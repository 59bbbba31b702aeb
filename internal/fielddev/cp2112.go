package fielddev

import (
	"encoding/binary"
	"fmt"
	"sync"
	"unicode/utf16"
)

// CP2112 report ids (hid-cp2112.c, enum at the top of the file; AN495 section 4 and 5).
const (
	RepGPIOConfig     = 0x02 // feature: direction, push-pull, special function, clock divider
	RepGPIOGet        = 0x03 // feature: line levels
	RepGPIOSet        = 0x04 // feature: values, mask
	RepVersion        = 0x05 // feature: part number, device version
	RepSMBusConfig    = 0x06 // feature: clock, address, timeouts, retries
	RepReadRequest    = 0x10 // output: address, length
	RepWriteRead      = 0x11 // output: address, length, target address (<= 16 bytes)
	RepReadForceSend  = 0x12 // output: length
	RepReadResponse   = 0x13 // input: status, length, data
	RepWriteRequest   = 0x14 // output: address, length, data
	RepStatusRequest  = 0x15 // output
	RepStatusResponse = 0x16 // input: status0, status1, retries, length
	RepCancel         = 0x17 // output
	RepLockByte       = 0x20 // feature
	RepUSBConfig      = 0x21 // feature
	RepManufacturer   = 0x22 // feature: string
	RepProduct        = 0x23 // feature: string
	RepSerial         = 0x24 // feature: string
)

// Transfer status (hid-cp2112.c: enum STATUS0_*, STATUS1_*; cp2112_raw_event maps them to errnos).
const (
	status0Idle     = 0x00
	status0Busy     = 0x01
	status0Complete = 0x02
	status0Error    = 0x03

	status1NACK    = 0x00 // with status0Error: the kernel returns -ETIMEDOUT
	status1Success = 0x05
)

// ReportLen is the size of every CP2112 interrupt report, report id included
// (hid-cp2112.c: CP2112_REPORT_MAX_LENGTH 64).
const ReportLen = 64

// maxReadChunk is the data a read response carries (hid-cp2112.c: read_data[61], and AN495 5.4:
// 61 bytes after report id, status and length).
const maxReadChunk = 61

// featureLen is each feature report's length with its id: what cp2112_probe and the GPIO functions
// ask for (hid-cp2112.c: CP2112_GPIO_CONFIG_LENGTH 5, CP2112_GPIO_GET_LENGTH 2,
// CP2112_GPIO_SET_LENGTH 3, u8 buf[3] for the version, sizeof(struct cp2112_smbus_config_report)
// 14, u8 buf[2] for the lock byte, sizeof(struct cp2112_usb_config_report) 10, and the string report
// of 64 bytes).
var featureLen = map[byte]int{
	RepGPIOConfig: 5, RepGPIOGet: 2, RepGPIOSet: 3, RepVersion: 3, RepSMBusConfig: 14,
	RepLockByte: 2, RepUSBConfig: 10, RepManufacturer: 64, RepProduct: 64, RepSerial: 64,
}

// outputReports and inputReports are the interrupt reports the driver sends and expects.
var (
	outputReports = []byte{RepReadRequest, RepWriteRead, RepReadForceSend, RepWriteRequest, RepStatusRequest, RepCancel}
	inputReports  = []byte{RepReadResponse, RepStatusResponse}
)

// I2C is what the bridge drives on its SMBus side: a device at a 7 bit address. Its shape is
// periph's i2c.Bus Tx, which the emulators implement; an error is a NACK.
type I2C interface {
	Tx(addr uint16, w, r []byte) error
}

// CP2112 is an emulated bridge. Its methods are safe for concurrent use: feature requests arrive
// on the control endpoint while interrupt reports arrive on their own.
type CP2112 struct {
	mu    sync.Mutex
	dev   map[uint16]I2C // by 7 bit address
	gpio  [4]byte        // config after the id: direction (1 = output), push-pull, special, clock divider
	latch byte           // output levels set by GPIO set
	in    byte           // levels driven onto input lines from outside
	smbus [13]byte       // SMBus config after the id
	// The last transfer: its status and the data not yet taken by read force send.
	st0, st1 byte
	length   uint16
	pending  []byte

	Stats Stats // guarded by mu; read it with Snapshot
}

// Stats counts what the bridge did, for the log.
type Stats struct {
	Transfers, NACKs, Reads, Features, GPIOReads int
}

// NewCP2112 returns a bridge with all lines inputs, open drain, no special functions, and the SMBus
// configuration a CP2112 leaves the factory with (AN495 table 6: 100 kHz, address 0x02, no auto
// send read, no timeouts, no retry limit).
func NewCP2112() *CP2112 {
	c := &CP2112{dev: map[uint16]I2C{}, in: 0xFF}
	binary.BigEndian.PutUint32(c.smbus[0:4], 100000)
	c.smbus[4] = 0x02
	return c
}

// Attach puts dev at the 7 bit address addr.
func (c *CP2112) Attach(addr uint16, dev I2C) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dev[addr] = dev
}

// SetInput drives the level of GPIO line (0-7) from outside; it is what GPIO get reads while the
// line is an input.
func (c *CP2112) SetInput(line int, high bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if high {
		c.in |= 1 << line
	} else {
		c.in &^= 1 << line
	}
}

// Snapshot returns the counters.
func (c *CP2112) Snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Stats
}

// levelsLocked is what GPIO get reports: outputs read back their latch, inputs the driven level.
// mu must be held.
func (c *CP2112) levelsLocked() byte {
	dir := c.gpio[0]
	return c.latch&dir | c.in&^dir
}

// GetFeature answers a HID GET_REPORT for feature report id, report id first, at most n bytes (the
// request's wLength). ok is false for a report the part does not have (stall).
func (c *CP2112) GetFeature(id byte, n int) (rep []byte, ok bool) {
	size, known := featureLen[id]
	if !known {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Stats.Features++
	rep = make([]byte, size)
	rep[0] = id
	switch id {
	case RepGPIOConfig:
		copy(rep[1:], c.gpio[:])
	case RepGPIOGet:
		c.Stats.GPIOReads++
		rep[1] = c.levelsLocked()
	case RepGPIOSet:
		rep[1], rep[2] = c.latch, 0xFF
	case RepVersion:
		// Part number 0x0C (AN495 4.5: CP2112), device version 2: cp2112_probe keeps it as
		// hwversion, and cp2112_i2c_xfer does write-read (repeated start) only when it is > 1.
		rep[1], rep[2] = 0x0C, 0x02
	case RepSMBusConfig:
		copy(rep[1:], c.smbus[:])
	case RepLockByte:
		// 0xFF: nothing programmed yet (AN495 4.6); chmod_sysfs_attrs makes the attributes writable.
		rep[1] = 0xFF
	case RepUSBConfig:
		// struct cp2112_usb_config_report: vid, pid (little endian), max power in 2 mA units, power
		// mode, release major, minor, mask.
		binary.LittleEndian.PutUint16(rep[1:3], USBVendor)
		binary.LittleEndian.PutUint16(rep[3:5], USBProduct)
		rep[5], rep[6], rep[7], rep[8] = 50, 0, 1, 0
	case RepManufacturer, RepProduct, RepSerial:
		s := map[byte]string{RepManufacturer: "Silicon Labs", RepProduct: "CP2112 HID USB-to-SMBus Bridge", RepSerial: "WB000001"}[id]
		// struct cp2112_string_report: length of what follows the id (2 + UTF-16LE bytes),
		// USB_DT_STRING, then the string.
		u := utf16.Encode([]rune(s))
		rep[1], rep[2] = byte(2+2*len(u)), 0x03
		for i, r := range u {
			binary.LittleEndian.PutUint16(rep[3+2*i:], r)
		}
	}
	if n < len(rep) {
		rep = rep[:n]
	}
	return rep, true
}

// SetFeature takes a HID SET_REPORT for a feature report (data starts with the report id). It
// returns false for a report the part does not take.
func (c *CP2112) SetFeature(data []byte) bool {
	if len(data) == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Stats.Features++
	switch data[0] {
	case RepGPIOConfig:
		// cp2112_gpio_direction_input/_output: GET, change bit offset of byte 1 and set byte 2
		// (gpio_push_pull), SET the 5 bytes back.
		if len(data) < 5 {
			return false
		}
		copy(c.gpio[:], data[1:5])
	case RepGPIOSet:
		// cp2112_gpio_set: byte 1 the values (0xff or 0), byte 2 the mask (1 << offset).
		if len(data) < 3 {
			return false
		}
		c.latch = c.latch&^data[2] | data[1]&data[2]
	case RepSMBusConfig:
		// cp2112_probe writes the config back with retry_time 1.
		if len(data) < 14 {
			return false
		}
		copy(c.smbus[:], data[1:14])
	case RepUSBConfig, RepManufacturer, RepProduct, RepSerial:
		// One-time programmable in the part; accepted and forgotten.
	default:
		return false
	}
	return true
}

// Output takes an interrupt OUT report and returns the input reports to send back, each
// ReportLen bytes. Requests with a bad length are answered like a transfer that failed.
func (c *CP2112) Output(data []byte) ([][]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("fielddev: cp2112: empty output report")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch data[0] {
	case RepReadRequest:
		// struct cp2112_read_req_report: slave_address << 1, length (big endian, 1-512).
		if len(data) < 4 {
			return nil, fmt.Errorf("fielddev: cp2112: read request of %d bytes", len(data))
		}
		n := int(binary.BigEndian.Uint16(data[2:4]))
		c.transferLocked(uint16(data[1]>>1), nil, n)
	case RepWriteRead:
		// struct cp2112_write_read_req_report: slave_address << 1, length (big endian),
		// target_address_length, target_address[16].
		if len(data) < 5 || int(data[4]) > 16 || len(data) < 5+int(data[4]) {
			return nil, fmt.Errorf("fielddev: cp2112: malformed write-read request % x", data)
		}
		n := int(binary.BigEndian.Uint16(data[2:4]))
		c.transferLocked(uint16(data[1]>>1), data[5:5+int(data[4])], n)
	case RepWriteRequest:
		// struct cp2112_write_req_report: slave_address << 1, length, data[61].
		if len(data) < 3 || int(data[2]) > maxReadChunk || len(data) < 3+int(data[2]) {
			return nil, fmt.Errorf("fielddev: cp2112: malformed write request % x", data)
		}
		c.transferLocked(uint16(data[1]>>1), data[3:3+int(data[2])], 0)
	case RepStatusRequest:
		// cp2112_xfer_status sends {0x15, 0x01}; the answer is struct cp2112_xfer_status_report.
		rep := make([]byte, ReportLen)
		rep[0], rep[1], rep[2] = RepStatusResponse, c.st0, c.st1
		binary.BigEndian.PutUint16(rep[5:7], c.length)
		return [][]byte{rep}, nil
	case RepReadForceSend:
		// struct cp2112_force_read_report: length (big endian). cp2112_raw_event takes the length
		// from byte 2 and the data from byte 3 on.
		if len(data) < 3 {
			return nil, fmt.Errorf("fielddev: cp2112: force read of %d bytes", len(data))
		}
		n := min(int(binary.BigEndian.Uint16(data[1:3])), maxReadChunk, len(c.pending))
		rep := make([]byte, ReportLen)
		rep[0], rep[1], rep[2] = RepReadResponse, c.st0, byte(n)
		copy(rep[3:], c.pending[:n])
		c.pending = c.pending[n:]
		c.Stats.Reads++
		return [][]byte{rep}, nil
	case RepCancel:
		c.st0, c.st1, c.length, c.pending = status0Idle, 0, 0, nil
	default:
		return nil, fmt.Errorf("fielddev: cp2112: unknown output report %#02x", data[0])
	}
	return nil, nil
}

// transferLocked runs one SMBus transfer on the device at addr: write w, then read n bytes (a
// repeated start when both). The transfer completes at once; the status request reports it.
// mu must be held.
func (c *CP2112) transferLocked(addr uint16, w []byte, n int) {
	c.Stats.Transfers++
	c.pending = nil
	dev, ok := c.dev[addr]
	var r []byte
	if n > 0 {
		r = make([]byte, n)
	}
	if ok {
		if err := dev.Tx(addr, append([]byte(nil), w...), r); err != nil {
			ok = false
		}
	}
	if !ok {
		// Nobody acknowledged: status0 error, status1 timeout/NACK, which cp2112_raw_event turns
		// into -ETIMEDOUT for the caller.
		c.Stats.NACKs++
		c.st0, c.st1, c.length = status0Error, status1NACK, 0
		return
	}
	c.st0, c.st1, c.length = status0Complete, status1Success, uint16(n)
	c.pending = r
}
