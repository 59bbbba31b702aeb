package gateway

import (
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wayside-iot/wayside/cloudsync/command"
)

// LogLevelChoices names the levels SetLogLevel accepts, command.LogLevels, for messages: "debug,
// info, warn or error".
var LogLevelChoices = strings.Join(command.LogLevels[:len(command.LogLevels)-1], ", ") + " or " +
	command.LogLevels[len(command.LogLevels)-1]

// SetLogLevel sets level to the level called name, one of command.LogLevels in any spelling zap
// parses ("DEBUG", "warning"), and returns the level before and the level set. The change lasts
// until the next restart; the caller logs it, saying who asked. The local API's log-level and the
// set-log-level command both change the level through it.
func SetLogLevel(level zap.AtomicLevel, name string) (prev, set zapcore.Level, err error) {
	lvl, err := zapcore.ParseLevel(name)
	if err != nil || name == "" || !slices.Contains(command.LogLevels, lvl.String()) {
		return 0, 0, fmt.Errorf("log level %q is not valid; use %s", name, LogLevelChoices)
	}
	prev = level.Level()
	level.SetLevel(lvl)
	return prev, lvl, nil
}
