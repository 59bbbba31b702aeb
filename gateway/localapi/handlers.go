package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/drivers/sensor"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

// endpoint is one name under /localapi/v0/: get only reads state; post is an action and needs a peer
// that may act.
type endpoint struct {
	get  func(*Server, http.ResponseWriter, *http.Request)
	post func(*Server, http.ResponseWriter, *http.Request)
}

// handlers maps each endpoint name to its handlers. Adding an endpoint is one line here.
var handlers = map[string]endpoint{
	"status":      {get: (*Server).serveStatus},
	"sensors":     {get: (*Server).serveSensors},
	"cloud":       {get: (*Server).serveCloud},
	"spool":       {get: (*Server).serveSpool},
	"tail":        {get: (*Server).serveTail},
	"version":     {get: (*Server).serveVersion},
	"log-level":   {get: (*Server).serveLogLevel, post: (*Server).serveSetLogLevel},
	"read":        {post: (*Server).serveRead},
	"selftest":    {post: (*Server).serveSelfTest},
	"scan-i2c":    {post: (*Server).serveScanI2C},
	"scan-modbus": {post: (*Server).serveScanModbus},
}

// readTimeout bounds one sensor read in read and selftest: a hung bus must not hang the technician.
const readTimeout = 5 * time.Second

// clockFrom is the gateway's own clock trust (the state the MQTT status carries) and its wall time.
// The correction is in whole milliseconds, the resolution readings are stamped at: a clock trusted
// from the start has an offset of a few µs of noise, which is no correction.
func clockFrom(st gateway.Stats) apitype.Clock {
	return apitype.Clock{Trusted: st.Clock.Trusted, Trust: st.Clock.Trust,
		CorrectionMs: float64(st.ClockOffset.Round(time.Millisecond).Milliseconds()), Now: st.Now.UTC()}
}

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

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.status())
}

func (s *Server) serveSensors(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.sensorsFrom(s.gw.Stats()))
}

func (s *Server) serveCloud(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cloudFrom(s.gw.Stats()))
}

func (s *Server) serveSpool(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.spoolFrom(s.gw.Stats()))
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, apitype.Version{Version: s.opts.Version, GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, Gateway: s.cfg.Gateway.ID})
}

func (s *Server) serveLogLevel(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, apitype.LogLevel{Level: s.opts.Level.Level().String()})
}

func (s *Server) serveSetLogLevel(w http.ResponseWriter, r *http.Request) {
	want := r.FormValue("level")
	if want == "" { // zap reads "" as info: a request that forgot the level must not change it
		writeError(w, http.StatusBadRequest, apitype.Error{Error: "missing parameter level; use debug, info, warn or error"})
		return
	}
	lvl, err := zapcore.ParseLevel(want)
	if err != nil || lvl < zapcore.DebugLevel || lvl > zapcore.ErrorLevel {
		writeError(w, http.StatusBadRequest, apitype.Error{Error: fmt.Sprintf("log level %q is not valid; use debug, info, warn or error", want)})
		return
	}
	prev := s.opts.Level.Level()
	s.opts.Level.SetLevel(lvl)
	if p := PeerFrom(r.Context()); p != nil && prev != lvl {
		// Logged at warn so it is seen at any level: the change lasts until the next restart.
		s.log.Warn("log level changed", zap.Stringer("from", prev), zap.Stringer("to", lvl), zap.Uint32("by_uid", p.UID))
	}
	writeJSON(w, http.StatusOK, apitype.LogLevel{Level: lvl.String(), Previous: prev.String()})
}

// sensorNames lists the configured sensors in configuration order.
func (s *Server) sensorNames() []string {
	names := make([]string, len(s.cfg.Sensors))
	for i, sc := range s.cfg.Sensors {
		names[i] = sc.Name
	}
	return names
}

func (s *Server) driverOf(name string) string {
	for _, sc := range s.cfg.Sensors {
		if sc.Name == name {
			return sc.Driver
		}
	}
	return ""
}

