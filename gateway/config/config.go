// Package config owns waysided's configuration file: its schema, strict YAML decoding (an unknown key is
// an error naming its path and the valid keys), defaults, and validation whose messages name the field
// path and what would be valid.
package config

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/cloudsync/tlsconf"
	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/drivers/sensor"
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

// Gateway identifies this gateway and the board it runs on.
type Gateway struct {
	// ID names the gateway in topics and as the SenML base name. AutoID ("auto") derives it from the
	// board's machine id; Parse replaces it with the result.
	ID string `yaml:"id"`
	// IDSource is the machine id file an auto ID was derived from, empty for an explicit ID.
	IDSource string `yaml:"-"`
	// Board is a board profile name (see package boards).
	Board string `yaml:"board"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
}

// Sim configures the simulated board.
type Sim struct {
	// Seed makes the simulated values reproducible.
	Seed uint64 `yaml:"seed"`
}

// Sensor is one configured sensor.
type Sensor struct {
	Name    string   `yaml:"name"`
	Driver  string   `yaml:"driver"`
	Bus     string   `yaml:"bus"`
	Address uint16   `yaml:"address"`
	Pin     string   `yaml:"pin"`
	Pins    []string `yaml:"pins"` // further GPIO lines, for a driver that takes several
	// Options is the driver's mapping as written; Opts is it decoded over the driver's defaults and
	// validated (nil for a driver that takes no options).
	Options  yaml.Node      `yaml:"options"`
	Opts     sensor.Options `yaml:"-"`
	Interval Duration       `yaml:"interval"`
	// Phase moves when the sensor is sampled relative to its grid slot (whole multiples of Interval on
	// the wall clock), without moving the time its readings are stamped with: -800ms starts a part
	// whose measurement takes 800 ms before the slot; 250ms keeps a part off a shared bus at the slot.
	// Its magnitude must be below Interval. Default 0.
	Phase Duration `yaml:"phase"`
}

// Cloud configures the MQTT link.
type Cloud struct {
	// Brokers are tried in order: tcp://host:port, ssl://host:port, mqtt://, mqtts://.
	Brokers []string `yaml:"brokers"`
	// ClientID defaults to "wayside-<gateway id>"; it must be stable so the broker keeps the session.
	ClientID string `yaml:"client_id"`
	// TopicPrefix defaults to "wayside/v1"; topics are <prefix>/<gateway id>/telemetry and /status.
	TopicPrefix string `yaml:"topic_prefix"`
	// KeepAlive is the MQTT keep-alive interval.
	KeepAlive Duration `yaml:"keepalive"`
	// MaxInflight bounds the batches published but not yet acknowledged.
	MaxInflight int `yaml:"max_inflight"`
	// DevBroker starts an in-process MQTT broker on the (loopback) address of Brokers[0]. Only for
	// the sim board in a build made with the devbroker tag (make run): it is refused otherwise.
	DevBroker bool `yaml:"dev_broker"`
	// Reconnect bounds the reconnect backoff (full jitter between 0 and min(max, base*2^failures), base
	// being min before the first connection and spread once a connection has been lost).
	Reconnect Reconnect `yaml:"reconnect"`
	// StatusInterval is how often the retained status message is refreshed while connected.
	StatusInterval Duration `yaml:"status_interval"`
	// AllowPlaintext permits tcp:// and mqtt:// brokers that are not on the loopback interface.
	AllowPlaintext bool `yaml:"allow_plaintext"`
	// TLS configures server verification and the client certificate (mutual TLS).
	TLS TLS `yaml:"tls"`
	// Username and PasswordFile set MQTT password authentication; the file is re-read on every
	// connection attempt, so a rotated password needs no restart.
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// Profile is the cloud platform: generic (default), aws-iot, azure-iothub or aliyun-iot; the
	// platform profiles take their settings from the section of the same name.
	Profile string `yaml:"profile"`
	// Commands configures the signed commands from the cloud; without keys none are accepted.
	Commands Commands `yaml:"commands"`
	// Seal encrypts every batch to the city's public key (seal.go); absent: signed only.
	Seal   Seal        `yaml:"seal"`
	AWS    CloudAWS    `yaml:"aws"`
	Azure  CloudAzure  `yaml:"azure"`
	Aliyun CloudAliyun `yaml:"aliyun"`
}

// Commands is cloud.commands.
type Commands struct {
	// Keys are the city's Ed25519 public keys by key id: base64 of the 32-byte key, or the path of a
	// PEM "PUBLIC KEY" file (wayside cmd-keygen prints the base64 form).
	Keys map[string]string `yaml:"keys"`
	// MaxAge is how old a command may be when it arrives (default 5m); MaxSkew how far its issue time
	// may be ahead of the gateway's clock (default 30s).
	MaxAge  Duration `yaml:"max_age"`
	MaxSkew Duration `yaml:"max_skew"`
}

// PublicKeys parses Keys.
func (c Commands) PublicKeys() (map[string]ed25519.PublicKey, error) {
	keys := map[string]ed25519.PublicKey{}
	for id, v := range c.Keys {
		raw := []byte(v)
		// A base64 key starts with '/' one time in 64: the 44 characters of 32 bytes are a key, not a path.
		b64Key := len(v) == 44 && strings.HasSuffix(v, "=") && !strings.HasSuffix(v, ".pem")
		if !b64Key && (strings.HasPrefix(v, "/") || strings.HasPrefix(v, "./") || strings.HasSuffix(v, ".pem")) {
			b, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("cloud.commands.keys.%s: %w", id, err)
			}
			raw = b
		}
		k, err := command.ParsePublicKey(raw)
		if err != nil {
			return nil, fmt.Errorf("cloud.commands.keys.%s: %w; give the base64 public key wayside cmd-keygen printed, or a PEM file's path", id, err)
		}
		keys[id] = k
	}
	return keys, nil
}

// CloudAWS is cloud.aws (profile aws-iot): mutual TLS with the thing's certificate (cloud.tls).
type CloudAWS struct {
	Endpoint  string `yaml:"endpoint"`   // the account's data endpoint, xxx-ats.iot.<region>.amazonaws.com
	Port      int    `yaml:"port"`       // 8883 (default) or 443 (ALPN x-amzn-mqtt-ca)
	ThingName string `yaml:"thing_name"` // default the gateway id
}

// CloudAzure is cloud.azure (profile azure-iothub): SAS token sign-in.
type CloudAzure struct {
	HubHost         string   `yaml:"hub_host"`          // myhub.azure-devices.net
	DeviceID        string   `yaml:"device_id"`         // default the gateway id
	SharedAccessKey string   `yaml:"shared_access_key"` // the device's key, base64 as the portal shows it
	TokenTTL        Duration `yaml:"token_ttl"`         // default 1h
}

// CloudAliyun is cloud.aliyun (profile aliyun-iot): Alibaba Cloud IoT Platform's HMAC sign-in.
type CloudAliyun struct {
	ProductKey   string `yaml:"product_key"`
	DeviceName   string `yaml:"device_name"`
	DeviceSecret string `yaml:"device_secret"`
	InstanceID   string `yaml:"instance_id"` // or region, for the endpoint when cloud.brokers is empty
	Region       string `yaml:"region"`
	SecureMode   string `yaml:"secure_mode"` // tls (default) or tcp
	SignMethod   string `yaml:"sign_method"` // hmacsha256 (default) or hmacsha1
	ClientID     string `yaml:"client_id"`
}

// ProfileInput is the cloud section as the profile package takes it; now is the sign-in time
// (aliyun-iot), zero for validation.
func (c *Config) ProfileInput(now time.Time) profile.Input {
	cl := c.Cloud
	clientID := cl.ClientID
	if c.Generic() && clientID == "wayside-"+c.Gateway.ID {
		clientID = "" // the default, applied by the profile
	}
	return profile.Input{
		Profile: cl.Profile, GatewayID: c.Gateway.ID, TopicPrefix: cl.TopicPrefix, Brokers: cl.Brokers,
		ClientID: clientID, Username: cl.Username, KeepAlive: cl.KeepAlive.D(),
		TLS: profile.TLSFiles{CAFile: cl.TLS.CA, CertFile: cl.TLS.Cert, KeyFile: cl.TLS.Key}, Now: now,
		AWS:   profile.AWS{Endpoint: cl.AWS.Endpoint, Port: cl.AWS.Port, ThingName: cl.AWS.ThingName},
		Azure: profile.Azure{HubHost: cl.Azure.HubHost, DeviceID: cl.Azure.DeviceID, SharedAccessKey: cl.Azure.SharedAccessKey, TokenTTL: cl.Azure.TokenTTL.D()},
		Aliyun: profile.Aliyun{ProductKey: cl.Aliyun.ProductKey, DeviceName: cl.Aliyun.DeviceName, DeviceSecret: cl.Aliyun.DeviceSecret,
			InstanceID: cl.Aliyun.InstanceID, Region: cl.Aliyun.Region, SecureMode: cl.Aliyun.SecureMode,
			SignMethod: cl.Aliyun.SignMethod, ClientID: cl.Aliyun.ClientID},
	}
}

// Generic tells whether the generic profile (any MQTT broker) is configured.
func (c *Config) Generic() bool { return c.Cloud.Profile == "" || c.Cloud.Profile == profile.Generic }

// TLS names the certificate files of the MQTT link; they are re-read when they change.
type TLS struct {
	// CA is a PEM bundle of the CAs that may sign the broker's certificate (empty: the system's).
	CA string `yaml:"ca"`
	// Cert and Key are the client certificate and its key (PEM) for mutual TLS.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ServerName overrides the name checked in the broker's certificate (default: the broker's host).
	ServerName string `yaml:"server_name"`
}

// Reconnect bounds the reconnect backoff.
type Reconnect struct {
	Min Duration `yaml:"min"`
	Max Duration `yaml:"max"`
	// Spread is the window of the first attempt after a lost connection (and the base the backoff
	// doubles from after it): a broker restart drops a city's gateways together, and a spread of S
	// brings them back at about 1/S of the fleet per second (default 30s: 3.3%).
	Spread Duration `yaml:"spread"`
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
}

// Spool configures the on-disk store-and-forward queue.
type Spool struct {
	// Dir holds the spool segments and the gateway's state.
	Dir string `yaml:"dir"`
	// SegmentBytes is the size at which a segment file is rotated.
	SegmentBytes Size `yaml:"segment_size"`
	// QuotaBytes bounds the spool on disk; past it the oldest unacknowledged batches are evicted.
	QuotaBytes Size `yaml:"quota"`
	// SyncEvery and SyncInterval set the fsync policy: after this many batches or this long.
	SyncEvery    int      `yaml:"sync_every"`
	SyncInterval Duration `yaml:"sync_interval"`
	// ReplayRate bounds how many backlog batches per second are sent after an outage, besides live data.
	ReplayRate float64 `yaml:"replay_rate"`
}

// Size is a byte count written as 4MiB, 512KiB, 1GiB or a plain number in YAML.
type Size int64

// UnmarshalYAML parses a size with an optional KiB/MiB/GiB (or KB/MB/GB) suffix.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v := strings.TrimSpace(n.Value)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	var num int64
	if _, err := fmt.Sscanf(v, "%d", &num); err != nil || fmt.Sprint(num) != v || num < 0 {
		return fmt.Errorf("want a size like 4MiB, 512KiB or 1GiB, got %q", n.Value)
	}
	*s = Size(num * mult)
	return nil
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
		c.Cloud.Reconnect.Spread = Duration(min(max(30*time.Second, c.Cloud.Reconnect.Min.D()), c.Cloud.Reconnect.Max.D()))
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

// maxBytesPerReading bounds what one reading can take in a SenML pack: a record that starts a channel
// group (base name up to 64+64+32 bytes, base unit, value, time, flags).
const maxBytesPerReading = 200

// SimOnlyDrivers lists the drivers only the sim board has: load parts for benchmarks (boards/sim
// Loads). A configuration for any other board that names one is refused.
var SimOnlyDrivers = map[string]bool{"synthetic": true}

func driverNames() string { return strings.Join(registry.Names(), ", ") }

var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func (c *Config) validate(knownBus BusChecker) Errors {
	var errs Errors
	add := func(path, format string, a ...any) {
		errs = append(errs, &Error{Path: path, Msg: fmt.Sprintf(format, a...)})
	}
	if c.Gateway.ID == "" {
		add("gateway.id", "missing; set a unique name such as gw-0001 (letters, digits, '-', '_', '.'), or auto to derive one from the board's machine id")
	} else if strings.EqualFold(c.Gateway.ID, AutoID) {
		// resolveAutoID failed, or refused the spelling, and said why
	} else if !idRe.MatchString(c.Gateway.ID) {
		add("gateway.id", "%q is not valid: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit (it appears in MQTT topics and SenML names)", c.Gateway.ID)
	}
	if c.Gateway.Board == "" {
		add("gateway.board", "missing; set one of rpi4, rpi5, beaglebone-black, sim")
	} else if knownBus != nil {
		if ok, valid := knownBus(c.Gateway.Board, "", ""); !ok {
			add("gateway.board", "unknown board %q; valid: %s", c.Gateway.Board, strings.Join(valid, ", "))
		}
	}
	switch c.Gateway.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("gateway.log_level", "%q is not valid; use debug, info, warn or error", c.Gateway.LogLevel)
	}
	if len(c.Sensors) == 0 {
		add("sensors", "none configured; add at least one sensor (see configs/example.yaml)")
	}
	seen := map[string]int{}
	for i, s := range c.Sensors {
		p := fmt.Sprintf("sensors[%d]", i)
		if s.Name == "" {
			add(p+".name", "missing; give the sensor a short name such as env1 (it appears in SenML names)")
		} else if !idRe.MatchString(s.Name) || strings.ContainsAny(s.Name, "/") {
			add(p+".name", "%q is not valid: use letters, digits, '-', '_' or '.'", s.Name)
		} else if j, dup := seen[s.Name]; dup {
			add(p+".name", "%q is already used by sensors[%d]; names must be unique", s.Name, j)
		} else {
			seen[s.Name] = i
		}
		d, ok := registry.Lookup(s.Driver)
		if SimOnlyDrivers[s.Driver] && c.Gateway.Board == "sim" {
			d, ok = &registry.Driver{Name: s.Driver, Bus: "sim"}, true
		} else if SimOnlyDrivers[s.Driver] {
			add(p+".driver", "%s is a benchmark load only the sim board has; set gateway.board: sim, or use a real driver: %s", s.Driver, driverNames())
			continue
		}
		if !ok {
			add(p+".driver", "unknown driver %q; valid: %s", s.Driver, driverNames())
			continue
		}
		if s.Interval.D() < 10*time.Millisecond || s.Interval.D() > 24*time.Hour {
			add(p+".interval", "%v is not valid; set a duration between 10ms and 24h, e.g. 1s", s.Interval.D())
		} else if ph := s.Phase.D(); ph <= -s.Interval.D() || ph >= s.Interval.D() {
			add(p+".phase", "%v is not within the interval %v; set a phase between -%v and %v (exclusive), e.g. -800ms to start a part that takes 800 ms to measure before its grid slot, or leave it out for 0",
				ph, s.Interval.D(), s.Interval.D(), s.Interval.D())
		}
		errs = append(errs, c.checkOptions(i, d)...)
		if s.Bus == "" {
			add(p+".bus", "missing; driver %s needs a %s bus name from the board profile", s.Driver, d.Bus)
		} else if knownBus != nil && c.Gateway.Board != "" {
			if ok, valid := knownBus(c.Gateway.Board, string(d.Bus), s.Bus); !ok && valid != nil {
				add(p+".bus", "board %s has no %s bus %q; valid: %s", c.Gateway.Board, d.Bus, s.Bus, strings.Join(valid, ", "))
			}
		}
		switch d.Bus {
		case "i2c":
			if s.Address < 0x08 || s.Address > 0x77 {
				add(p+".address", "0x%02x is not a 7-bit I2C device address; use 0x08..0x77 (default for %s is 0x%02x)", s.Address, s.Driver, d.Addr)
			}
			if s.Pin != "" || len(s.Pins) > 0 {
				add(p+".pin", "not used by I2C driver %s; remove it", s.Driver)
			}
		case "gpio":
			c.checkPins(i, d, knownBus, add)
			fallthrough
		default:
			if s.Address != 0 {
				add(p+".address", "not used by %s driver %s; remove it", d.Bus, s.Driver)
			}
			if d.Bus != registry.GPIO && (s.Pin != "" || len(s.Pins) > 0) {
				add(p+".pin", "not used by %s driver %s; remove it", d.Bus, s.Driver)
			}
		}
	}
	errs = append(errs, c.checkSharedUARTs()...)
	for i, s := range c.Sensors { // pressure_from names another configured sensor
		src, ok := s.Opts.(sensor.PressureSourced)
		if !ok || src.AmbientPressureFrom() == "" {
			continue
		}
		name, _, _ := strings.Cut(src.AmbientPressureFrom(), "/")
		if j, ok := seen[name]; !ok || j == i {
			add(fmt.Sprintf("sensors[%d].options.pressure_from", i), "%q names no other sensor of this configuration; use <sensor>/<channel> of a pressure sensor such as a bme280 (env1/pressure)", src.AmbientPressureFrom())
		}
	}
	if len(c.Cloud.Brokers) == 0 && c.Generic() {
		add("cloud.brokers", "missing; list at least one broker URL such as tcp://127.0.0.1:1883 or ssl://mqtt.city.example:8883")
	}
	for i, b := range c.Cloud.Brokers {
		p := fmt.Sprintf("cloud.brokers[%d]", i)
		u, err := url.Parse(b)
		if err != nil || u.Host == "" {
			add(p, "%q is not a broker URL; use scheme://host:port, e.g. tcp://127.0.0.1:1883", b)
			continue
		}
		switch u.Scheme {
		case "tcp", "mqtt", "ssl", "tls", "mqtts":
		default:
			add(p, "scheme %q is not supported; use tcp, mqtt, ssl, tls or mqtts", u.Scheme)
		}
		if u.Hostname() == "" {
			add(p, "%q has no host; use scheme://host:port, e.g. ssl://mqtt.city.example:8883", b)
			continue
		}
		if u.Port() == "" {
			add(p, "%q has no port; add one, e.g. :1883 for tcp or :8883 for ssl", b)
		} else if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			add(p, "port %s in %q is not valid; use a port 1..65535 as in scheme://host:port, e.g. :1883 for tcp or :8883 for ssl", u.Port(), b)
		}
		if err := tlsconf.CheckBroker(b, c.Cloud.AllowPlaintext); err != nil {
			add(p, "%v", err)
		}
	}
	if c.Generic() && !idRe.MatchString(c.Cloud.ClientID) {
		add("cloud.client_id", "%q is not valid: use 1-64 letters, digits, '-', '_' or '.'", c.Cloud.ClientID)
	}
	if strings.ContainsAny(c.Cloud.TopicPrefix, "+#") || strings.HasPrefix(c.Cloud.TopicPrefix, "/") || strings.HasSuffix(c.Cloud.TopicPrefix, "/") {
		add("cloud.topic_prefix", "%q is not valid: no wildcards (+, #) and no leading or trailing '/'", c.Cloud.TopicPrefix)
	}
	if c.Cloud.KeepAlive.D() < time.Second {
		add("cloud.keepalive", "%v is too short; use at least 1s (30s is typical)", c.Cloud.KeepAlive.D())
	}
	reported := map[string]bool{}
	for _, e := range errs {
		reported[e.Path] = true
	}
	if p, err := profile.Build(c.ProfileInput(time.Time{})); err != nil {
		var pes profile.Errors
		if !errors.As(err, &pes) {
			add("cloud", "%v", err)
		}
		for _, pe := range pes {
			field := strings.NewReplacer("cloud.tls.cert_file", "cloud.tls.cert", "cloud.tls.key_file", "cloud.tls.key").Replace(pe.Field)
			if !reported[field] {
				add(field, "%s", pe.Msg)
			}
		}
	} else if lim := p.Limits.MaxPayload; lim > 0 && c.Batch.MaxReadings*maxBytesPerReading > lim {
		add("batch.max_readings", "%d readings can exceed the %s profile's %d byte message limit; use at most %d",
			c.Batch.MaxReadings, c.Cloud.Profile, lim, lim/maxBytesPerReading)
	}
	if _, err := c.Cloud.Commands.PublicKeys(); err != nil {
		add("cloud.commands.keys", "%v", err)
	}
	if _, err := c.Cloud.Seal.Sealer(); err != nil {
		var e *Error
		if errors.As(err, &e) {
			errs = append(errs, e)
		} else {
			add("cloud.seal", "%v", err)
		}
	}
	if cm := c.Cloud.Commands; cm.MaxAge.D() < 10*time.Second || cm.MaxAge.D() > 24*time.Hour || cm.MaxSkew.D() <= 0 || cm.MaxSkew.D() > time.Hour {
		add("cloud.commands", "max_age %v, max_skew %v: use max_age 10s..24h (default 5m) and max_skew above 0 up to 1h (default 30s)", cm.MaxAge.D(), cm.MaxSkew.D())
	}
	if t := c.Cloud.TLS; t != (TLS{}) {
		if _, err := tlsconf.New(tlsconf.Files{CA: t.CA, Cert: t.Cert, Key: t.Key, ServerName: t.ServerName}, nil); err != nil {
			add("cloud.tls", "%v", err)
		}
	}
	switch {
	case c.Cloud.PasswordFile != "" && c.Cloud.Username == "":
		add("cloud.username", "missing; cloud.password_file is set, so name the MQTT user too")
	case c.Cloud.PasswordFile != "":
		if b, err := os.ReadFile(c.Cloud.PasswordFile); err != nil {
			add("cloud.password_file", "cannot be read: %v", err)
		} else if len(bytes.TrimSpace(b)) == 0 {
			add("cloud.password_file", "%s is empty; write the MQTT password into it", c.Cloud.PasswordFile)
		}
	}
	if r := c.Cloud.Reconnect; r.Min.D() < 10*time.Millisecond || r.Max.D() < r.Min.D() {
		add("cloud.reconnect", "min %v, max %v: use min >= 10ms and max >= min (defaults 1s and 2m)", r.Min.D(), r.Max.D())
	} else if r.Spread.D() < r.Min.D() || r.Spread.D() > r.Max.D() {
		add("cloud.reconnect", "spread %v: use min <= spread <= max (here %v..%v; default 30s)", r.Spread.D(), r.Min.D(), r.Max.D())
	}
	if c.Cloud.StatusInterval.D() < time.Second {
		add("cloud.status_interval", "%v is too short; use at least 1s (default 1m)", c.Cloud.StatusInterval.D())
	}
	if c.Cloud.MaxInflight < 1 || c.Cloud.MaxInflight > 65535 {
		add("cloud.max_inflight", "%d is not valid; use 1..65535", c.Cloud.MaxInflight)
	}
	if c.Cloud.DevBroker {
		if c.Gateway.Board != "sim" {
			add("cloud.dev_broker", "only allowed with board sim; a production gateway must sync to the city's broker")
		}
		if len(c.Cloud.Brokers) > 0 {
			if u, err := url.Parse(c.Cloud.Brokers[0]); err == nil {
				if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
					add("cloud.dev_broker", "needs cloud.brokers[0] on a loopback address such as tcp://127.0.0.1:18830, got %q", c.Cloud.Brokers[0])
				}
			}
		}
	}
	if c.Batch.MaxReadings < 1 || c.Batch.MaxReadings > 10000 {
		add("batch.max_readings", "%d is not valid; use 1..10000 (100 is typical)", c.Batch.MaxReadings)
	}
	if c.Batch.MaxAge.D() < 10*time.Millisecond || c.Batch.MaxAge.D() > time.Hour {
		add("batch.max_age", "%v is not valid; use 10ms..1h (1s is typical)", c.Batch.MaxAge.D())
	}
	if c.Spool.SegmentBytes < 4<<10 || c.Spool.SegmentBytes > 1<<30 {
		add("spool.segment_size", "%d bytes is not valid; use 4KiB..1GiB (4MiB is typical)", c.Spool.SegmentBytes)
	}
	if c.Spool.QuotaBytes < 2*c.Spool.SegmentBytes {
		add("spool.quota", "%d bytes is less than two segments (%d); raise it (256MiB is typical) or lower spool.segment_size", c.Spool.QuotaBytes, 2*c.Spool.SegmentBytes)
	}
	if c.Spool.SyncEvery < 1 || c.Spool.SyncEvery > 100000 {
		add("spool.sync_every", "%d is not valid; use 1..100000 batches (32 is typical; 1 fsyncs every batch)", c.Spool.SyncEvery)
	}
	if c.Spool.SyncInterval.D() < time.Millisecond || c.Spool.SyncInterval.D() > time.Hour {
		add("spool.sync_interval", "%v is not valid; use 1ms..1h (5s is typical)", c.Spool.SyncInterval.D())
	}
	if c.Spool.ReplayRate <= 0 || c.Spool.ReplayRate > 10000 {
		add("spool.replay_rate", "%v is not valid; use a rate in batches per second above 0 and up to 10000", c.Spool.ReplayRate)
	}
	if c.Clock.Trust != "ntp" && c.Clock.Trust != "always" {
		add("clock.trust", "%q is not valid; use ntp (trust the clock once NTP has synchronised it) or always (a board with an RTC)", c.Clock.Trust)
	}
	if c.Clock.Hold.D() < 0 || c.Clock.Hold.D() > 24*time.Hour {
		add("clock.hold", "%v is not valid; use 0s..24h (10m is typical)", c.Clock.Hold.D())
	}
	if n := c.Buffer.Capacity; n < 2 || n > 1<<24 || n&(n-1) != 0 {
		add("buffer.capacity", "%d is not valid; use a power of two between 2 and 16777216, e.g. 16384", n)
	}
	return append(errs, c.checkMachine()...)
}
