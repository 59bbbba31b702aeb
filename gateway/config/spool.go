package config

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Spool configures the on-disk store-and-forward queue.
type Spool struct {
	// Dir holds the spool segments and the gateway's state.
	Dir string `yaml:"dir"`
	// SegmentBytes is the size at which a segment file is rotated.
	SegmentBytes Size `yaml:"segment_size"`
	// QuotaBytes bounds the spool on disk; past it the oldest unacknowledged batches are evicted.
	QuotaBytes Size `yaml:"quota"`
	// SyncEvery and SyncInterval set the fsync policy: after this many batches or this long.
	SyncEvery    int      `yaml:"sync_every"`
	SyncInterval Duration `yaml:"sync_interval"`
	// ReplayRate bounds how many backlog batches per second are sent after an outage, besides live data.
	ReplayRate float64 `yaml:"replay_rate"`
}

// Size is a byte count written as 4MiB, 512KiB, 1GiB or a plain number in YAML.
type Size int64

// UnmarshalYAML parses a size with an optional KiB/MiB/GiB (or KB/MB/GB) suffix.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v := strings.TrimSpace(n.Value)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	var num int64
	if _, err := fmt.Sscanf(v, "%d", &num); err != nil || fmt.Sprint(num) != v || num < 0 {
		return fmt.Errorf("want a size like 4MiB, 512KiB or 1GiB, got %q", n.Value)
	}
	*s = Size(num * mult)
	return nil
}

// validateSpool checks the spool section: segment size, quota, fsync policy and replay rate.
func (c *Config) validateSpool(v *problems) {
	if c.Spool.SegmentBytes < 4<<10 || c.Spool.SegmentBytes > 1<<30 {
		v.add("spool.segment_size", "%d bytes is not valid; use 4KiB..1GiB (4MiB is typical)", c.Spool.SegmentBytes)
	}
	if c.Spool.QuotaBytes < 2*c.Spool.SegmentBytes {
		v.add("spool.quota", "%d bytes is less than two segments (%d); raise it (256MiB is typical) or lower spool.segment_size", c.Spool.QuotaBytes, 2*c.Spool.SegmentBytes)
	}
	if c.Spool.SyncEvery < 1 || c.Spool.SyncEvery > 100000 {
		v.add("spool.sync_every", "%d is not valid; use 1..100000 batches (32 is typical; 1 fsyncs every batch)", c.Spool.SyncEvery)
	}
	if c.Spool.SyncInterval.D() < time.Millisecond || c.Spool.SyncInterval.D() > time.Hour {
		v.add("spool.sync_interval", "%v is not valid; use 1ms..1h (5s is typical)", c.Spool.SyncInterval.D())
	}
	if c.Spool.ReplayRate <= 0 || c.Spool.ReplayRate > 10000 {
		v.add("spool.replay_rate", "%v is not valid; use a rate in batches per second above 0 and up to 10000", c.Spool.ReplayRate)
	}
}
