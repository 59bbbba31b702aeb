package e2e

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
)

// message is one telemetry pack as received.
type message struct {
	payload  []byte
	readings int64 // from the CBOR array header
}

// subscriber is a separate MQTT client on the telemetry topic at QoS 1. Its handler only counts
// (the records in the pack's array header) and keeps the payload: decoding waits until the daemon
// has stopped, so it does not compete with the daemon for CPU during the window.
type subscriber struct {
	client   mqtt.Client
	readings atomic.Int64
	bytes    atomic.Int64
	packs    atomic.Int64
	mu       sync.Mutex
	msgs     []message
	once     sync.Once
}

var subscribers atomic.Int64

func subscribe(url, topic string) (*subscriber, error) {
	s := &subscriber{}
	id := fmt.Sprintf("wayside-bench-%d-%d", os.Getpid(), subscribers.Add(1))
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(true).
		SetOrderMatters(false).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	s.client = mqtt.NewClient(opts)
	if tok := s.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("e2e: subscriber connect to %s: %v", url, tok.Error())
	}
	tok := s.client.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		p := m.Payload()
		n := packLen(p)
		s.mu.Lock()
		s.msgs = append(s.msgs, message{payload: p, readings: n})
		s.mu.Unlock()
		s.bytes.Add(int64(len(p)))
		s.readings.Add(n)
		s.packs.Add(1)
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		s.client.Disconnect(0)
		return nil, fmt.Errorf("e2e: subscribe %s: %v", topic, tok.Error())
	}
	return s, nil
}

func (s *subscriber) close() { s.once.Do(func() { s.client.Disconnect(100) }) }

func (s *subscriber) take() []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs
	s.msgs = nil
	return m
}

// packLen is the number of records in a SenML-CBOR pack: the length in its array header (RFC 8949
// section 3: major type 4, the count in the low bits or the 1, 2, 4 or 8 bytes after). 0 when the
// payload does not start with a definite-length array.
func packLen(p []byte) int64 {
	if pack, err := cosebatch.Unwrap(p); err == nil { // a signed batch: the pack inside
		p = pack
	}
	if len(p) == 0 || p[0]>>5 != 4 {
		return 0
	}
	info := p[0] & 0x1f
	switch {
	case info < 24:
		return int64(info)
	case info == 24 && len(p) >= 2:
		return int64(p[1])
	case info == 25 && len(p) >= 3:
		return int64(binary.BigEndian.Uint16(p[1:]))
	case info == 26 && len(p) >= 5:
		return int64(binary.BigEndian.Uint32(p[1:]))
	case info == 27 && len(p) >= 9:
		return int64(min(binary.BigEndian.Uint64(p[1:]), 1<<62))
	}
	return 0
}
