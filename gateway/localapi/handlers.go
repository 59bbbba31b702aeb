package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/boards"
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
	apitype.EndpointStatus:     {get: (*Server).serveStatus},
	apitype.EndpointSensors:    {get: (*Server).serveSensors},
	apitype.EndpointCloud:      {get: (*Server).serveCloud},
	apitype.EndpointSpool:      {get: (*Server).serveSpool},
	apitype.EndpointTail:       {get: (*Server).serveTail},
	apitype.EndpointVersion:    {get: (*Server).serveVersion},
	apitype.EndpointLogLevel:   {get: (*Server).serveLogLevel, post: (*Server).serveSetLogLevel},
	apitype.EndpointRead:       {post: (*Server).serveRead},
	apitype.EndpointSelfTest:   {post: (*Server).serveSelfTest},
	apitype.EndpointScanI2C:    {post: (*Server).serveScanI2C},
	apitype.EndpointScanModbus: {post: (*Server).serveScanModbus},
}

// readTimeout bounds one sensor read in read and selftest: a hung bus must not hang the technician.
const readTimeout = 5 * time.Second

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
		writeError(w, http.StatusBadRequest, apitype.Error{Error: "missing parameter level; use " + gateway.LogLevelChoices})
		return
	}
	prev, lvl, err := gateway.SetLogLevel(s.opts.Level, want)
	if err != nil {
		writeError(w, http.StatusBadRequest, apitype.Error{Error: err.Error()})
		return
	}
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
		writeError(w, http.StatusBadGateway, apitype.Error{Error: err.Error(), Kind: sensor.KindName(err)})
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
	_, err = f.WriteString("wayside selftest\n")
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
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
