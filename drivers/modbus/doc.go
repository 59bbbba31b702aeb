// Package modbus reads Modbus RTU slaves on an RS-485 line (energy meters, weather stations, sound
// level meters, soil and water-level probes) through a register map from the configuration: each
// channel a register (or two) of one of the four read functions, its type, word order, scale,
// offset and SenML unit.
//
// A Bus is one line: it owns nothing but the serial port the board opened, sends one request at a
// time and keeps the inter-frame silence, so several Devs (slaves) share it safely. New takes a Bus
// (periph's "a device driver doesn't own a bus"); NewWithOptions, which the driver registry uses,
// finds the Bus of a port the board already handed another slave, so the sensors of one UART share
// one.
//
// # Specifications
//
//   - MODBUS Application Protocol Specification V1.1b3 (modbus.org, 2012): 4.2 big-endian data;
//     6.1..6.4 the read functions 01..04, their quantity limits (2000 bits, 125 registers) and the
//     examples the tests decode; 7 exception responses (function code + 0x80, codes 01..0B).
//   - MODBUS over Serial Line Specification and Implementation Guide V1.02 (modbus.org, 2006): 2.2
//     addresses (1..247; 0 is broadcast); 2.5.1 RTU characters of 11 bits; 2.5.1.1 framing: t3.5 of
//     silence between frames, a fixed 1.750 ms above 19200 baud, at most 256 bytes a frame; 2.5.1.2
//     and 6.2.2 the CRC (CRC-16/MODBUS, low byte first).
//
// Quirks worth knowing:
//
//   - Ready-made register maps for real devices, with the manual pages they come from, are in
//     configs/modbus (Eastron SDM72D-M energy meter, Seeed S-Temp&VWC&EC-02 soil probe).
//   - Addresses are the 0-based protocol addresses: a manual's register 30001 or 40001 is address 0.
//     Manuals differ on this; the ones with a "start address hex" column give it directly.
//   - The word order of 32-bit values is not in the standard; most devices send the high word first
//     (word_order: high_first), some the low word.
//   - Entries of one function whose registers abut are read in one request, up to max_read registers
//     (125 by the standard, less for devices that say so: the SDM72D-M takes 30 parameters, 60
//     registers). Gaps are not bridged: a device may refuse a read covering a register it lacks.
//   - Errors are told apart: no answer within the time-out is sensor.ErrTimeout; a bad CRC is
//     sensor.ErrCRC; a truncated or malformed answer, or one from another slave or for another
//     function, is sensor.ErrFrame; an exception response is an *ExceptionError wrapping
//     sensor.ErrException. After a time-out or a bad frame the Bus waits for t3.5 of silence (a late
//     answer drains away) before the next request, so one slave's fault does not become another's.
//   - A Sample stops at its first failed request: a silent slave holds the line for one time-out per
//     Sample, and the gateway's backoff (health Failing) spaces those out, so the other slaves on the
//     line keep their schedule.
//   - The inter-character limit t1.5 is not enforced: a Linux tty gives no byte timing. The answer's
//     length is known from its header, its CRC checks it, and the read deadline bounds it.
//   - RS-485 adapters that echo what they send (no receiver disable) are not supported.
//   - New sends nothing: a slave that is off at the start is a time-out in health, not a failed start.
//
// # Why no library
//
// The RTU framing this driver needs is small: a request is 8 bytes, an answer is checked by its
// header length and CRC-16, and the CRC is a 256-entry table. github.com/simonvetter/modbus v1.6.4
// opens the serial port itself through go.bug.st/serial (v1.8.0), while our boards open UARTs
// themselves as an *os.File with termios (internal/serialport) and drivers never own their bus; it
// keeps one client per port with its own locking, so slaves on one line sharing the port (and the
// t3.5 gap between their requests) would need a layer over it anyway; and its errors do not say
// which of time-out, CRC, malformed frame or exception happened the way health needs. Owning the
// ~400 lines (frame.go, crc.go, bus.go) keeps the hot path allocation-free and testable against the spec's frames.
//
// # Options
//
// sensors[].options, defaults in DefaultOptions (registers is required):
//
//	baud: 9600            # 1200..115200; every sensor on one bus the same
//	parity: none          # none, even, odd
//	stop_bits: 1          # 1 or 2
//	slave: 1              # 1..247
//	timeout: 500ms        # per request, besides the wire time
//	max_read: 125         # registers per request
//	registers:            # one entry per channel
//	  - {name: voltage, unit: V, function: input, address: 0, type: f32, word_order: high_first, scale: 1, offset: 0}
//
// function is holding (03, the default), input (04), coil (01) or discrete (02); type is u16 (the
// default), i16, u32, i32 or f32 for registers and bit for coils and discrete inputs.
//
// `wayside scan modbus BUS` asks the line's addresses which answer (holding register 0; an
// exception answer counts: something is there).
package modbus
