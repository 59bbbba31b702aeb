// Package daemonlog owns how the daemons (waysided, wayside-ingest) build their zap logger from a
// level and a format setting: json, console, or auto (console when stderr is a terminal), written to
// stderr at a level that can be changed at run time.
package daemonlog

import (
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options says how a daemon's logger is built. The zero value of each field but the names keeps
// zap's own choice.
type Options struct {
	// Level is debug, info, warn or error; Format is json, console or auto.
	Level, Format string
	// LevelName and FormatName are how the daemon names the two settings in errors ("-log-level",
	// "log level"), so a bad value points at where it was given.
	LevelName, FormatName string
	// NoSampling turns off zap's production sampling of repeated json messages.
	NoSampling bool
	// ConsoleTimeLayout is the time layout of console lines; "" keeps zap's ISO 8601.
	ConsoleTimeLayout string
}

// New builds the logger o describes; the returned level changes it at run time.
func New(o Options) (*zap.Logger, zap.AtomicLevel, error) {
	lvl, err := zapcore.ParseLevel(o.Level)
	if err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("%s: %w", o.LevelName, err)
	}
	format := o.Format
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
		if o.NoSampling {
			zc.Sampling = nil
		}
	case "console":
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
		if o.ConsoleTimeLayout != "" {
			zc.EncoderConfig.EncodeTime = zapcore.TimeEncoderOfLayout(o.ConsoleTimeLayout)
		}
	default:
		return nil, zap.AtomicLevel{}, fmt.Errorf("%s %q: use json, console or auto", o.FormatName, o.Format)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths, zc.ErrorOutputPaths = []string{"stderr"}, []string{"stderr"}
	log, err := zc.Build()
	return log, zc.Level, err
}
