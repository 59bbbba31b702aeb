package fielddev

import (
	"encoding/binary"
	"fmt"
)

// Setup is a USB control request (USB 2.0 section 9.3), as FunctionFS hands it over in a
// FUNCTIONFS_SETUP event.
type Setup struct {
	RequestType, Request byte
	Value, Index, Length uint16
}

// ParseSetup decodes the 8 bytes of struct usb_ctrlrequest (little endian fields).
func ParseSetup(b []byte) Setup {
	return Setup{RequestType: b[0], Request: b[1], Value: binary.LittleEndian.Uint16(b[2:]),
		Index: binary.LittleEndian.Uint16(b[4:]), Length: binary.LittleEndian.Uint16(b[6:])}
}

// In reports whether the request has a data stage from device to host.
func (s Setup) In() bool { return s.RequestType&0x80 != 0 }

func (s Setup) String() string {
	return fmt.Sprintf("bmRequestType %#02x bRequest %#02x wValue %#04x wIndex %d wLength %d", s.RequestType, s.Request, s.Value, s.Index, s.Length)
}

// Requests a HID interface gets (USB 2.0 table 9-4; HID 1.11 section 7.1 and 7.2).
const (
	reqGetDescriptor = 0x06
	hidGetReport     = 0x01
	hidGetIdle       = 0x02
	hidGetProtocol   = 0x03
	hidSetReport     = 0x09
	hidSetIdle       = 0x0A
	hidSetProtocol   = 0x0B

	hidTypeInput   = 1
	hidTypeOutput  = 2
	hidTypeFeature = 3
)

// ControlIn answers a device-to-host request: the reply, or ok false to stall. usbhid asks for the
// report descriptor with a standard GET_DESCRIPTOR to the interface (wValue 0x2200) and for feature
// reports with GET_REPORT, wValue (report type 3 << 8) | id (usbhid_get_raw_report).
func (c *CP2112) ControlIn(s Setup) (reply []byte, ok bool) {
	switch {
	case s.RequestType == 0x81 && s.Request == reqGetDescriptor:
		switch s.Value >> 8 {
		case 0x22:
			reply = ReportDescriptor()
		case 0x21:
			reply = HIDDescriptor(len(ReportDescriptor()))
		default:
			return nil, false
		}
	case s.RequestType == 0xA1 && s.Request == hidGetReport:
		id := byte(s.Value)
		switch s.Value >> 8 {
		case hidTypeFeature:
			return c.GetFeature(id, int(s.Length))
		case hidTypeInput:
			// hid-core may read input reports at start-up: an idle report of the declared size.
			for _, in := range inputReports {
				if in == id {
					reply = make([]byte, ReportLen)
					reply[0] = id
				}
			}
			if reply == nil {
				return nil, false
			}
		default:
			return nil, false
		}
	case s.RequestType == 0xA1 && s.Request == hidGetIdle:
		reply = []byte{0}
	case s.RequestType == 0xA1 && s.Request == hidGetProtocol:
		reply = []byte{1} // report protocol
	default:
		return nil, false
	}
	if int(s.Length) < len(reply) {
		reply = reply[:s.Length]
	}
	return reply, true
}

// ControlOut takes a host-to-device request with its data: ok false stalls it.
func (c *CP2112) ControlOut(s Setup, data []byte) bool {
	if s.RequestType != 0x21 {
		return false
	}
	switch s.Request {
	case hidSetReport:
		switch s.Value >> 8 {
		case hidTypeFeature:
			return c.SetFeature(data)
		case hidTypeOutput:
			// The driver sends output reports on the interrupt OUT endpoint; accept and drop.
			return true
		}
		return false
	case hidSetIdle, hidSetProtocol:
		return true
	}
	return false
}
