package fielddev

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/wayside-iot/wayside/drivers/bme280/bme280emu"
)

// Every expected byte below comes from Linux 6.1 drivers/hid/hid-cp2112.c, the bridge's only peer;
// the function or struct is named at each step.

// tx is an I2C device that records transfers and answers reads with its reply.
type tx struct {
	w, r  [][]byte
	reply []byte
	err   error
}

func (d *tx) Tx(addr uint16, w, r []byte) error {
	d.w = append(d.w, append([]byte(nil), w...))
	copy(r, d.reply)
	d.r = append(d.r, r)
	return d.err
}

func pad(b ...byte) []byte { return append(b, make([]byte, ReportLen-len(b))...) }

func oneReply(t *testing.T, c *CP2112, out ...byte) []byte {
	t.Helper()
	reps, err := c.Output(out)
	if err != nil {
		t.Fatalf("Output(% x): %v", out, err)
	}
	if len(reps) != 1 {
		t.Fatalf("Output(% x): %d replies, want 1", out, len(reps))
	}
	return reps[0]
}

func TestProbeFeatures(t *testing.T) {
	c := NewCP2112()
	// cp2112_probe: cp2112_hid_get(CP2112_GET_VERSION_INFO, buf, 3) must return 3 bytes; buf[2] is
	// kept as hwversion, which must be > 1 for write-read (cp2112_i2c_xfer).
	got, ok := c.GetFeature(RepVersion, 3)
	if want := []byte{0x05, 0x0C, 0x02}; !ok || !bytes.Equal(got, want) {
		t.Errorf("version = % x, %v; want % x", got, ok, want)
	}
	// cp2112_probe: sizeof(struct cp2112_smbus_config_report) is 14 and must come back whole.
	cfg, ok := c.GetFeature(RepSMBusConfig, 64)
	if !ok || len(cfg) != 14 || cfg[0] != 0x06 {
		t.Fatalf("smbus config = % x, %v; want 14 bytes starting 06", cfg, ok)
	}
	if hz := binary.BigEndian.Uint32(cfg[1:5]); hz != 100000 {
		t.Errorf("clock_speed = %d, want 100000 (big endian, AN495 table 6)", hz)
	}
	// ... then writes it back with retry_time = cpu_to_be16(1) (the last two bytes).
	cfg[12], cfg[13] = 0, 1
	if !c.SetFeature(cfg) {
		t.Fatal("SET smbus config refused")
	}
	if again, _ := c.GetFeature(RepSMBusConfig, 14); !bytes.Equal(again, cfg) {
		t.Errorf("smbus config after SET = % x, want % x", again, cfg)
	}
	// chmod_sysfs_attrs: cp2112_hid_get(CP2112_LOCK_BYTE, buf, 2) must return 2 bytes.
	if lock, ok := c.GetFeature(RepLockByte, 2); !ok || !bytes.Equal(lock, []byte{0x20, 0xFF}) {
		t.Errorf("lock byte = % x, %v", lock, ok)
	}
	// cp2112_get_usb_config: sizeof(struct cp2112_usb_config_report) 10, vid and pid little endian.
	if u, ok := c.GetFeature(RepUSBConfig, 64); !ok || len(u) != 10 || !bytes.Equal(u[1:5], []byte{0xc4, 0x10, 0x90, 0xea}) {
		t.Errorf("usb config = % x, %v", u, ok)
	}
	// A report the part does not have is stalled, and wLength shortens the answer.
	if _, ok := c.GetFeature(0x30, 64); ok {
		t.Error("unknown feature 0x30 answered")
	}
	if v, _ := c.GetFeature(RepVersion, 2); len(v) != 2 {
		t.Errorf("version with wLength 2 = % x", v)
	}
}

func TestWriteReadBME280ChipID(t *testing.T) {
	c := NewCP2112()
	c.Attach(0x76, bme280emu.New(0x76, true))
	// cp2112_i2c_write_read_req for I2C_RDWR {write 0xD0}, {read 1} at 0x76: report 0x11,
	// slave_address 0x76<<1 = 0xEC, length be16 1, target_address_length 1, target_address D0;
	// addr_length + 5 = 6 bytes.
	if reps, err := c.Output([]byte{0x11, 0xEC, 0x00, 0x01, 0x01, 0xD0}); err != nil || len(reps) != 0 {
		t.Fatalf("write-read: %v, %d replies", err, len(reps))
	}
	// cp2112_xfer_status sends {CP2112_TRANSFER_STATUS_REQUEST, 0x01}; struct
	// cp2112_xfer_status_report: 0x16, status0 COMPLETE 2, status1 SUCCESS 5, retries be16 0,
	// length be16 1 (cp2112_raw_event returns it as xfer_status).
	st := oneReply(t, c, 0x15, 0x01)
	if want := pad(0x16, 0x02, 0x05, 0x00, 0x00, 0x00, 0x01); !bytes.Equal(st, want) {
		t.Errorf("status = % x\nwant     % x", st, want)
	}
	// cp2112_read: struct cp2112_force_read_report {0x12, be16 1}; cp2112_raw_event takes the
	// length from data[2] and the data from data[3]: BME280 chip id 0x60 (datasheet 5.4.1).
	rd := oneReply(t, c, 0x12, 0x00, 0x01)
	if rd[0] != 0x13 || rd[2] != 1 || rd[3] != 0x60 || len(rd) != ReportLen {
		t.Errorf("read response = % x, want 13 xx 01 60 and 64 bytes", rd)
	}
}

