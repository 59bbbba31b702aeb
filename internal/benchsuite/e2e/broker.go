// Package e2e owns the end-to-end part of `make bench`: it starts a real mosquitto on a loopback port,
// writes waysided configurations (the sim board's sensors, or the synthetic load part at a given rate),
// runs the daemon as a separate process against the broker, counts the readings a separate paho
// subscriber receives at QoS 1 and checks them (every pack decoded with senml.Decode, batch sequence
// numbers unique), and reads the daemon's CPU time and memory from /proc. Every wait is bounded.
package e2e

import (
	"fmt"
	"time"

	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
)

// Broker is a mosquitto process on a loopback port, started by testbroker's launcher.
type Broker struct {
	Addr string // 127.0.0.1:port
	URL  string // tcp://Addr

	b *testbroker.Broker
}

// MosquittoBinary finds mosquitto on PATH or where Debian and Homebrew install it.
func MosquittoBinary() (string, error) {
	p, err := testbroker.Find()
	if err != nil {
		return "", fmt.Errorf("e2e: %w", err)
	}
	return p, nil
}

// StartBroker runs mosquitto with a config written into dir: one listener on a free 127.0.0.1 port,
// anonymous clients, queues deep enough that a subscriber falling behind for a moment loses nothing
// (the suite counts every reading). It waits until the port accepts connections (at most 10 s).
func StartBroker(dir string) (*Broker, error) {
	b, err := testbroker.Run(dir, testbroker.Options{Extra: []string{"max_queued_messages 1000000", "max_inflight_messages 100"}})
	if err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	return &Broker{Addr: b.Addr, URL: b.URL, b: b}, nil
}

// PID is the broker's process id.
func (b *Broker) PID() int { return b.b.PID() }

// Stop terminates the broker and waits for it (at most 5 s, then it is killed).
func (b *Broker) Stop() error {
	if err := b.b.StopWithin(5 * time.Second); err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	return nil
}
