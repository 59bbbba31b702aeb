//go:build !linux

package localapi

import (
	"errors"
	"net"
)

// peerCred is only implemented on Linux (SO_PEERCRED); elsewhere every peer may only read.
func peerCred(net.Conn) (*Peer, error) {
	return nil, errors.New("peer credentials are only available on Linux")
}

func diskFree(string) (uint64, error) { return 0, errors.New("not supported on this OS") }

func canWrite(string) error { return nil }
