package fielddev

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// reports walks a report descriptor's short items (HID 1.11 6.2.2.2) and returns, per main item
// kind (0x80 input, 0x90 output, 0xB0 feature), each report id's size in bytes without the id.
func reports(t *testing.T, d []byte) map[byte]map[byte]int {
	t.Helper()
	got := map[byte]map[byte]int{0x80: {}, 0x90: {}, 0xB0: {}}
	var id byte
	var size, count int
	for i := 0; i < len(d); {
		prefix := d[i]
		n := int(prefix & 3)
		if n == 3 {
			n = 4
		}
		if i+1+n > len(d) {
			t.Fatalf("item at %d runs past the end", i)
		}
		var v int
		for k := n - 1; k >= 0; k-- {
			v = v<<8 | int(d[i+1+k])
		}
		switch tag := prefix &^ 3; tag {
		case 0x84:
			id = byte(v)
		case 0x74:
			size = v
		case 0x94:
			count = v
		case 0x80, 0x90, 0xB0:
			got[tag][id] = size * count / 8
		}
		i += 1 + n
	}
	return got
}

func TestReportDescriptorDeclaresDriverReports(t *testing.T) {
	r := reports(t, ReportDescriptor())
	// hid-cp2112.c: features 0x02-0x06 and 0x20-0x24, outputs 0x10 0x11 0x12 0x14 0x15 0x17,
	// inputs 0x13 0x16. Sizes without the id: CP2112_GPIO_CONFIG_LENGTH 5 - 1, GPIO_GET 2 - 1,
	// GPIO_SET 3 - 1, version buf[3] - 1, smbus config 14 - 1, lock byte 2 - 1, usb config 10 - 1,
	// string reports 64 - 1; interrupt reports CP2112_REPORT_MAX_LENGTH 64 - 1.
	want := map[byte]map[byte]int{
		0xB0: {0x02: 4, 0x03: 1, 0x04: 2, 0x05: 2, 0x06: 13, 0x20: 1, 0x21: 9, 0x22: 63, 0x23: 63, 0x24: 63},
		0x90: {0x10: 63, 0x11: 63, 0x12: 63, 0x14: 63, 0x15: 63, 0x17: 63},
		0x80: {0x13: 63, 0x16: 63},
	}
	for kind, ids := range want {
		for id, size := range ids {
			if got, ok := r[kind][id]; !ok || got != size {
				t.Errorf("main item %#x report %#02x: %d bytes (declared %v), want %d", kind, id, got, ok, size)
			}
		}
		if len(r[kind]) != len(ids) {
			t.Errorf("main item %#x declares %v, want exactly %v", kind, r[kind], ids)
		}
	}
}

func TestFFSDescriptors(t *testing.T) {
	b := FFSDescriptors()
	// functionfs.h: struct usb_functionfs_descs_head_v2 {magic, length, flags} then fs_count,
	// hs_count (flags FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC).
	if m, l, f := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:]); m != 3 || int(l) != len(b) || f != 3 {
		t.Fatalf("header magic %d length %d (blob %d) flags %d", m, l, len(b), f)
	}
	// Walk both speeds: interface (class 3, 2 endpoints), HID descriptor (f_fs.c accepts
	// HID_DT_HID only with sizeof(struct hid_descriptor) = 9), endpoints 0x81 and 0x02 interrupt.
	descs := b[20:]
	var types []byte
	for len(descs) > 0 {
		n := int(descs[0])
		if n < 2 || n > len(descs) {
			t.Fatalf("bad descriptor length %d", n)
		}
		d := descs[:n]
		types = append(types, d[1])
		switch d[1] {
		case 0x04:
			if n != 9 || d[4] != 2 || d[5] != 0x03 {
				t.Errorf("interface % x", d)
			}
		case 0x21:
			if n != 9 || int(binary.LittleEndian.Uint16(d[7:])) != len(ReportDescriptor()) {
				t.Errorf("HID descriptor % x", d)
			}
		case 0x05:
			if n != 7 || d[3] != 0x03 || (d[2] != 0x81 && d[2] != 0x02) {
				t.Errorf("endpoint % x", d)
			}
		}
		descs = descs[n:]
	}
	if want := []byte{4, 0x21, 5, 5, 4, 0x21, 5, 5}; !bytes.Equal(types, want) {
		t.Errorf("descriptor types % x, want % x", types, want)
	}
}

func TestControl(t *testing.T) {
	c := NewCP2112()
	// usbhid_parse reads the report descriptor with GET_DESCRIPTOR(0x22) to the interface.
	rd, ok := c.ControlIn(Setup{RequestType: 0x81, Request: 0x06, Value: 0x2200, Length: 4096})
	if !ok || !bytes.Equal(rd, ReportDescriptor()) {
		t.Errorf("report descriptor: ok %v, % x", ok, rd)
	}
	// usbhid_get_raw_report: GET_REPORT, wValue ((HID_FEATURE_REPORT + 1) << 8) | id, wLength the
	// caller's count.
	v, ok := c.ControlIn(ParseSetup([]byte{0xA1, 0x01, 0x05, 0x03, 0x00, 0x00, 0x03, 0x00}))
	if !ok || !bytes.Equal(v, []byte{0x05, 0x0C, 0x02}) {
		t.Errorf("GET_REPORT feature 5: % x %v", v, ok)
	}
	// usbhid_set_raw_report: SET_REPORT with the id as the data's first byte.
	s := Setup{RequestType: 0x21, Request: 0x09, Value: 0x0304, Length: 3}
	if !c.ControlOut(s, []byte{0x04, 0xFF, 0x01}) {
		t.Error("SET_REPORT feature 4 refused")
	}
	if _, ok := c.ControlIn(Setup{RequestType: 0xC0, Request: 0x01, Length: 1}); ok {
		t.Error("vendor request answered, want a stall")
	}
}
