package localapi

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

// The gateway's Stats as the API's wire types (apitype): what status, sensors, cloud and spool show.
// The gateway owns every fact; these functions only translate and add the configuration's side.

// clockFrom is the gateway's own clock trust (the state the MQTT status carries) and its wall time.
// The correction is in whole milliseconds, the resolution readings are stamped at: a clock trusted
// from the start has an offset of a few µs of noise, which is no correction.
func clockFrom(st gateway.Stats) apitype.Clock {
	return apitype.Clock{Trusted: st.Clock.Trusted, Trust: st.Clock.Trust,
		CorrectionMs: float64(st.ClockOffset.Round(time.Millisecond).Milliseconds()), Now: st.Now.UTC()}
}

// status is the status endpoint's answer: the gateway's Stats beside the configuration, and the
// problems they show.
func (s *Server) status() apitype.Status {
	st := s.gw.Stats()
	cfg := s.cfg
	out := apitype.Status{
		Gateway:       cfg.Gateway.ID,
		GatewayIDFrom: cfg.Gateway.IDSource,
		Version:       s.opts.Version,
		Board:         cfg.Gateway.Board,
		BootID:        st.BootID,
		ConfigHash:    cfg.Hash,
		Started:       st.Now.Add(-st.Uptime).UTC().Truncate(time.Millisecond),
		UptimeS:       st.Uptime.Seconds(),
		LogLevel:      s.opts.Level.Level().String(),
		Clock:         clockFrom(st),
		Pipeline:      apitype.Pipeline{Readings: st.Readings, Spooled: st.Spooled, Batches: st.Batches},
		Cloud:         s.cloudFrom(st),
		Ring:          ringFrom(st),
		Spool:         s.spoolFrom(st),
		Sensors:       s.sensorsFrom(st),
		Problems:      []string{},
	}
	out.SealKID = st.SealKID
	if st.Key.PublicKey != "" {
		out.Key = &apitype.GatewayKey{PublicKey: st.Key.PublicKey, KeyID: st.Key.KeyID}
	}
	if p, ok := boards.Profiles[cfg.Gateway.Board]; ok {
		out.BoardModel = p.Model
	}
	if ps := problems(&out); ps != nil {
		out.Problems = ps
	}
	return out
}

func (s *Server) cloudFrom(st gateway.Stats) apitype.Cloud {
	l := st.Link
	profile := s.cfg.Cloud.Profile
	if profile == "" {
		profile = "generic"
	}
	return apitype.Cloud{
		Broker: l.Broker, Brokers: s.cfg.Cloud.Brokers, ClientID: s.cfg.Cloud.ClientID,
		TelemetryTopic: l.Telemetry, StatusTopic: l.StatusOn, State: l.State, Takeover: l.Takeover,
		NextTry: l.NextTry, Profile: profile, Commands: l.Commands, Events: l.Events, EventsLost: l.EventsLost,
		Connected: l.Connected, Connects: l.Connects, Published: l.Published, Acked: l.Acked, Failed: l.Failed,
		Inflight: l.Inflight, MaxInflight: s.cfg.Cloud.MaxInflight,
		LastAckRTTMs: float64(l.LastAckRTT) / float64(time.Millisecond),
		EventsTopic:  s.topics.Events, CommandFilter: s.topics.CommandFilter, ReplyTopic: s.replyTopic(),
	}
}

// replyTopic is where a command is answered, with {name} and {rid} for the command's name and
// request id (azure-iothub puts the answer's status in it too: 200 here).
func (s *Server) replyTopic() string {
	if s.topics.CommandFilter == "" {
		return ""
	}
	return s.topics.Reply(profile.Command{Name: "{name}", RequestID: "{rid}"}, 200)
}

func ringFrom(st gateway.Stats) apitype.Ring {
	r := apitype.Ring{Len: st.RingLen, Cap: st.RingCap, Pushed: st.Ring.Pushed, Popped: st.Ring.Popped,
		Dropped: st.Ring.Dropped, Rejected: st.Ring.Rejected}
	if r.Cap > 0 {
		r.Fill = float64(r.Len) / float64(r.Cap)
	}
	return r
}

