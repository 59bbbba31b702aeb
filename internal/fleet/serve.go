package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ServeMember runs this process as a member process of a fleet (IsMember): it answers the parent's
// messages on stdin with its own on stdout and returns the exit code. Its logs go to stderr.
func ServeMember() int {
	// A Ctrl-C reaches the terminal's whole process group; the parent stops its members itself.
	signal.Ignore(syscall.SIGINT)
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(zapcore.ErrorLevel)
	zc.Sampling = nil
	zc.DisableStacktrace = true
	log, err := zc.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log = log.Named("fleet-member").With(zap.String("member", os.Getenv(memberEnv)), zap.Int("pid", os.Getpid()))
	defer log.Sync()
	if err := serve(os.Stdin, os.Stdout, log); err != nil {
		log.Error("member process failed", zap.Error(err))
		return 1
	}
	return 0
}

// serve answers the parent's messages from in on out until stop (or in ends: the parent is gone).
func serve(in io.Reader, out io.Writer, log *zap.Logger) error {
	dec := json.NewDecoder(in)
	var wmu sync.Mutex
	enc := json.NewEncoder(out)
	send := func(m message) {
		wmu.Lock()
		defer wmu.Unlock()
		if err := enc.Encode(m); err != nil {
			log.Warn("answer not sent", zap.String("op", m.Op), zap.Error(err))
		}
	}
	fail := func(err error) error {
		send(message{Op: "error", Error: err.Error()})
		return err
	}
	var p *localPart
	defer func() {
		if p != nil {
			p.kill()
		}
	}()
	for {
		var req message
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("the parent closed stdin before stop")
			}
			return fmt.Errorf("read the parent's message: %w", err)
		}
		switch {
		case req.Op == "open" && req.Spec != nil && p == nil:
			sp := *req.Spec
			before := selfRSS()
			if _, err := raiseFileLimit(); err != nil {
				log.Warn("open-file limit not raised", zap.Error(err))
			}
			o := Options{ReconnectMin: sp.ReconnectMin, ReconnectSpread: sp.ReconnectSpread, ReconnectMax: sp.ReconnectMax,
				Poll: sp.Poll, RingCapacity: sp.RingCapacity, OpenParallel: max(sp.OpenParallel, 1), GatewayLog: log}
			t0 := time.Now()
			var err error
			if p, err = openLocal(o, sp.First, sp.Count, sp.URL, sp.Dir, sp.Sensors, sp.CityKey); err != nil {
				return fail(err)
			}
			send(message{Op: "opened", Opened: &opened{PID: os.Getpid(), Keys: p.keys(), Channels: p.channels(),
				RSSBefore: before, Took: time.Since(t0)}})
		case req.Op == "run" && p != nil && !p.ran:
			p.onSample = func(s sample) { send(message{Op: "sample", Sample: &s}) }
			if err := p.run(); err != nil {
				return fail(err)
			}
			send(message{Op: "running"})
		case req.Op == "usage" && p != nil:
			u, _ := p.usage()
			send(message{Op: "usage", Usage: &u})
		case req.Op == "stop" && p != nil && p.ran:
			r, err := p.stop()
			if err != nil {
				return fail(err)
			}
			r.Usage = selfUsage()
			send(message{Op: "stopped", Stopped: &r})
			p = nil // stopped: Run has closed every gateway
			return nil
		default:
			return fail(fmt.Errorf("unexpected message %q here", req.Op))
		}
	}
}