// readNow is ReadNow bounded by readTimeout: a read stuck on a hung bus returns a timeout to the
// caller (the read itself finishes in the background whenever the driver returns).
func (s *Server) readNow(ctx context.Context, name string) ([]gateway.Value, error) {
	type result struct {
		vals []gateway.Value
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := s.gw.ReadNow(name)
		ch <- result{v, err}
	}()
	t := time.NewTimer(readTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.vals, r.err
	case <-t.C:
		return nil, fmt.Errorf("read %s: no answer within %v: %w", name, readTimeout, sensor.ErrTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func values(vs []gateway.Value) []apitype.Value {
	out := make([]apitype.Value, len(vs))
	for i, v := range vs {
		out[i] = apitype.Value{Sensor: v.Sensor, Name: v.Name, Unit: v.Unit, Value: v.Value, Time: v.Time.UTC()}
	}
	return out
}

func kindName(err error) string {
	k := sensor.Kind(err)
	if k == nil {
		return "other"
	}
	if k == sensor.ErrNoData {
		return "no-data"
	}
	for i, name := range sensor.ErrorKinds() {
		if k == name {
			return sensor.ErrorKindNames[i]
		}
	}
	return "other"
}

func (s *Server) serveRead(w http.ResponseWriter, r *http.Request) {
	name := r.FormValue("sensor")
	if name == "" {
		writeError(w, http.StatusBadRequest, apitype.Error{Error: "missing ?sensor=NAME; configured: " + strings.Join(s.sensorNames(), ", ")})
		return
	}
	if !slices.Contains(s.sensorNames(), name) {
		writeError(w, http.StatusNotFound, apitype.Error{Error: fmt.Sprintf("unknown sensor %q; configured: %s", name, strings.Join(s.sensorNames(), ", "))})
		return
	}
	start := time.Now()
	vals, err := s.readNow(r.Context(), name)
	took := float64(time.Since(start)) / float64(time.Millisecond)
	switch {
	case errors.Is(err, gateway.ErrUnknownSensor):
		writeError(w, http.StatusNotFound, apitype.Error{Error: err.Error()})
	case errors.Is(err, sensor.ErrNoData):
		writeJSON(w, http.StatusOK, apitype.Read{Sensor: name, Driver: s.driverOf(name), Values: []apitype.Value{}, NoData: true, TookMs: took})
	case err != nil:
		writeError(w, http.StatusBadGateway, apitype.Error{Error: err.Error(), Kind: kindName(err)})
	default:
		writeJSON(w, http.StatusOK, apitype.Read{Sensor: name, Driver: s.driverOf(name), Values: values(vals), TookMs: took})
	}
}

// serveTail streams readings as NDJSON as the batcher takes them from the ring, until the client goes
// away or the server closes. A client that reads too slowly misses readings, and is told how many.
func (s *Server) serveTail(w http.ResponseWriter, r *http.Request) {
	want := r.URL.Query()["sensor"]
	known := s.sensorNames()
	for _, n := range want {
		if !slices.Contains(known, n) {
			writeError(w, http.StatusNotFound, apitype.Error{Error: fmt.Sprintf("unknown sensor %q; configured: %s", n, strings.Join(known, ", "))})
			return
		}
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, apitype.Error{Error: "streaming not supported by this connection"})
		return
	}
	readings, dropped, cancel := s.gw.Tap(4096)
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	enc := json.NewEncoder(w)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var reported uint64
	// pending is set while lines sit in the response buffer. They are flushed once the tap has no
	// more readings queued, whether or not the last ones passed the filter (a filtered-out reading
	// at the end of a burst must not hold back the lines before it), and at every tick.
	pending := false
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if d := dropped(); d != reported {
				if enc.Encode(apitype.TailLine{Dropped: d - reported}) != nil {
					return
				}
				reported = d
				pending = true
			}
			if pending {
				fl.Flush()
				pending = false
			}
		case rd := <-readings:
			if v := s.gw.Describe(rd); len(want) == 0 || slices.Contains(want, v.Sensor) {
				if err := enc.Encode(apitype.TailLine{Value: apitype.Value{Sensor: v.Sensor, Name: v.Name, Unit: v.Unit,
					Value: v.Value, Time: v.Time.UTC()}}); err != nil {
					return
				}
				pending = true
			}
			if pending && len(readings) == 0 {
				fl.Flush()
				pending = false
			}
		}
	}
}

