package pms5003emu

import (
	"encoding/binary"
	"io"
	"sync"

	"github.com/wayside-iot/wayside/drivers/pms5003"
)

// Port is an emulated PMS5003 on its UART, an io.ReadWriter for the driver: what the part sends is
// read from it, the host commands written to it are obeyed (manual appendix II: 0x42 0x4D, command,
// data high, data low, 16 bit sum): 0xE4 sleep (data 0) and wake-up (data 1), 0xE1 passive (0) and
// active (1) mode, 0xE2 read in passive mode. A command with a wrong sum is ignored, as the part
// does. Mode and sleep commands are answered with an 8 byte frame (length 4), as parts do. All
// methods are safe for concurrent use.
type Port struct {
	mu      sync.Mutex
	cond    *sync.Cond
	out     []byte
	asleep  bool
	passive bool
	frame   pms5003.Frame
	have    bool
	cmds    [][7]byte
	closed  bool
}

// NewPort returns a part that is awake, in active mode, with no particles measured yet.
func NewPort() *Port {
	p := &Port{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// Set is the part's next measurement. Awake in active mode, the part sends it at once (one frame
// per Set); in passive mode it keeps it for the next read command; asleep it measures nothing.
func (p *Port) Set(f pms5003.Frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frame, p.have = f, true
	if !p.asleep && !p.passive {
		p.send(Append(nil, f))
	}
}

// Asleep reports whether the part sleeps (fan and laser off).
func (p *Port) Asleep() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asleep
}

// Commands returns the well-formed commands received, in order.
func (p *Port) Commands() [][7]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][7]byte(nil), p.cmds...)
}

// Read implements io.Reader: it blocks until the part sends something or Close.
func (p *Port) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.out) == 0 && !p.closed {
		p.cond.Wait()
	}
	if len(p.out) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.out)
	p.out = p.out[n:]
	return n, nil
}

// Write implements io.Writer: it takes commands, 7 bytes each.
func (p *Port) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	for i := 0; i+7 <= len(b); i += 7 {
		c := [7]byte(b[i : i+7])
		var sum uint16
		for _, v := range c[:5] {
			sum += uint16(v)
		}
		if c[0] != 0x42 || c[1] != 0x4D || sum != binary.BigEndian.Uint16(c[5:]) {
			continue
		}
		p.cmds = append(p.cmds, c)
		p.command(c[2], c[4])
	}
	return len(b), nil
}

// Close ends Read with io.EOF, as closing the serial port does.
func (p *Port) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.cond.Broadcast()
	return nil
}

// command obeys one command; mu held.
func (p *Port) command(cmd, data byte) {
	switch cmd {
	case 0xE4:
		if data == 0 {
			p.ack(cmd, data) // answered, then asleep
			p.asleep = true
			return
		}
		p.asleep = false
	case 0xE1:
		if p.asleep {
			return
		}
		p.passive = data == 0
		p.ack(cmd, data)
	case 0xE2:
		if !p.asleep && p.passive && p.have {
			p.send(Append(nil, p.frame))
		}
	}
}

// ack queues the 8 byte answer 0x42 0x4D 0x00 0x04 cmd data sum; mu held.
func (p *Port) ack(cmd, data byte) {
	b := []byte{0x42, 0x4D, 0x00, 0x04, cmd, data}
	var sum uint16
	for _, v := range b {
		sum += uint16(v)
	}
	p.send(binary.BigEndian.AppendUint16(b, sum))
}

// send queues bytes for Read; mu held.
func (p *Port) send(b []byte) {
	p.out = append(p.out, b...)
	p.cond.Broadcast()
}

var _ io.ReadWriter = (*Port)(nil)
