package localapi

import (
	"fmt"
	"time"

	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

// The problems policy: which states of the gateway need a technician, and what to tell them.

// clockUntrusted says what an untrusted clock means and what to check.
func clockUntrusted(policy string) string {
	return fmt.Sprintf("clock not trusted (policy %s): readings are stamped from the monotonic clock and flagged "+
		"until it is, and most signed commands are refused as stale; check NTP (timedatectl) and the RTC", policy)
}

// problems lists what needs a technician's attention, most important first.
func problems(st *apitype.Status) []string {
	var ps []string
	c := st.Cloud
	if !c.Connected {
		b := c.Broker
		if b == "" && len(c.Brokers) > 0 {
			b = c.Brokers[0]
		}
		switch {
		case c.Takeover:
			ps = append(ps, fmt.Sprintf("cloud link held off: the broker keeps closing our session, most likely another client uses client id %s "+
				"(two gateways with the same id?); next try %s", c.ClientID, c.NextTry.Format(time.RFC3339)))
		default:
			ps = append(ps, fmt.Sprintf("cloud link down: not connected to %s (%d connections so far)", b, c.Connects))
		}
	}
	for _, sn := range st.Sensors {
		switch sn.State {
		case sensor.StateOK.String():
		default:
			msg := fmt.Sprintf("sensor %s (%s on %s) is %s", sn.Name, sn.Driver, sn.Bus, sn.State)
			if sn.LastError != "" {
				msg += ": " + sn.LastError
			}
			ps = append(ps, msg)
		}
	}
	if !st.Clock.Trusted {
		ps = append(ps, clockUntrusted(st.Clock.Trust))
	}
	if c.Failed > 0 {
		ps = append(ps, fmt.Sprintf("%d batches failed to publish", c.Failed))
	}
	if c.MaxInflight > 0 && c.Inflight >= c.MaxInflight {
		ps = append(ps, fmt.Sprintf("all %d in-flight slots used: the broker is not acknowledging", c.MaxInflight))
	}
	if st.Ring.Dropped > 0 {
		ps = append(ps, fmt.Sprintf("ring buffer overflowed: %d oldest readings dropped since start", st.Ring.Dropped))
	} else if st.Ring.Fill >= 0.5 {
		ps = append(ps, fmt.Sprintf("ring buffer %.0f%% full: readings are not leaving fast enough", st.Ring.Fill*100))
	}
	sp := st.Spool
	if full := sp.EvictedDiskFull; full > 0 {
		ps = append(ps, fmt.Sprintf("disk full: the spool evicted %d unacknowledged batches, their readings are lost; "+
			"free space on the filesystem of %s or lower spool.quota below it", full, sp.StateDir))
	}
	if quota := sp.Evicted - sp.EvictedDiskFull; quota > 0 {
		ps = append(ps, fmt.Sprintf("spool over quota: evicted %d unacknowledged batches, their readings are lost", quota))
	}
	if sp.Lost > 0 {
		ps = append(ps, fmt.Sprintf("spool could not store %d batches: their readings are lost", sp.Lost))
	}
	if sp.FsyncErrors > 0 {
		ps = append(ps, fmt.Sprintf("spool saw %d fsync errors: check the SD card (dmesg)", sp.FsyncErrors))
	}
	if sp.Fill >= 0.8 {
		bound := "its quota"
		if sp.LimitBytes < sp.QuotaBytes {
			bound = "what fits on its disk"
		}
		ps = append(ps, fmt.Sprintf("spool at %.0f%% of %s: the oldest batches will be evicted soon", sp.Fill*100, bound))
	}
	if sp.Backlog > 0 && !sp.OldestAt.IsZero() && st.Clock.Now.Sub(sp.OldestAt) > 2*time.Minute {
		ps = append(ps, fmt.Sprintf("spool backlog of %d batches, oldest waiting since %s", sp.Backlog, sp.OldestAt.Format(time.RFC3339)))
	}
	if !st.Spool.DirWritable {
		ps = append(ps, fmt.Sprintf("state directory %s is not writable: %s", st.Spool.Dir, st.Spool.DirError))
	}
	return ps
}