func TestLongReadComesInChunks(t *testing.T) {
	c := NewCP2112()
	dev := &tx{reply: bytes.Repeat([]byte{0xAB}, 100)}
	c.Attach(0x40, dev)
	// cp2112_read_req: 0x10, 0x40<<1, be16 length 100.
	c.Output([]byte{0x10, 0x80, 0x00, 100})
	// cp2112_read asks for at most sizeof(read_data) = 61 bytes a time and loops until read_length.
	first := oneReply(t, c, 0x12, 0x00, 100)
	second := oneReply(t, c, 0x12, 0x00, 39)
	if first[2] != 61 || second[2] != 39 {
		t.Errorf("chunk lengths %d and %d, want 61 and 39", first[2], second[2])
	}
	if len(dev.r) != 1 || len(dev.r[0]) != 100 || len(dev.w[0]) != 0 {
		t.Errorf("device saw w=%v r=%d reads, want one read of 100 bytes", dev.w, len(dev.r))
	}
}

func TestWriteAndNACK(t *testing.T) {
	c := NewCP2112()
	dev := &tx{}
	c.Attach(0x76, dev)
	// cp2112_i2c_write_req: 0x14, slave_address << 1, length, data: a BME280 ctrl_meas write.
	c.Output([]byte{0x14, 0xEC, 0x02, 0xF4, 0x25})
	if len(dev.w) != 1 || !bytes.Equal(dev.w[0], []byte{0xF4, 0x25}) || len(dev.r[0]) != 0 {
		t.Errorf("device saw w=% x r=%v", dev.w, dev.r)
	}
	if st := oneReply(t, c, 0x15, 0x01); st[1] != 0x02 || st[2] != 0x05 {
		t.Errorf("write status = % x, want complete/success", st[:7])
	}
	// Nobody at 0x50: status0 ERROR 3, status1 TIMEOUT_NACK 0, which cp2112_raw_event turns into
	// -ETIMEDOUT. The same for a device that refuses the transfer.
	c.Output([]byte{0x10, 0xA0, 0x00, 0x01})
	if st := oneReply(t, c, 0x15, 0x01); !bytes.Equal(st[:7], []byte{0x16, 0x03, 0x00, 0, 0, 0, 0}) {
		t.Errorf("NACK status = % x", st[:7])
	}
	dev.err = errors.New("refused")
	c.Output([]byte{0x11, 0xEC, 0x00, 0x01, 0x01, 0xD0})
	if st := oneReply(t, c, 0x15, 0x01); st[1] != 0x03 {
		t.Errorf("refused transfer status0 = %#x, want 3", st[1])
	}
	if s := c.Snapshot(); s.Transfers != 3 || s.NACKs != 2 {
		t.Errorf("stats = %+v", s)
	}
	// Malformed: a write-read whose target_address_length exceeds the 16 byte array.
	if _, err := c.Output([]byte{0x11, 0xEC, 0x00, 0x01, 17}); err == nil {
		t.Error("write-read with 17 address bytes accepted")
	}
}

func TestGPIO(t *testing.T) {
	c := NewCP2112()
	// cp2112_gpio_direction_input: GET 0x02 (5 bytes), clear bit offset in buf[1], buf[2] =
	// gpio_push_pull (0xFF), SET 5 bytes.
	cfg, ok := c.GetFeature(RepGPIOConfig, 5)
	if !ok || len(cfg) != 5 {
		t.Fatalf("gpio config = % x", cfg)
	}
	cfg[1] |= 1 << 3 // line 3 an output (cp2112_gpio_direction_output sets the bit)
	cfg[2] = 0xFF
	if !c.SetFeature(cfg) {
		t.Fatal("SET gpio config refused")
	}
	// cp2112_gpio_set: {0x04, value ? 0xff : 0, 1 << offset}.
	if !c.SetFeature([]byte{0x04, 0xFF, 1 << 3}) {
		t.Fatal("SET gpio values refused")
	}
	// Line 0 driven low from outside, the others float high (pull-ups).
	c.SetInput(0, false)
	// cp2112_gpio_get_all: GET 0x03 of CP2112_GPIO_GET_LENGTH 2, levels in buf[1].
	got, _ := c.GetFeature(RepGPIOGet, 2)
	if want := []byte{0x03, 0xFE}; !bytes.Equal(got, want) {
		t.Errorf("levels = % x, want % x", got, want)
	}
	c.SetFeature([]byte{0x04, 0x00, 1 << 3})
	c.SetInput(0, true)
	got, _ = c.GetFeature(RepGPIOGet, 2)
	if want := []byte{0x03, 0xF7}; !bytes.Equal(got, want) {
		t.Errorf("levels after output 3 low = % x, want % x", got, want)
	}
}