func (s *Server) serveSelfTest(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	res := apitype.SelfTest{OK: true}
	add := func(name string, err error, okDetail string) {
		c := apitype.Check{Name: name, OK: err == nil, Detail: okDetail}
		if err != nil {
			c.Detail = err.Error()
			res.OK = false
		}
		res.Checks = append(res.Checks, c)
	}
	for _, sc := range s.cfg.Sensors {
		name := fmt.Sprintf("sensor %s (%s on %s)", sc.Name, sc.Driver, sc.Bus)
		vals, err := s.readNow(r.Context(), sc.Name)
		switch {
		case errors.Is(err, sensor.ErrNoData):
			add(name, nil, "answered: no new data right now (not a fault)")
		case err != nil:
			add(name, err, "")
		default:
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = fmt.Sprintf("%s=%s %s", v.Name, strconv.FormatFloat(math.Round(v.Value*1e6)/1e6, 'f', -1, 64), v.Unit)
			}
			add(name, nil, strings.Join(parts, ", "))
		}
	}
	l := s.gw.Stats().Link
	if l.Connected {
		add("cloud broker connected", nil, l.Broker)
	} else {
		add("cloud broker connected", fmt.Errorf("not connected (trying %s; %d connections so far): check the network, the broker address and TLS certificates",
			strings.Join(s.cfg.Cloud.Brokers, ", "), l.Connects), "")
	}
	add("state directory writable", writeProbe(s.cfg.Spool.Dir), s.cfg.Spool.Dir)
	if c := clockFrom(s.gw.Stats()); c.Trusted {
		add("clock trusted", nil, fmt.Sprintf("%s (policy %s)", c.Now.Format(time.RFC3339), c.Trust))
	} else {
		add("clock trusted", errors.New(clockUntrusted(c.Trust)), "")
	}
	res.TookMs = float64(time.Since(start)) / float64(time.Millisecond)
	writeJSON(w, http.StatusOK, res)
}

// writeProbe creates, syncs and removes a small file in dir.
func writeProbe(dir string) error {
	f, err := os.CreateTemp(dir, ".selftest-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString("wayside selftest\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (s *Server) serveScanI2C(w http.ResponseWriter, r *http.Request) {
	board := s.cfg.Gateway.Board
	p, ok := boards.Profiles[board]
	if !ok {
		writeError(w, http.StatusInternalServerError, apitype.Error{Error: "unknown board " + board})
		return
	}
	buses := p.I2C
	if want := r.FormValue("bus"); want != "" {
		buses = nil
		var names []string
		for _, b := range p.I2C {
			names = append(names, b.Name)
			if b.Name == want {
				buses = append(buses, b)
			}
		}
		if buses == nil {
			writeError(w, http.StatusNotFound, apitype.Error{Error: fmt.Sprintf("board %s has no I2C bus %q; its I2C buses: %s", board, want, strings.Join(names, ", "))})
			return
		}
	}
	if board != "sim" {
		writeError(w, http.StatusNotImplemented, apitype.Error{Error: fmt.Sprintf("i2c scan is not supported on board %s yet (only on the sim board); meanwhile stop waysided and run i2cdetect -y on the bus's device", board)})
		return
	}
	out := apitype.ScanI2C{Board: board, Simulated: true}
	for _, b := range buses {
		res := apitype.I2CBus{Bus: b.Name, Device: b.Device, Devices: []apitype.I2CDevice{}}
		for _, sc := range s.cfg.Sensors {
			if sc.Bus != b.Name || sc.Address == 0 {
				continue
			}
			res.Devices = append(res.Devices, apitype.I2CDevice{Address: fmt.Sprintf("0x%02x", sc.Address),
				Addr: sc.Address, Likely: LikelyParts(sc.Address), Sensor: sc.Name, Driver: sc.Driver})
		}
		slices.SortFunc(res.Devices, func(a, b apitype.I2CDevice) int { return int(a.Addr) - int(b.Addr) })
		out.Buses = append(out.Buses, res)
	}
	writeJSON(w, http.StatusOK, out)
}

// LikelyParts returns the known parts that answer at a 7-bit I2C address; empty when none is known.
// They are the driver registry's: the parts of the drivers whose address table has addr.
func LikelyParts(addr uint16) []string {
	out := []string{}
	for _, d := range registry.AtAddress(addr) {
		out = append(out, d.Name)
	}
	return out
}

// ms is d in milliseconds to 0.01 ms.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }
