// Package config owns waysided's configuration file: its schema, strict YAML decoding (an unknown key is
// an error naming its path and the valid keys), defaults, and validation whose messages name the field
// path and what would be valid. Each section's types and validation live in its own file (gateway.go,
// sensors.go with options.go, cloud.go with seal.go, spool.go); config.go holds the file as a whole and
// the small batch, buffer, clock and local_api sections.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/drivers/registry"
)

// Config is the whole file.
type Config struct {
	Gateway Gateway  `yaml:"gateway"`
	Sim     Sim      `yaml:"sim"`
	Sensors []Sensor `yaml:"sensors"`
	Cloud   Cloud    `yaml:"cloud"`
	Batch   Batch    `yaml:"batch"`
	Buffer  Buffer   `yaml:"buffer"`
	Spool   Spool    `yaml:"spool"`
	Local   LocalAPI `yaml:"local_api"`
	Clock   Clock    `yaml:"clock"`

	// Hash is the SHA-256 of the file's bytes (hex, first 16 characters), reported in status so the
	// cloud can tell which configuration a gateway runs.
	Hash string `yaml:"-"`
	// Warnings are what a valid file may still get wrong on this machine (a spool quota larger than
	// its filesystem): -check-config prints them, and they never stop the daemon.
	Warnings Errors `yaml:"-"`
}

// Batch configures how readings are grouped into SenML packs.
type Batch struct {
	MaxReadings int      `yaml:"max_readings"`
	MaxAge      Duration `yaml:"max_age"`
}

// Buffer configures the in-memory ring.
type Buffer struct {
	// Capacity is the ring's size in readings, a power of two.
	Capacity int `yaml:"capacity"`
	// Auto is set when the file leaves capacity out: the gateway then sizes the ring from the
	// sensors' rates and the batch settings, at most Capacity (16384).
	Auto bool `yaml:"-"`
}

// Clock says when the wall clock is trusted.
type Clock struct {
	// Trust is "ntp" (trusted once the kernel reports the clock synchronised; the default on real
	// boards) or "always" (a board with a battery-backed RTC; the default on the sim board).
	Trust string `yaml:"trust"`
	// Hold is how long batches stamped before the clock was trusted wait for a trusted time (so
	// they can be corrected) before they are sent as they are, flagged untrusted.
	Hold Duration `yaml:"hold"`
}

// LocalAPI configures the technician API on a unix socket.
type LocalAPI struct {
	// Socket is the unix socket path; default /run/wayside/local.sock. Empty string after
	// defaults never happens; set "off" to disable the API.
	Socket string `yaml:"socket"`
	// Group, when set, owns the socket (mode 0660) so its members may use the CLI without root.
	Group string `yaml:"group"`
}

// Duration is a time.Duration written as "1s", "250ms", "5m" in YAML.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration like 500ms, 10s or 5m, got %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string form.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Error is a configuration error: the field path and what is wrong with it.
type Error struct {
	Path string // e.g. "sensors[2].interval"
	Line int    // 1-based line in the file, 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Errors is every problem found in one file.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Load reads, decodes, defaults and validates the file at path. knownBus, when not nil, is asked whether
// a sensor's bus or pin exists on the configured board; it returns the valid names when it does not.
func Load(path string, knownBus BusChecker) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data, knownBus)
	if err != nil {
		return nil, fmt.Errorf("config %s:\n%w", path, err)
	}
	return c, nil
}

// BusChecker tells whether board has a bus (kind "i2c", "uart", "gpio") or GPIO line called name; when it
// does not, it returns the names that would be valid. ok is false also for an unknown board, and then
// valid lists the known boards.
type BusChecker func(board, kind, name string) (ok bool, valid []string)

