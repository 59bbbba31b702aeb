package modbusemu

import (
	"io"
	"sync"
	"time"

	"github.com/wayside-iot/wayside/drivers/modbus"
)

// Line serves the slaves on one port: it reads request frames, hands each to the slave it is
// addressed to and writes the answer. Frames with a bad CRC and requests to absent slaves get no
// answer, as on a real bus (serial line spec 2.4.1: a slave that detects an error does not answer).
type Line struct {
	port io.ReadWriter

	mu     sync.Mutex
	slaves map[byte]*Slave
	log    []Request
	done   chan struct{}
}

// maxLog bounds the requests a Line remembers.
const maxLog = 4096

// Request is one request frame the line saw, when its last byte arrived and when the answer started
// to go out (zero for none). Answered is taken before the write, never after it: the master cannot
// hold the answer before then, so the next request's At minus Answered is at least the silence the
// master kept, however late this goroutine runs on a loaded machine.
type Request struct {
	Frame    []byte
	At       time.Time
	Answered time.Time
}

// Serve starts serving slaves on port; it stops when a read from port fails (the port was closed).
func Serve(port io.ReadWriter, slaves ...*Slave) *Line {
	l := &Line{port: port, slaves: map[byte]*Slave{}, done: make(chan struct{})}
	for _, s := range slaves {
		l.slaves[s.id] = s
	}
	go l.run()
	return l
}

// Add puts another slave on the line.
func (l *Line) Add(s *Slave) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.slaves[s.id] = s
}

// Slave returns the slave at id, nil when there is none.
func (l *Line) Slave(id byte) *Slave {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.slaves[id]
}

// Requests returns the well-formed request frames seen so far (the last few thousand).
func (l *Line) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.log...)
}

// Done is closed when the line stopped serving.
func (l *Line) Done() <-chan struct{} { return l.done }

func (l *Line) run() {
	defer close(l.done)
	var buf []byte
	chunk := make([]byte, modbus.MaxADU)
	for {
		n, err := l.port.Read(chunk)
		buf = append(buf, chunk[:n]...)
		// Read requests (functions 01..04) are 8 bytes; slide over anything else a byte at a time.
		for len(buf) >= modbus.RequestLen {
			f := buf[:modbus.RequestLen]
			if modbus.CRC(f[:6]) != uint16(f[6])|uint16(f[7])<<8 {
				buf = buf[1:]
				continue
			}
			req := append([]byte(nil), f...)
			buf = buf[modbus.RequestLen:]
			l.mu.Lock()
			if len(l.log) >= maxLog { // the sim board's lines run for days: keep the recent half
				l.log = append(l.log[:0], l.log[maxLog/2:]...)
			}
			l.log = append(l.log, Request{Frame: req, At: time.Now()})
			i := len(l.log) - 1
			s := l.slaves[req[0]]
			l.mu.Unlock()
			if s == nil {
				continue
			}
			out, delay := s.Respond(req)
			if out == nil {
				continue
			}
			if delay > 0 {
				time.Sleep(delay)
			}
			l.mu.Lock()
			l.log[i].Answered = time.Now()
			l.mu.Unlock()
			if _, err := l.port.Write(out); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
