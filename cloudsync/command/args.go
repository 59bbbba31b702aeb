package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/internal/ident"
)

// The built-in commands. Their handlers belong to the gateway; their arguments are defined here.
const (
	CmdPing         = "ping"          // NoArgs → PingResult
	CmdGetStatus    = "get-status"    // NoArgs → the gateway's status
	CmdSnapshot     = "snapshot"      // NoArgs → a reading of every sensor, taken now
	CmdSetInterval  = "set-interval"  // SetIntervalArgs: one sensor's sampling interval
	CmdSetLogLevel  = "set-log-level" // SetLogLevelArgs
	CmdReloadConfig = "reload-config" // NoArgs: re-read the configuration file
	CmdFlushSpool   = "flush-spool"   // NoArgs: send the spooled backlog now
)

// Builtin lists the built-in command names.
var Builtin = []string{CmdPing, CmdGetStatus, CmdSnapshot, CmdSetInterval, CmdSetLogLevel, CmdReloadConfig, CmdFlushSpool}

// NoArgs are the arguments of a command that takes none: "args" absent or {}.
type NoArgs struct{}

// Bounds of SetIntervalArgs.Interval.
const (
	MinInterval = 100 * time.Millisecond
	MaxInterval = 24 * time.Hour
)

// SetIntervalArgs are set-interval's arguments: {"sensor": "env1", "interval": "5s"}.
type SetIntervalArgs struct {
	Sensor   string   `json:"sensor"`   // a configured sensor's name
	Interval Duration `json:"interval"` // Go duration text, MinInterval..MaxInterval
}

// Validate checks the fields' syntax and bounds; whether the sensor exists is the handler's check.
func (a *SetIntervalArgs) Validate() error {
	switch d := time.Duration(a.Interval); {
	case a.Sensor == "":
		return Errorf(CodeBadRequest, "args.sensor: missing; name the sensor to change")
	case !ident.Valid(a.Sensor):
		return Errorf(CodeBadRequest, "args.sensor: %q is not a sensor name", clip(a.Sensor))
	case d == 0:
		return Errorf(CodeBadRequest, `args.interval: missing; give a duration such as "5s"`)
	case d < MinInterval || d > MaxInterval:
		return Errorf(CodeBadRequest, "args.interval: %s is out of range; use %s to %s", d, MinInterval, MaxInterval)
	}
	return nil
}

// LogLevels are set-log-level's accepted levels.
var LogLevels = []string{"debug", "info", "warn", "error"}

// SetLogLevelArgs are set-log-level's arguments: {"level": "debug"}.
type SetLogLevelArgs struct {
	Level string `json:"level"`
}

// Validate checks that Level is one of LogLevels.
func (a *SetLogLevelArgs) Validate() error {
	if !slices.Contains(LogLevels, a.Level) {
		return Errorf(CodeBadRequest, "args.level: %q is not a level; use %s", clip(a.Level), strings.Join(LogLevels, ", "))
	}
	return nil
}

// Duration is a time.Duration written in JSON as Go duration text ("5s", "250ms", "1m30s").
type Duration time.Duration

// UnmarshalJSON reads duration text.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "5s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf(`%q is not a duration; use a number and a unit, e.g. "5s", "250ms", "1m"`, clip(s))
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes duration text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// PingResult is ping's result.
type PingResult struct {
	Pong         bool  `json:"pong"`
	Time         int64 `json:"time"` // the gateway's clock, unix milliseconds
	ClockTrusted bool  `json:"clock_trusted"`
}

// Ping returns the ping handler; clockTrusted nil means trusted.
func Ping(now func() time.Time, clockTrusted func() bool) Handler {
	return Typed(func(context.Context, NoArgs) (any, error) {
		return PingResult{Pong: true, Time: now().UnixMilli(), ClockTrusted: clockTrusted == nil || clockTrusted()}, nil
	})
}

// Validator is implemented by argument structs that check themselves once decoded.
type Validator interface{ Validate() error }

// DecodeArgs decodes raw (an args object, or empty for none) into dst, a pointer to a struct, and
// validates it. It is strict: member names must match the json tags exactly (encoding/json alone
// matches case-insensitively), unknown members are refused, each field is decoded on its own so
// errors name it ("args.interval: ..."), and nested objects refuse unknown fields. Errors are
// CodeBadRequest.
func DecodeArgs(raw json.RawMessage, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("command: DecodeArgs: want a pointer to a struct, got %T", dst)
	}
	st := rv.Elem()
	fields, names := argFields(st.Type())
	var members map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &members); err != nil || members == nil {
			return Errorf(CodeBadRequest, "args: want a JSON object")
		}
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		i, ok := fields[k]
		if !ok {
			if len(names) == 0 {
				return Errorf(CodeBadRequest, "args.%s: unknown field; this command takes no arguments", clip(k))
			}
			return Errorf(CodeBadRequest, "args.%s: unknown field; valid: %s", clip(k), strings.Join(names, ", "))
		}
		dec := json.NewDecoder(bytes.NewReader(members[k]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(st.Field(i).Addr().Interface()); err != nil {
			var ute *json.UnmarshalTypeError
			if errors.As(err, &ute) {
				return Errorf(CodeBadRequest, "args.%s: want %s, got %s", k, jsonKind(ute.Type), ute.Value)
			}
			return Errorf(CodeBadRequest, "args.%s: %v", k, err)
		}
	}
	if v, ok := dst.(Validator); ok {
		if err := v.Validate(); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return err
			}
			return Errorf(CodeBadRequest, "args: %v", err)
		}
	}
	return nil
}

// argFields maps the JSON names of t's exported fields to their indexes.
func argFields(t reflect.Type) (map[string]int, []string) {
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = i
		names = append(names, name)
	}
	return fields, names
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// Typed adapts a handler taking decoded arguments: the args are decoded by DecodeArgs (and
// validated when *T is a Validator) before fn runs; a decoding error answers CodeBadRequest.
func Typed[T any](fn func(ctx context.Context, args T) (any, error)) Handler {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a T
		if err := DecodeArgs(raw, &a); err != nil {
			return nil, err
		}
		return fn(ctx, a)
	}
}

// NewArgs returns a pointer to a new argument struct of the built-in command name.
func NewArgs(name string) (any, bool) {
	switch name {
	case CmdSetInterval:
		return new(SetIntervalArgs), true
	case CmdSetLogLevel:
		return new(SetLogLevelArgs), true
	case CmdPing, CmdGetStatus, CmdSnapshot, CmdReloadConfig, CmdFlushSpool:
		return new(NoArgs), true
	}
	return nil, false
}

// CheckArgs validates raw as the arguments of the built-in command name, as the gateway will.
func CheckArgs(name string, raw json.RawMessage) error {
	a, ok := NewArgs(name)
	if !ok {
		return Errorf(CodeUnknownCommand, "%q is not a built-in command; they are %s", clip(name), strings.Join(Builtin, ", "))
	}
	return DecodeArgs(raw, a)
}