// Parse is Load for bytes already read.
func Parse(data []byte, knownBus BusChecker) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{{Path: "(file)", Msg: "not valid YAML: " + err.Error()}}
	}
	if len(root.Content) == 0 {
		return nil, Errors{{Path: "(file)", Msg: "empty; see configs/example.yaml for a starting point"}}
	}
	var errs Errors
	checkKeys(root.Content[0], typeOf(Config{}), "", &errs)
	set := map[string]bool{}
	setKeys(root.Content[0], "", set)
	if len(errs) > 0 {
		// Report the rest in the same run when the file still decodes leniently: one edit-check
		// cycle per problem is a poor way to spend time at a roadside cabinet.
		var c Config
		if yaml.Unmarshal(data, &c) == nil {
			errs = append(errs, c.resolveAutoID()...)
			c.applyDefaults(set)
			bad := map[string]bool{}
			for _, e := range errs {
				bad[e.Path] = true
			}
			for _, e := range c.validate(knownBus) {
				if !bad[e.Path] {
					errs = append(errs, e)
				}
			}
		}
		return nil, errs
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, decodeErrors(err)
	}
	sum := sha256.Sum256(data)
	c.Hash = hex.EncodeToString(sum[:8])
	idErrs := c.resolveAutoID()
	c.applyDefaults(set)
	if errs := append(idErrs, c.validate(knownBus)...); len(errs) > 0 {
		return nil, errs
	}
	c.Warnings = c.warnings()
	if !c.Generic() { // the platform gives the client id, and the brokers when none are configured
		if p, err := profile.Build(c.ProfileInput(time.Time{})); err == nil {
			c.Cloud.ClientID = p.ClientID
			if len(c.Cloud.Brokers) == 0 {
				c.Cloud.Brokers = p.Brokers
			}
		}
	}
	return &c, nil
}

// decodeErrors turns yaml.v3's type errors ("line 7: cannot unmarshal !!str `fast` into uint16") into
// our shape; the key walk has already caught unknown keys, so these are bad values.
func decodeErrors(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Errors{{Path: "(file)", Msg: err.Error()}}
	}
	var errs Errors
	re := regexp.MustCompile(`^line (\d+): (.*)$`)
	for _, m := range te.Errors {
		e := &Error{Path: "(value)", Msg: m}
		if sm := re.FindStringSubmatch(m); sm != nil {
			fmt.Sscanf(sm[1], "%d", &e.Line)
			e.Path = fmt.Sprintf("(value at line %s)", sm[1])
			e.Msg = sm[2]
		}
		errs = append(errs, e)
	}
	return errs
}

