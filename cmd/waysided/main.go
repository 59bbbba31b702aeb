// Command waysided is the Wayside gateway daemon: it samples the configured sensors on its board and
// syncs the readings to the city cloud over MQTT. See README.md for the configuration reference.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
	"github.com/wayside-iot/wayside/gateway/localapi"
	"github.com/wayside-iot/wayside/internal/daemonlog"
)

// version is stamped by the Makefile from git (-ldflags "-X main.version=...").
var version = "dev"

const defaultConfig = "/etc/wayside/waysided.yaml"

// profileFlag adds -memprofile when the daemon is built with -tags memprofile (memprofile.go); nil
// otherwise, so release builds do not carry runtime/pprof.
var profileFlag func(fs *flag.FlagSet) (start func(*zap.Logger) (stop func()))

func main() {
	os.Exit(run(os.Args[1:]))
}

// exitConfig is the exit status for a configuration that does not load: EX_CONFIG of sysexits.h. The
// unit's RestartPreventExitStatus= names it, so systemd stops after one try instead of restarting a
// daemon that can only fail the same way; a runtime failure (status 1) is restarted.
const exitConfig = 78

func run(args []string) int {
	gcDefault()
	fs := flag.NewFlagSet("waysided", flag.ContinueOnError)
	cfgPath := fs.String("config", defaultConfig, "configuration `file`")
	check := fs.String("check-config", "", "validate the configuration `file` and exit (0 when valid)")
	checkJSON := fs.Bool("json", false, "with -check-config: print the result as JSON (wayside config check --json)")
	logFormat := fs.String("log-format", "auto", "log format: json, console, or auto (console on a terminal)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	var startProfile func(*zap.Logger) (stop func())
	if profileFlag != nil { // built with -tags memprofile
		startProfile = profileFlag(fs)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Println("waysided", version)
		return 0
	}
	if *check != "" && *checkJSON {
		return checkConfigJSON(*check, os.Stdout)
	}
	if *check != "" {
		return checkConfig(*check, os.Stdout, os.Stderr)
	}
	cfg, err := config.Load(*cfgPath, boards.Check)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		fmt.Fprintf(os.Stderr, "waysided: fix the configuration (waysided -check-config %s), then start the service again\n", *cfgPath)
		return exitConfig
	}
	// The level can be changed at run time (wayside log-level).
	log, level, err := daemonlog.New(daemonlog.Options{Level: cfg.Gateway.LogLevel, Format: *logFormat,
		LevelName: "log level", FormatName: "log format", NoSampling: true, ConsoleTimeLayout: "15:04:05.000"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "waysided:", err)
		return 1
	}
	defer log.Sync()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	if startProfile != nil {
		defer startProfile(log)()
	}
	if cfg.Cloud.DevBroker {
		stopBroker, err := startDevBroker(cfg, log)
		if err != nil {
			log.Error("dev broker", zap.Error(err))
			return 1
		}
		defer stopBroker()
	}
	d := &daemon{cfgPath: *cfgPath, version: version, log: log, level: level, sd: newNotifier(log),
		reload: make(chan string, 1)}
	go func() {
		for range hup {
			d.requestReload("SIGHUP")
		}
	}()
	if err := d.serve(ctx, cfg); err != nil {
		log.Error("stopped with errors", zap.Error(err))
		return 1
	}
	return 0
}

// checkConfig is -check-config: the errors, or "valid" and then the warnings (a valid file that this
// machine may still trouble), each with its field path. Warnings do not change the exit status.
func checkConfig(path string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(path, boards.Check)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: valid (gateway %s, board %s, %d sensors, config hash %s)\n",
		path, cfg.Gateway.IDText(), cfg.Gateway.Board, len(cfg.Sensors), cfg.Hash)
	for i, sc := range cfg.Sensors {
		if sc.Opts == nil {
			continue
		}
		text, err := config.OptionsText(sc.Opts)
		if err != nil {
			fmt.Fprintf(stderr, "%s: sensors[%d] options: %v\n", path, i, err)
			return 1
		}
		fmt.Fprintf(stdout, "  sensors[%d] %s (%s) options: %s\n", i, sc.Name, sc.Driver, text)
	}
	switch id, err := gateway.ReadIdentity(cfg.Spool.Dir); {
	case err == nil:
		fmt.Fprintf(stdout, "  gateway key: %s (kid %s, %s): register it with the city\n", id.PublicKey, id.KeyID, id.File)
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(stdout, "  gateway key: none yet in %s; the daemon makes it at its first start (then waysided -check-config or wayside status shows it)\n", cfg.Spool.Dir)
	default: // not a configuration error: often only the daemon's user may read the key
		fmt.Fprintf(stderr, "%s: warning: spool.dir: %v (run as the daemon's user, or see wayside status)\n", path, err)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %v\n", path, w)
	}
	return 0
}

// daemon runs one gateway instance at a time: a reload replaces the instance with one built from the
// new configuration, and a configuration that does not load leaves the running one alone.
type daemon struct {
	cfgPath string
	version string
	log     *zap.Logger
	level   zap.AtomicLevel
	sd      *notifier
	reload  chan string // why a reload was asked for (SIGHUP, the reload-config command)
}

// requestReload asks serve to reload the configuration file; it never blocks.
func (d *daemon) requestReload(why string) {
	select {
	case d.reload <- why:
	default: // one is pending already
	}
}

// instance is a running gateway and its local API.
type instance struct {
	cfg  *config.Config
	g    *gateway.Gateway
	api  *localapi.Server
	stop context.CancelFunc
	done chan error
}

