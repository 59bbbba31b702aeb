package cloudsync

import (
	"sync/atomic"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// The workaround for paho v1.5.1's store resume. On every (re)connection paho's resume takes a
// snapshot of the store's keys (All) and re-sends those packets, setting their DUP flag, while the
// new connection's writer is already running. A batch published after the connection is up but before
// that snapshot is both sent by us and re-sent by resume, and its DUP flag is written while the writer
// reads it: a data race in paho v1.5.1. So the link reports itself connected (Connected) only once
// resume has taken its snapshot on an open connection; onConnect waits for that before publishing.
//
// Resume also replaces the tokens of stored publishes and completes the old ones without an error and
// without a PUBACK: trackAcks counts the snapshots a batch's token lived through and reports such a
// batch as ErrUnconfirmed.

// resumeGate is what gateStore tells the link.
type resumeGate struct {
	resumed atomic.Bool   // paho has snapshotted its store since the connection came up
	resumes atomic.Uint64 // store snapshots taken: each may complete pending tokens without a PUBACK
}

// gateStore is paho's in-memory store, watched: its All is called only by resume.
type gateStore struct {
	mqtt.Store
	l *Link
}

func (s *gateStore) All() []string {
	keys := s.Store.All()
	// Every snapshot counts (only resume calls All): even one taken as the connection dropped again
	// may complete pending tokens without a PUBACK.
	s.l.gate.resumes.Add(1)
	if c := s.l.client; c != nil && c.IsConnectionOpen() {
		s.l.gate.resumed.Store(true)
	}
	return keys
}
