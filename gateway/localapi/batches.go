package localapi

import (
	"sync/atomic"
	"time"
)

// Batches records the last batch the gateway sent, for the spool endpoint. Its Note method has the
// shape of gateway.Options.OnBatch; it is called by the batcher and read by handlers.
type Batches struct {
	seq   atomic.Uint64
	at    atomic.Int64 // unix nanoseconds
	n     atomic.Int64
	bytes atomic.Int64
}

// Note records a batch handed to the cloud link.
func (b *Batches) Note(seq uint64, readings, bytes int) {
	b.n.Store(int64(readings))
	b.bytes.Store(int64(bytes))
	b.at.Store(time.Now().UnixNano())
	b.seq.Store(seq)
}

// last returns the last batch; seq is 0 before the first one.
func (b *Batches) last() (seq uint64, at time.Time, readings, bytes int) {
	if b == nil {
		return 0, time.Time{}, 0, 0
	}
	seq = b.seq.Load()
	if seq == 0 {
		return 0, time.Time{}, 0, 0
	}
	return seq, time.Unix(0, b.at.Load()), int(b.n.Load()), int(b.bytes.Load())
}
