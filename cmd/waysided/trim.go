package main

import (
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
