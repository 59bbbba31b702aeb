package cloudsync

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/profile"
)

// Status is the retained status message, JSON on the status topic. The last will is the same
// message with state "offline" and clean false.
type Status struct {
	State     string        `json:"state"` // "online" or "offline"
	Gateway   string        `json:"gateway"`
	Version   string        `json:"version"`
	BootID    string        `json:"boot_id"`
	Config    string        `json:"config,omitempty"`
	Since     string        `json:"since,omitempty"` // RFC 3339, when the message was made
	Clean     bool          `json:"clean,omitempty"` // offline after an orderly stop (not the last will)
	Published uint64        `json:"published,omitempty"`
	Broker    string        `json:"broker,omitempty"` // the broker this session is on
	Connects  uint64        `json:"connects,omitempty"`
	Detail    *StatusDetail `json:"detail,omitempty"`
}

// StatusDetail is the gateway's state in the status message.
type StatusDetail struct {
	Sensors SensorSummary `json:"sensors"`
	Spool   SpoolSummary  `json:"spool"`
	Clock   ClockSummary  `json:"clock"`
	// RingDropped counts readings lost because the in-memory ring overflowed since the start.
	RingDropped uint64 `json:"ring_dropped"`
}

// SensorSummary counts sensors by health state and names the ones not ok.
type SensorSummary struct {
	OK       int      `json:"ok"`
	Degraded []string `json:"degraded,omitempty"`
	Failing  []string `json:"failing,omitempty"`
}

// SpoolSummary is the durable backlog.
type SpoolSummary struct {
	Backlog   int    `json:"backlog"` // batches not yet acknowledged by the broker
	Bytes     int64  `json:"bytes"`   // on disk
	OldestSeq uint64 `json:"oldest_seq,omitempty"`
	Evicted   uint64 `json:"evicted,omitempty"` // batches dropped by the quota or a full disk since the start
	// EvictedDiskFull is the part of Evicted dropped because the gateway's disk was full.
	EvictedDiskFull uint64 `json:"evicted_disk_full,omitempty"`
	// Lost counts batches that could not be stored at all since the start (not even evicted later).
	Lost uint64 `json:"lost,omitempty"`
	// Limit is what the spool may hold now: spool.quota, or what fits on the disk when that is less.
	Limit int64 `json:"limit,omitempty"`
}

// ClockSummary is the wall clock's state: readings are stamped from it once it is trusted.
type ClockSummary struct {
	Trusted bool   `json:"trusted"`
	Trust   string `json:"trust"` // the policy: "ntp" or "always"
}

// StatusNow returns the online status message as it would be published now (get-status).
func (l *Link) StatusNow() Status { return l.status("online", false) }

func (l *Link) status(state string, clean bool) Status {
	st := Status{
		State: state, Gateway: l.opts.GatewayID, Version: l.opts.Version, BootID: l.opts.BootID,
		Config: l.opts.ConfigHash, Since: time.Now().UTC().Format(time.RFC3339), Clean: clean,
		Published: l.count.published.Load(), Connects: l.count.connects.Load(),
	}
	if b, _ := l.conn.broker.Load().(string); state == "online" {
		st.Broker = b
	}
	if l.opts.Detail != nil && (state == "online" || clean) {
		d := l.opts.Detail()
		st.Detail = &d
	}
	return st
}

func (l *Link) statusPayload(state string, clean bool) ([]byte, error) {
	b, err := json.Marshal(l.status(state, clean))
	if err != nil {
		return nil, fmt.Errorf("cloudsync: status: %w", err)
	}
	return b, nil
}

// publishStatus sends the online status the profile's way; not waited on (the PUBACK completes it).
func (l *Link) publishStatus() {
	l.sendStatus("online", false)
}

// sendStatus publishes a status message: retained on the status topic, or as a device twin update.
func (l *Link) sendStatus(state string, clean bool) mqtt.Token {
	b, err := l.statusPayload(state, clean)
	if err != nil {
		l.log.Error("status", zap.Error(err))
		return nil
	}
	switch l.topics.StatusDelivery {
	case profile.StatusTwin:
		key := l.topics.StatusKey
		if key == "" {
			key = "wayside"
		}
		doc, err := json.Marshal(map[string]json.RawMessage{key: b})
		if err != nil {
			return nil
		}
		return l.client.Publish(l.topics.StatusTopic(strconv.FormatUint(l.statusRID.Add(1), 10)), 1, false, doc)
	case profile.StatusPlain:
		return l.client.Publish(l.topics.Status, 1, false, b)
	default:
		return l.client.Publish(l.topics.Status, 1, true, b)
	}
}

// StatusChanged asks for the retained status to be refreshed soon (a sensor changed state, the
// clock became trusted...). It never blocks.
func (l *Link) StatusChanged() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// refreshStatus republishes the retained status every StatusEvery and when StatusChanged asks,
// at most once a second.
func (l *Link) refreshStatus() {
	t := time.NewTicker(l.opts.StatusEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		case <-l.kick:
		}
		if l.Connected() {
			l.publishStatus()
		}
		select { // coalesce bursts of changes
		case <-l.stop:
			return
		case <-time.After(time.Second):
		}
	}
}
