package ingest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/internal/ident"
)

// Config is the ingest's configuration: a small YAML file (see docs/ingest.md), flags override it.
type Config struct {
	MQTT     MQTTConfig     `yaml:"mqtt"`
	AMQP     AMQPConfig     `yaml:"amqp"`
	Postgres PostgresConfig `yaml:"postgres"`
	Keys     KeysConfig     `yaml:"keys"`
	// Workers is how many transactions are written at once (default 4).
	Workers int `yaml:"workers"`
	// BatchesPerTx bounds how many batches, among those already waiting, one transaction writes
	// (default 16; 1 writes each batch alone). It never waits for more to arrive.
	BatchesPerTx int `yaml:"batches_per_transaction"`
}

// MQTTConfig says where the telemetry comes from.
type MQTTConfig struct {
	Broker string `yaml:"broker"` // tcp://host:1883
	// ClientID must be stable across restarts (the persistent session holds what was not yet
	// acknowledged) and unique per instance.
	ClientID     string `yaml:"client_id"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// Group is the shared subscription's group: instances with the same group share the telemetry.
	Group       string `yaml:"group"`
	TopicPrefix string `yaml:"topic_prefix"` // the gateways' cloud.topic_prefix, default wayside/v1
	// Shared false subscribes without $share: each instance receives everything and the database
	// de-duplicates (a broker without shared subscriptions, or mosquitto 2.0.11 across its restarts).
	Shared *bool `yaml:"shared"`
	// TLS names the files for a broker reached with ssl:// (tls://, mqtts://).
	TLS TLSConfig `yaml:"tls"`
}

// TLSConfig is the TLS side of the link to the broker, loaded as the gateways' cloud.tls is (by
// cloudsync/tlsconf, reloaded when the files change): server verification is always on.
type TLSConfig struct {
	// CA is a PEM file of the CAs that may sign the broker's certificate; empty: the system's roots.
	CA string `yaml:"ca"`
	// Cert and Key are a client certificate and its unencrypted key (PEM), for a broker that
	// authenticates clients by certificate: both or neither.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ServerName, when set, is the name the broker's certificate is checked against instead of the
	// broker URL's host.
	ServerName string `yaml:"server_name"`
}

// tlsFieldPrefix is where the MQTT link's TLSConfig is in the config file, as errors name it.
const tlsFieldPrefix = "mqtt.tls"

// firstSet returns the config path (under prefix, e.g. mqtt.tls) of the first field that is set, or ""
// when none is.
func (t TLSConfig) firstSet(prefix string) (field string) {
	for _, f := range []struct{ v, name string }{{t.CA, "ca"}, {t.Cert, "cert"}, {t.Key, "key"}, {t.ServerName, "server_name"}} {
		if f.v != "" {
			return prefix + "." + f.name
		}
	}
	return ""
}

// PostgresConfig says where readings go.
type PostgresConfig struct {
	DSN string `yaml:"dsn"` // postgres://user@host:5432/db, or key=value pairs; PG* variables fill the rest
	// MaxConns bounds the pool (default Workers + 2).
	MaxConns int32 `yaml:"max_conns"`
}

// KeysConfig says whose batches are accepted and how sealed ones are opened.
type KeysConfig struct {
	// GatewaysFile holds one registered gateway a line: `<gateway id> <base64 Ed25519 public key>` (the
	// key wayside status shows). Empty: the table wayside_gateway_keys is read, and re-read every
	// Refresh.
	GatewaysFile string `yaml:"gateways_file"`
	// CityKeyFiles are city private keys from `wayside keys gen`, to open sealed batches.
	CityKeyFiles []string `yaml:"city_key_files"`
	// RequireSealed quarantines batches that are not sealed.
	RequireSealed bool `yaml:"require_sealed"`
	// Refresh is how often the key table is re-read (default 1m).
	Refresh time.Duration `yaml:"refresh"`
}

// Defaults fills what was left empty.
func (c *Config) Defaults() {
	if c.MQTT.Group == "" {
		c.MQTT.Group = "wayside-ingest"
	}
	if c.MQTT.TopicPrefix == "" {
		c.MQTT.TopicPrefix = "wayside/v1"
	}
	if c.MQTT.Shared == nil && c.AMQP.URL == "" { // with amqp.url there is no telemetry subscription
		t := true
		c.MQTT.Shared = &t
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.BatchesPerTx <= 0 {
		c.BatchesPerTx = 16
	}
	if c.Postgres.MaxConns <= 0 {
		c.Postgres.MaxConns = int32(c.Workers) + 2
	}
	if c.Keys.Refresh <= 0 {
		c.Keys.Refresh = time.Minute
	}
	c.AMQP.amqpDefaults(c.Workers, c.BatchesPerTx)
}

var (
	clientIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	groupRe    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// Validate checks the configuration; each error names the field and says what to do.
func (c *Config) Validate() error {
	var errs []error
	if c.MQTT.Broker == "" {
		errs = append(errs, errors.New("mqtt.broker is empty: give the broker's URL, e.g. tcp://127.0.0.1:1883 (flag -broker)"))
	} else if !strings.Contains(c.MQTT.Broker, "://") {
		errs = append(errs, fmt.Errorf("mqtt.broker %q has no scheme: write tcp://%s (or ssl://... for TLS)", c.MQTT.Broker, c.MQTT.Broker))
	} else if err := checkBroker(c.MQTT.Broker, c.MQTT.TLS); err != nil {
		errs = append(errs, err)
	}
	if !clientIDRe.MatchString(c.MQTT.ClientID) {
		errs = append(errs, fmt.Errorf("mqtt.client_id %q: give each instance its own stable id of letters, digits, '-', '_', '.' (e.g. wayside-ingest-1; flag -client-id): its session keeps what it has not yet written", c.MQTT.ClientID))
	}
	if !groupRe.MatchString(c.MQTT.Group) {
		errs = append(errs, fmt.Errorf("mqtt.group %q: use 1-64 letters, digits, '-', '_', '.' (no '/', '+' or '#'): instances with the same group share the telemetry", c.MQTT.Group))
	}
	if c.MQTT.TopicPrefix == "" || strings.ContainsAny(c.MQTT.TopicPrefix, "+#") || strings.HasSuffix(c.MQTT.TopicPrefix, "/") {
		errs = append(errs, fmt.Errorf("mqtt.topic_prefix %q: use the gateways' cloud.topic_prefix without wildcards or a trailing '/', e.g. wayside/v1", c.MQTT.TopicPrefix))
	}
	if c.Postgres.DSN == "" {
		errs = append(errs, errors.New("postgres.dsn is empty: give e.g. postgres://wayside@db.city.example:5432/wayside (flag -dsn; the password from PGPASSWORD or ~/.pgpass)"))
	}
	if c.Workers > 256 {
		errs = append(errs, fmt.Errorf("workers %d: use 1 to 256 (each holds a database connection)", c.Workers))
	}
	if c.BatchesPerTx > 1000 {
		errs = append(errs, fmt.Errorf("batches_per_transaction %d: use 1 to 1000", c.BatchesPerTx))
	}
	if c.Keys.RequireSealed && len(c.Keys.CityKeyFiles) == 0 {
		errs = append(errs, errors.New("keys.require_sealed is set but keys.city_key_files is empty: give the city key files from wayside keys gen (flag -city-key)"))
	}
	errs = append(errs, c.validateAMQP()...)
	return errors.Join(errs...)
}

// LoadConfig reads a YAML file strictly (an unknown field is an error naming it).
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("ingest: config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("ingest: config %s: %w (the fields are in docs/ingest.md)", path, err)
	}
	return c, nil
}

// ParseGatewayKeys reads the gateways file: `<gateway id> <base64 Ed25519 public key>` a line; blank
// lines and lines starting with # are skipped.
func ParseGatewayKeys(text string) (map[string]ed25519.PublicKey, error) {
	keys := map[string]ed25519.PublicKey{}
	for n, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want `<gateway id> <base64 public key>`, got %d fields", n+1, len(f))
		}
		if !ident.Valid(f[0]) {
			return nil, fmt.Errorf("line %d: gateway id %q: letters, digits, '-', '_', '.'", n+1, f[0])
		}
		raw, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("line %d: gateway %s: want base64 of a 32-byte Ed25519 public key (wayside status shows it)", n+1, f[0])
		}
		if _, dup := keys[f[0]]; dup {
			return nil, fmt.Errorf("line %d: gateway %s listed twice", n+1, f[0])
		}
		keys[f[0]] = raw
	}
	return keys, nil
}

// loadCityKeys reads every city key file.
func loadCityKeys(paths []string) ([]cityopen.CityKey, error) {
	var keys []cityopen.CityKey
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("keys.city_key_files: %w", err)
		}
		ks, err := cityopen.ParseCityKeys(b)
		if err != nil {
			return nil, fmt.Errorf("keys.city_key_files %s: %w", p, err)
		}
		keys = append(keys, ks...)
	}
	return keys, nil
}
