package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/wayside-iot/wayside/internal/durable"
)

// seqLease is how many sequence numbers one write of the lease file reserves: a crash skips at most
// this many, and the file is written once per seqLease batches.
const seqLease = 1000

// seqStore hands out batch sequence numbers that increase across restarts. The file holds the highest
// number reserved; a restart continues after it. Only the batcher calls Next.
type seqStore struct {
	path   string
	next   uint64
	leased uint64
	// makeRoom frees disk space (the spool evicts its oldest segment) when writing the lease fails
	// with ENOSPC; it reports whether anything was freed. nil: no retry.
	makeRoom func() bool
}

// openSeq reads the lease in dir and reserves the next numbers; makeRoom (may be nil) is asked for
// space when the disk is full, so neither the start nor a renewal fails on a full disk.
func openSeq(dir string, makeRoom func() bool) (*seqStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("gateway: state dir %s: %w", dir, err)
	}
	s := &seqStore{path: filepath.Join(dir, "batch-seq"), makeRoom: makeRoom}
	b, err := os.ReadFile(s.path)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return nil, fmt.Errorf("gateway: read %s: %w", s.path, err)
	default:
		v, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil {
			return nil, fmt.Errorf("gateway: %s holds %q, not a sequence number; delete it only if "+
				"the cloud may see sequence numbers restart: %w", s.path, b, perr)
		}
		s.leased = v
	}
	s.next = s.leased + 1
	return s, s.extend()
}

func (s *seqStore) extend() error {
	target := s.leased + seqLease
	data := []byte(strconv.FormatUint(target, 10) + "\n")
	err := durable.WriteFile(s.path, data, 0o640)
	for tries := 0; err != nil && errors.Is(err, syscall.ENOSPC) && s.makeRoom != nil && tries < 2 && s.makeRoom(); tries++ {
		err = durable.WriteFile(s.path, data, 0o640)
	}
	if err != nil {
		return fmt.Errorf("gateway: reserve sequence numbers in %s: %w", s.path, err)
	}
	s.leased = target
	return nil
}

// Next returns the next sequence number.
func (s *seqStore) Next() (uint64, error) {
	if s.next > s.leased {
		if err := s.extend(); err != nil {
			return 0, err
		}
	}
	n := s.next
	s.next++
	return n, nil
}

// newBootID returns 16 random bytes in hex: one per daemon start, so the cloud can tell restarts apart.
func newBootID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("gateway: boot id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