func (s *Server) spoolFrom(st gateway.Stats) apitype.Spool {
	dir := s.cfg.Spool.Dir
	ss := st.Spool
	sp := apitype.Spool{StateDir: dir, Dir: filepath.Join(dir, "spool"), Ring: ringFrom(st),
		Segments: ss.Segments, Bytes: ss.Bytes, QuotaBytes: int64(s.cfg.Spool.QuotaBytes), LimitBytes: ss.Limit,
		DiskBytes: ss.DiskSize, EvictedDiskFull: ss.EvictedDiskFull, SkippedRecords: ss.SkippedRecords, SkippedBytes: ss.SkippedBytes,
		Backlog: ss.Backlog, Unsent: ss.Unsent, OldestSeq: ss.OldestSeq, OldestAt: ss.OldestAt,
		Appended: ss.Appended, Acked: ss.Acked, Evicted: ss.Evicted, Lost: ss.Lost, Recovered: ss.Recovered,
		TornRecords: ss.TornRecords, CutBytes: ss.CutBytes, Fsyncs: ss.Fsyncs, FsyncErrors: ss.FsyncErrors,
		DurableSeq: ss.DurableSeq}
	if !sp.OldestAt.IsZero() {
		sp.OldestAt = sp.OldestAt.UTC()
	}
	if sp.LimitBytes <= 0 || sp.LimitBytes > sp.QuotaBytes {
		sp.LimitBytes = sp.QuotaBytes
	}
	if sp.LimitBytes > 0 {
		sp.Fill = min(float64(sp.Bytes)/float64(sp.LimitBytes), 1)
	}
	if err := canWrite(dir); err != nil {
		sp.DirError = err.Error()
	} else {
		sp.DirWritable = true
	}
	if free, err := diskFree(dir); err == nil {
		sp.DirFree = free
	}
	sp.LeasedThrough = st.LeasedThrough
	if b := st.LastBatch; b.Seq > 0 {
		sp.LastSeq, sp.NextSeq = b.Seq, st.NextSeq
		sp.LastBatchAt, sp.LastBatchN, sp.LastBatchSize = b.At.UTC(), b.Readings, b.Bytes
	}
	return sp
}

func (s *Server) sensorsFrom(st gateway.Stats) []apitype.Sensor {
	out := make([]apitype.Sensor, 0, len(st.Sensors))
	for i, ss := range st.Sensors {
		h := ss.Health
		sn := apitype.Sensor{Name: ss.Name, Driver: ss.Driver, IntervalMs: ss.Interval.Milliseconds(),
			PhaseMs: ss.Phase.Milliseconds(), DelayLastMs: ms(ss.Delay.Last), DelayMaxMs: ms(ss.Delay.Max),
			MissedSlots: ss.Delay.Missed,
			State:       h.State.String(), Reads: h.Reads, Good: h.Good, NoData: h.NoData, Errors: h.Errors,
			ConsecutiveFailures: h.Consecutive, LastError: h.LastError, LastErrorAt: h.LastErrorAt,
			LastGoodAt: h.LastGoodAt}
		// Stats lists sensors in configuration order; match by name anyway.
		if i < len(s.cfg.Sensors) && s.cfg.Sensors[i].Name == ss.Name {
			sc := s.cfg.Sensors[i]
			sn.Bus, sn.Pin = sc.Bus, sc.Pin
			if sc.Address != 0 {
				sn.Address = fmt.Sprintf("0x%02x", sc.Address)
			}
		}
		for k, n := range h.ErrorsByKind {
			if n > 0 {
				if sn.ErrorsByKind == nil {
					sn.ErrorsByKind = map[string]uint64{}
				}
				sn.ErrorsByKind[sensor.ErrorKindNames[k]] = n
			}
		}
		out = append(out, sn)
	}
	return out
}

func values(vs []gateway.Value) []apitype.Value {
	out := make([]apitype.Value, len(vs))
	for i, v := range vs {
		out[i] = apitype.Value{Sensor: v.Sensor, Name: v.Name, Unit: v.Unit, Value: v.Value, Time: v.Time.UTC()}
	}
	return out
}

// ms is d in milliseconds to 0.01 ms.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }
