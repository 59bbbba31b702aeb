package daemonlog

import (
	"testing"

	"go.uber.org/zap/zapcore"
)

func TestNew(t *testing.T) {
	log, level, err := New(Options{Level: "warn", Format: "json", LevelName: "log level", FormatName: "log format"})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Sync()
	if level.Level() != zapcore.WarnLevel {
		t.Errorf("level %v, want warn", level.Level())
	}
	level.SetLevel(zapcore.DebugLevel)
	if !log.Core().Enabled(zapcore.DebugLevel) {
		t.Error("SetLevel on the returned level did not reach the logger")
	}
}

func TestNewErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Level: "loud", Format: "json", LevelName: "-log-level"}, `-log-level: unrecognized level: "loud"`},
		{Options{Level: "info", Format: "xml", FormatName: "log format"}, `log format "xml": use json, console or auto`},
	} {
		if _, _, err := New(tc.o); err == nil || err.Error() != tc.want {
			t.Errorf("New(%+v) = %v, want %s", tc.o, err, tc.want)
		}
	}
}
