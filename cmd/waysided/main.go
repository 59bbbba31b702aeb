// Command waysided is the Wayside gateway daemon: it samples the configured sensors on its board and
// syncs the readings to the city cloud over MQTT. See README.md for the configuration reference.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
	"github.com/wayside-iot/wayside/gateway/localapi"
)

// version is stamped by the Makefile from git (-ldflags "-X main.version=...").
var version = "dev"

const defaultConfig = "/etc/wayside/waysided.yaml"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("waysided", flag.ContinueOnError)
	cfgPath := fs.String("config", defaultConfig, "configuration `file`")
	check := fs.String("check-config", "", "validate the configuration `file` and exit (0 when valid)")
	logFormat := fs.String("log-format", "auto", "log format: json, console, or auto (console on a terminal)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Println("waysided", version)
		return 0
	}
	if *check != "" {
		cfg, err := config.Load(*check, boards.Check)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%s: valid (gateway %s, board %s, %d sensors, config hash %s)\n",
			*check, cfg.Gateway.ID, cfg.Gateway.Board, len(cfg.Sensors), cfg.Hash)
		return 0
	}
	cfg, err := config.Load(*cfgPath, boards.Check)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log, level, err := newLogger(cfg.Gateway.LogLevel, *logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "waysided:", err)
		return 1
	}
	defer log.Sync()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.Cloud.DevBroker {
		stopBroker, err := startDevBroker(cfg, log)
		if err != nil {
			log.Error("dev broker", zap.Error(err))
			return 1
		}
		defer stopBroker()
	}
	batches := new(localapi.Batches)
	g, err := gateway.New(gateway.Options{Config: cfg, Version: version, Log: log, OnBatch: batches.Note})
	if err != nil {
		log.Error("start failed", zap.Error(err))
		return 1
	}
	// The local API stops before the gateway does, so no technician request reaches a halted sensor.
	gctx, stopGateway := context.WithCancel(context.Background())
	defer stopGateway()
	if cfg.Local.Socket != "off" {
		api, err := localapi.New(localapi.Options{Gateway: g, Config: cfg, Version: version, Level: level,
			Batches: batches, Log: log})
		if err == nil {
			err = api.Listen(cfg.Local.Socket)
		}
		if err != nil {
			log.Error("local api", zap.Error(err))
			return 1
		}
		go func() {
			<-ctx.Done()
			if err := api.Close(); err != nil {
				log.Warn("local api close", zap.Error(err))
			}
			stopGateway()
		}()
	} else {
		go func() {
			<-ctx.Done()
			stopGateway()
		}()
	}
	if err := g.Run(gctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped with errors", zap.Error(err))
		return 1
	}
	return 0
}

// newLogger builds the daemon's logger; its level can be changed at run time (wayside log-level).
func newLogger(level, format string) (*zap.Logger, zap.AtomicLevel, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("log level: %w", err)
	}
	if format == "auto" {
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "console"
		}
	}
	var zc zap.Config
	switch format {
	case "json":
		zc = zap.NewProductionConfig()
		zc.Sampling = nil
	case "console":
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
		zc.EncoderConfig.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	default:
		return nil, zap.AtomicLevel{}, fmt.Errorf("log format %q: use json, console or auto", format)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	zc.ErrorOutputPaths = []string{"stderr"}
	log, err := zc.Build()
	return log, zc.Level, err
}