// applyDefaults fills in what the file leaves out; set holds the paths of the keys it gives (setKeys).
// A number or duration the file sets, 0 included, is kept for validate to judge: "capacity: 0" is
// refused with the valid range rather than silently meaning 16384. Strings still take their default
// when empty.
func (c *Config) applyDefaults(set map[string]bool) {
	unset := func(path string) bool { return !set[path] }
	if c.Gateway.LogLevel == "" {
		c.Gateway.LogLevel = "info"
	}
	if c.Cloud.ClientID == "" && c.Generic() {
		c.Cloud.ClientID = "wayside-" + c.Gateway.ID
	}
	if c.Cloud.TopicPrefix == "" {
		c.Cloud.TopicPrefix = "wayside/v1"
	}
	if unset("cloud.keepalive") {
		c.Cloud.KeepAlive = Duration(30 * time.Second)
	}
	if unset("cloud.reconnect.min") {
		c.Cloud.Reconnect.Min = Duration(time.Second)
	}
	if unset("cloud.reconnect.max") {
		c.Cloud.Reconnect.Max = Duration(2 * time.Minute)
	}
	if unset("cloud.reconnect.spread") { // within [min, max] whatever those are set to
		c.Cloud.Reconnect.Spread = Duration(min(max(40*time.Second, c.Cloud.Reconnect.Min.D()), c.Cloud.Reconnect.Max.D()))
	}
	if unset("cloud.commands.max_age") {
		c.Cloud.Commands.MaxAge = Duration(command.DefaultMaxAge)
	}
	if unset("cloud.commands.max_skew") {
		c.Cloud.Commands.MaxSkew = Duration(command.DefaultMaxSkew)
	}
	if unset("cloud.status_interval") {
		c.Cloud.StatusInterval = Duration(time.Minute)
	}
	if unset("cloud.max_inflight") {
		c.Cloud.MaxInflight = 64
	}
	if unset("batch.max_readings") {
		c.Batch.MaxReadings = 100
	}
	if unset("batch.max_age") {
		c.Batch.MaxAge = Duration(time.Second)
	}
	if unset("buffer.capacity") {
		c.Buffer.Capacity = 16384
		c.Buffer.Auto = true
	}
	if c.Spool.Dir == "" {
		c.Spool.Dir = "/var/lib/wayside"
	}
	if unset("spool.segment_size") {
		c.Spool.SegmentBytes = 4 << 20
	}
	if unset("spool.quota") {
		c.Spool.QuotaBytes = 256 << 20
	}
	if unset("spool.sync_every") {
		c.Spool.SyncEvery = 32
	}
	if unset("spool.sync_interval") {
		c.Spool.SyncInterval = Duration(5 * time.Second)
	}
	if unset("spool.replay_rate") {
		c.Spool.ReplayRate = 20
	}
	if c.Clock.Trust == "" {
		c.Clock.Trust = "ntp"
		if c.Gateway.Board == "sim" {
			c.Clock.Trust = "always"
		}
	}
	if unset("clock.hold") { // 0s is valid: batches stamped before trust are sent at once, flagged
		c.Clock.Hold = Duration(10 * time.Minute)
	}
	if c.Local.Socket == "" {
		c.Local.Socket = "/run/wayside/local.sock"
	}
	if c.Sim.Seed == 0 { // seeds 0 and 1 are the same simulation
		c.Sim.Seed = 1
	}
	for i := range c.Sensors {
		s := &c.Sensors[i]
		if d, ok := registry.Lookup(s.Driver); ok && unset(fmt.Sprintf("sensors[%d].address", i)) && d.Bus == registry.I2C {
			s.Address = d.Addr
		}
	}
}

// problems collects validation errors in the order they are found.
type problems struct{ errs Errors }

func (v *problems) add(path, format string, a ...any) {
	v.errs = append(v.errs, &Error{Path: path, Msg: fmt.Sprintf(format, a...)})
}

// validate checks every section, each in its own function and always in this order (the order of
// the messages), then what the machine says about the file (checkMachine).
func (c *Config) validate(knownBus BusChecker) Errors {
	v := &problems{}
	c.validateGateway(v, knownBus)
	c.validateSensors(v, knownBus)
	c.validateCloud(v)
	c.validateBatch(v)
	c.validateSpool(v)
	c.validateClock(v)
	c.validateBuffer(v)
	return append(v.errs, c.checkMachine()...)
}

// validateBatch checks the batch section.
func (c *Config) validateBatch(v *problems) {
	if c.Batch.MaxReadings < 1 || c.Batch.MaxReadings > 10000 {
		v.add("batch.max_readings", "%d is not valid; use 1..10000 (100 is typical)", c.Batch.MaxReadings)
	}
	if c.Batch.MaxAge.D() < 10*time.Millisecond || c.Batch.MaxAge.D() > time.Hour {
		v.add("batch.max_age", "%v is not valid; use 10ms..1h (1s is typical)", c.Batch.MaxAge.D())
	}
}

// validateClock checks the clock section.
func (c *Config) validateClock(v *problems) {
	if c.Clock.Trust != "ntp" && c.Clock.Trust != "always" {
		v.add("clock.trust", "%q is not valid; use ntp (trust the clock once NTP has synchronised it) or always (a board with an RTC)", c.Clock.Trust)
	}
	if c.Clock.Hold.D() < 0 || c.Clock.Hold.D() > 24*time.Hour {
		v.add("clock.hold", "%v is not valid; use 0s..24h (10m is typical)", c.Clock.Hold.D())
	}
}

// validateBuffer checks the buffer section.
func (c *Config) validateBuffer(v *problems) {
	if n := c.Buffer.Capacity; n < 2 || n > 1<<24 || n&(n-1) != 0 {
		v.add("buffer.capacity", "%d is not valid; use a power of two between 2 and 16777216, e.g. 16384", n)
	}
}
