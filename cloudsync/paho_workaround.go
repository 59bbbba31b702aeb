package cloudsync

import (
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// gateStore is paho's in-memory store, watched. On every (re)connection paho's resume takes a
// snapshot of the store's keys (All) and re-sends those packets, setting their DUP flag, while the
// new connection's writer is already running. A batch published after the connection is up but before
// that snapshot is both sent by us and re-sent by resume, and its DUP flag is written while the writer
// reads it: a data race in paho v1.5.1. So the link reports itself connected only once resume has
// taken its snapshot on an open connection.
type gateStore struct {
	mqtt.Store
	l *Link
}

func (s *gateStore) All() []string {
	keys := s.Store.All()
	// Every snapshot counts (only resume calls All): even one taken as the connection dropped again
	// may complete pending tokens without a PUBACK.
	s.l.resumes.Add(1)
	if c := s.l.client; c != nil && c.IsConnectionOpen() {
		s.l.resumed.Store(true)
	}
	return keys
}
