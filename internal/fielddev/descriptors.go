package fielddev

import (
	"encoding/binary"
	"sort"
)

// USB ids of the CP2112 (hid-ids.h: USB_VENDOR_ID_CYGNAL 0x10c4, USB_DEVICE_ID_CYGNAL_CP2112
// 0xea90), which hid_cp2112's device table matches.
const (
	USBVendor  = 0x10c4
	USBProduct = 0xea90
)

// ReportDescriptor is the HID report descriptor: one vendor-defined application collection that
// declares every report the driver uses, in bytes of 8 bits (HID 1.11 section 6.2.2). Each report
// is declared with its length without the id, so hid-core sizes its buffers as the part does: the
// feature reports as featureLen, the interrupt reports 63 bytes.
func ReportDescriptor() []byte {
	d := []byte{
		0x06, 0x00, 0xFF, // Usage Page (Vendor Defined 0xFF00)
		0x09, 0x01, // Usage (1)
		0xA1, 0x01, // Collection (Application)
		0x15, 0x00, // Logical Minimum (0)
		0x26, 0xFF, 0x00, // Logical Maximum (255)
		0x75, 0x08, // Report Size (8)
	}
	item := func(id byte, count int, main byte) {
		d = append(d, 0x85, id, 0x95, byte(count), 0x09, 0x01, main, 0x02) // Report ID, Report Count, Usage, Main (Data,Var,Abs)
	}
	ids := make([]int, 0, len(featureLen))
	for id := range featureLen {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for _, id := range ids {
		item(byte(id), featureLen[byte(id)]-1, 0xB1) // Feature
	}
	for _, id := range outputReports {
		item(id, ReportLen-1, 0x91) // Output
	}
	for _, id := range inputReports {
		item(id, ReportLen-1, 0x81) // Input
	}
	return append(d, 0xC0) // End Collection
}

// HIDDescriptor is the HID class descriptor (HID 1.11 section 6.2.1) that follows the interface
// descriptor: HID 1.11, no country, one report descriptor of n bytes.
func HIDDescriptor(n int) []byte {
	return []byte{9, 0x21, 0x11, 0x01, 0x00, 1, 0x22, byte(n), byte(n >> 8)}
}

// FunctionFS descriptor and strings blob formats (include/uapi/linux/usb/functionfs.h).
const (
	ffsDescriptorsMagicV2 = 3
	ffsStringsMagic       = 2
	ffsHasFSDesc          = 1
	ffsHasHSDesc          = 2
)

// FFSDescriptors is what a FunctionFS ep0 takes first: the v2 header, then the full-speed and
// high-speed descriptors of one HID interface with an interrupt IN endpoint (ep1 in the mount) and
// an interrupt OUT endpoint (ep2), 64 byte packets, polled every millisecond.
func FFSDescriptors() []byte {
	hid := HIDDescriptor(len(ReportDescriptor()))
	speed := func(inIntv, outIntv byte) []byte {
		b := []byte{9, 0x04, 0, 0, 2, 0x03, 0, 0, 0} // interface 0, 2 endpoints, class HID, no subclass/protocol, no string
		b = append(b, hid...)
		b = append(b, 7, 0x05, 0x81, 0x03, ReportLen, 0, inIntv)  // EP1 IN, interrupt
		b = append(b, 7, 0x05, 0x02, 0x03, ReportLen, 0, outIntv) // EP2 OUT, interrupt
		return b
	}
	// Full speed bInterval counts frames (1 ms); high speed 2^(bInterval-1) microframes: 4 is 1 ms.
	fs, hs := speed(1, 1), speed(4, 4)
	b := make([]byte, 20, 20+len(fs)+len(hs))
	binary.LittleEndian.PutUint32(b[0:], ffsDescriptorsMagicV2)
	binary.LittleEndian.PutUint32(b[8:], ffsHasFSDesc|ffsHasHSDesc)
	binary.LittleEndian.PutUint32(b[12:], 4) // descriptors per speed: interface, HID, 2 endpoints
	binary.LittleEndian.PutUint32(b[16:], 4)
	b = append(append(b, fs...), hs...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	return b
}

// FFSStrings is the strings blob: none (the interface has no string).
func FFSStrings() []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:], ffsStringsMagic)
	binary.LittleEndian.PutUint32(b[4:], 16)
	return b
}
