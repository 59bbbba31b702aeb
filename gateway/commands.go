package gateway

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/cloudsync/profile"
)

// openCommands prepares the signed commands from the cloud (cloud.commands): the replay cache in the
// state directory, the verifier with the city's keys, and the seven handlers. Without keys commands are
// off and the link does not subscribe to them.
func (g *Gateway) openCommands() (func(profile.Command, []byte) ([]byte, int), error) {
	cc := g.cfg.Cloud.Commands
	keys, err := cc.PublicKeys()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		g.log.Info("cloud commands off: no keys in cloud.commands.keys")
		return nil, nil
	}
	maxAge, maxSkew := cc.MaxAge.D(), cc.MaxSkew.D()
	g.replay, err = command.OpenReplayCache(filepath.Join(g.cfg.Spool.Dir, command.DefaultReplayFile),
		command.ReplayOptions{MaxAge: maxAge, MaxSkew: maxSkew, Log: g.log, ClockTrusted: g.clock.trusted.Load})
	if err != nil {
		return nil, err
	}
	v, err := command.NewVerifier(command.VerifierOptions{Gateway: g.cfg.Gateway.ID, Keys: keys, Replay: g.replay,
		MaxAge: maxAge, MaxSkew: maxSkew, ClockTrusted: g.clock.trusted.Load})
	if err != nil {
		return nil, err
	}
	d, err := command.New(command.Options{Verifier: v, Log: g.log})
	if err != nil {
		return nil, err
	}
	reg := map[string]command.Handler{
		command.CmdPing:      command.Ping(time.Now, g.clock.trusted.Load),
		command.CmdGetStatus: command.Typed(func(context.Context, command.NoArgs) (any, error) { return g.link.StatusNow(), nil }),
		command.CmdSnapshot:  command.Typed(g.cmdSnapshot),
		command.CmdSetInterval: command.Typed(func(_ context.Context, a command.SetIntervalArgs) (any, error) {
			prev, err := g.SetInterval(a.Sensor, time.Duration(a.Interval))
			if errors.Is(err, ErrUnknownSensor) {
				return nil, command.Errorf(command.CodeBadRequest, "args.sensor: %v", err)
			}
			if err != nil {
				return nil, err
			}
			return map[string]string{"sensor": a.Sensor, "interval": time.Duration(a.Interval).String(), "previous": prev.String()}, nil
		}),
		command.CmdSetLogLevel: command.Typed(func(_ context.Context, a command.SetLogLevelArgs) (any, error) {
			if g.opts.Level == nil {
				return nil, command.Errorf(command.CodeFailed, "this gateway's log level cannot be changed at run time")
			}
			prev, lvl, err := SetLogLevel(*g.opts.Level, a.Level)
			if err != nil {
				return nil, command.Errorf(command.CodeBadRequest, "args.level: %v", err)
			}
			g.log.Info("log level changed by a cloud command", zap.Stringer("from", prev), zap.Stringer("to", lvl))
			return map[string]string{"level": lvl.String(), "previous": prev.String()}, nil
		}),
		command.CmdReloadConfig: command.Typed(func(context.Context, command.NoArgs) (any, error) {
			if g.opts.OnReloadRequest == nil {
				return nil, command.Errorf(command.CodeFailed, "this gateway cannot reload its configuration")
			}
			g.opts.OnReloadRequest("cloud command")
			return map[string]bool{"reloading": true}, nil
		}),
		command.CmdFlushSpool: command.Typed(func(context.Context, command.NoArgs) (any, error) {
			n, err := g.Flush()
			if err != nil {
				return nil, err
			}
			return map[string]int{"backlog": n}, nil
		}),
	}
	for name, h := range reg {
		if err := d.Register(name, h); err != nil {
			return nil, err
		}
	}
	return func(c profile.Command, payload []byte) ([]byte, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return d.Reply(ctx, c.Name, payload)
	}, nil
}

// snapshotResult is the snapshot command's answer.
type snapshotResult struct {
	Readings []snapshotReading `json:"readings"`
	Errors   map[string]string `json:"errors,omitempty"`
}

type snapshotReading struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
	Time  int64   `json:"time"` // unix ms
}

// cmdSnapshot reads every sensor now; the values are answered, not published as telemetry.
func (g *Gateway) cmdSnapshot(ctx context.Context, _ command.NoArgs) (any, error) {
	res := snapshotResult{Readings: []snapshotReading{}}
	for _, s := range g.sensors {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("snapshot: %w", ctx.Err())
		}
		vals, err := g.ReadNow(s.name)
		if err != nil {
			if res.Errors == nil {
				res.Errors = map[string]string{}
			}
			res.Errors[s.name] = err.Error()
			continue
		}
		for _, v := range vals {
			res.Readings = append(res.Readings, snapshotReading{Name: g.cfg.Gateway.ID + "/" + v.Sensor + "/" + v.Name,
				Unit: v.Unit, Value: v.Value, Time: v.Time.UnixMilli()})
		}
	}
	sort.Slice(res.Readings, func(i, j int) bool { return res.Readings[i].Name < res.Readings[j].Name })
	return res, nil
}
