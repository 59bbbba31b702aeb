package main

import (
	"os"
	"runtime/debug"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/internal/codepages"
)

// trimAfter is when the code pages are trimmed again after a start: by then the first batches have
// been encoded, signed and sent, so what is still resident is what the running daemon uses.
var trimAfter = []time.Duration{0, 30 * time.Second}

// trimCode drops the executable's pages that start-up faulted in and the daemon no longer runs
// (internal/codepages), now and again after trimAfter; stop ends the later trims.
func (d *daemon) trimCode(stop <-chan struct{}) {
	trim := func() {
		r, err := codepages.Trim()
		if err != nil {
			d.log.Debug("code pages not trimmed", zap.Error(err))
			return
		}
		d.log.Debug("code pages trimmed", zap.Int("mappings", r.Mappings), zap.Uint64("bytes", r.Bytes),
			zap.Uint64("rss_file_before", r.RSSFileBefore), zap.Uint64("rss_file_after", r.RSSFileAfter))
	}
	began := time.Now()
	for _, at := range trimAfter {
		select {
		case <-stop:
			return
		case <-time.After(time.Until(began.Add(at))):
			trim()
		}
	}
}

// gcPercent is the daemon's GOGC unless the environment sets one. Go's default, 100, lets the heap grow
// to twice what is live and never below 4 MiB before a collection; the idle daemon keeps about 1 MiB
// live and allocates a few KiB a second (publishes, the spool's reads, timers), so at 100 its heap
// creeps up to 4 MiB over minutes and the pages stay resident. At 50 the floor is 2 MiB. The pipeline
// allocates nothing per reading, so under load the extra collections cost little (BENCHMARKS.md).
const gcPercent = 50

// gcDefault sets gcPercent unless GOGC is set (an operator's choice, e.g. in a drop-in, wins).
func gcDefault() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