// serve runs the gateway until ctx ends, replacing it on each reload request. It tells the service
// manager READY once the config is loaded, the sensors are open and the spool is recovered, pings its
// watchdog while the pipeline makes progress, and says RELOADING and STOPPING around the changes.
func (d *daemon) serve(ctx context.Context, cfg *config.Config) error {
	inst, err := d.start(cfg)
	if err != nil {
		d.sd.status("start failed: " + err.Error())
		return err
	}
	d.sd.ready(inst.status())
	stopWatchdog := d.sd.watchdog(func(within time.Duration) error { return inst.g.Alive(within) })
	defer func() { stopWatchdog() }()
	stopTrim := make(chan struct{})
	defer close(stopTrim)
	go d.trimCode(stopTrim)
	for {
		select {
		case <-ctx.Done():
			d.sd.stopping()
			d.log.Info("stopping: draining the pipeline")
			return inst.close()
		case err := <-inst.done:
			// The gateway ended by itself: a failure, not a request. Exit non-zero so systemd restarts us.
			if err == nil {
				err = errors.New("gateway stopped unexpectedly")
			}
			if inst.api != nil {
				_ = inst.api.Close()
			}
			return err
		case why := <-d.reload:
			next, err := config.Load(d.cfgPath, boards.Check)
			if err != nil {
				d.log.Error("reload refused: the new configuration is not valid; keeping the running one",
					zap.String("trigger", why), zap.String("config", d.cfgPath), zap.Error(err),
					zap.String("running_config", inst.cfg.Hash))
				d.sd.status("reload refused: " + firstLine(err.Error()) + "; " + inst.status())
				continue
			}
			// The same file can resolve to another gateway id: auto, after the machine id changed.
			if next.Hash == inst.cfg.Hash && next.Gateway.ID == inst.cfg.Gateway.ID {
				d.log.Info("reload: configuration unchanged", zap.String("trigger", why), zap.String("config", next.Hash))
				continue
			}
			if next.Cloud.DevBroker != inst.cfg.Cloud.DevBroker || (next.Cloud.DevBroker && next.Cloud.Brokers[0] != inst.cfg.Cloud.Brokers[0]) {
				d.log.Error("reload refused: cloud.dev_broker and its address only change with a restart",
					zap.String("trigger", why))
				continue
			}
			d.sd.reloading()
			d.log.Info("reloading configuration", zap.String("trigger", why), zap.String("from", inst.cfg.Hash),
				zap.String("to", next.Hash))
			// Draining the old pipeline and opening the new one can take longer than the watchdog
			// interval: keep pinging through the reload, but not past a bound.
			stopWatchdog()
			began := time.Now()
			stopWatchdog = d.sd.watchdog(func(time.Duration) error {
				if time.Since(began) > reloadBound {
					return fmt.Errorf("reload still running after %v", reloadBound)
				}
				return nil
			})
			if err := inst.close(); err != nil {
				d.log.Warn("stopping the old pipeline for a reload", zap.Error(err))
			}
			old := inst.cfg
			if inst, err = d.start(next); err != nil {
				d.log.Error("reload failed: the new configuration did not start; going back to the running one",
					zap.Error(err))
				if inst, err = d.start(old); err != nil {
					d.sd.status("restart with the previous configuration failed: " + err.Error())
					return fmt.Errorf("reload: restart with the previous configuration: %w", err)
				}
			}
			stopWatchdog()
			stopWatchdog = d.sd.watchdog(func(within time.Duration) error { return inst.g.Alive(within) })
			d.sd.ready(inst.status())
		}
	}
}

// reloadBound is how long a reload may take before the watchdog stops being pinged.
const reloadBound = 2 * time.Minute

// start builds and runs a gateway and its local API from cfg.
func (d *daemon) start(cfg *config.Config) (*instance, error) {
	if lvl, err := zapcore.ParseLevel(cfg.Gateway.LogLevel); err == nil {
		d.level.SetLevel(lvl)
	}
	for _, w := range cfg.Warnings { // what -check-config warns about, in the journal too
		d.log.Warn("configuration warning: "+w.Error(), zap.String("config", d.cfgPath))
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Version: d.version, Log: d.log,
		OnReloadRequest: d.requestReload, Level: &d.level})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	inst := &instance{cfg: cfg, g: g, stop: cancel, done: make(chan error, 1)}
	if cfg.Local.Socket != "off" {
		api, err := localapi.New(localapi.Options{Gateway: g, Config: cfg, Version: d.version, Level: d.level,
			Log: d.log})
		if err == nil {
			err = api.Listen(cfg.Local.Socket)
		}
		if err != nil {
			cancel()
			_ = g.Close()
			return nil, fmt.Errorf("local api: %w", err)
		}
		inst.api = api
	}
	go func() { inst.done <- g.Run(ctx) }()
	return inst, nil
}

// close stops the local API first (so no technician request reaches a halted sensor), then drains and
// stops the gateway.
func (inst *instance) close() error {
	var errAPI error
	if inst.api != nil {
		errAPI = inst.api.Close()
	}
	inst.stop()
	err := <-inst.done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return errors.Join(err, errAPI)
}

// status is the one-line state shown by systemctl status.
func (inst *instance) status() string {
	return fmt.Sprintf("gateway %s on %s, %d sensors, config %s", inst.cfg.Gateway.ID, inst.cfg.Gateway.Board,
		len(inst.cfg.Sensors), inst.cfg.Hash)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
