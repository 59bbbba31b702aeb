package ingest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/internal/testkit/testpki"
)

func TestValidateNamesTheField(t *testing.T) {
	good := Config{MQTT: MQTTConfig{Broker: "tcp://127.0.0.1:1883", ClientID: "ingest-1"}, Postgres: PostgresConfig{DSN: "postgres://x@db/wayside"}}
	good.Defaults()
	if err := good.Validate(); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no broker", func(c *Config) { c.MQTT.Broker = "" }, "mqtt.broker is empty"},
		{"no scheme", func(c *Config) { c.MQTT.Broker = "127.0.0.1:1883" }, "write tcp://127.0.0.1:1883"},
		{"no client id", func(c *Config) { c.MQTT.ClientID = "" }, "mqtt.client_id"},
		{"wildcard group", func(c *Config) { c.MQTT.Group = "a/+" }, "mqtt.group"},
		{"prefix with slash", func(c *Config) { c.MQTT.TopicPrefix = "wayside/v1/" }, "mqtt.topic_prefix"},
		{"no dsn", func(c *Config) { c.Postgres.DSN = "" }, "postgres.dsn is empty"},
		{"sealed without key", func(c *Config) { c.Keys.RequireSealed = true }, "keys.city_key_files is empty"},
	} {
		cfg := good
		c.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestLoadConfigStrict(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ingest.yaml")
	os.WriteFile(path, []byte("mqtt:\n  broker: tcp://127.0.0.1:1883\n  client_id: ingest-1\npostgres:\n  dsn: postgres://x@db/w\nworkers: 8\n"), 0o600)
	c, err := LoadConfig(path)
	if err != nil || c.Workers != 8 || c.MQTT.ClientID != "ingest-1" {
		t.Fatalf("LoadConfig: %+v, %v", c, err)
	}
	os.WriteFile(path, []byte("mqtt:\n  brokers: tcp://127.0.0.1:1883\n"), 0o600)
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "brokers") {
		t.Fatalf("an unknown field: %v, want an error naming it", err)
	}
}

func TestParseGatewayKeys(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	b64 := base64.StdEncoding.EncodeToString(pub)
	keys, err := ParseGatewayKeys("# the city's cabinets\n\ngw-1 " + b64 + "\n")
	if err != nil || len(keys) != 1 || !keys["gw-1"].Equal(pub) {
		t.Fatalf("ParseGatewayKeys: %v, %v", keys, err)
	}
	for _, bad := range []string{"gw-1", "gw-1 notbase64", "gw/1 " + b64, "gw-1 " + b64 + "\ngw-1 " + b64} {
		if _, err := ParseGatewayKeys(bad); err == nil {
			t.Errorf("ParseGatewayKeys(%q): no error", bad)
		}
	}
}

// TestTLSConfigErrors: each mistake in mqtt.tls is refused before anything connects, naming the field.
func TestTLSConfigErrors(t *testing.T) {
	ca := testpki.NewCA(t, "city CA")
	client := ca.Client(t, "ingest-1")
	missing := filepath.Join(t.TempDir(), "missing-ca.pem")
	for _, c := range []struct {
		name   string
		broker string
		tls    TLSConfig
		want   []string
	}{
		{"cert without key", "ssl://mqtt.city.example:8883", TLSConfig{CA: ca.CertFile, Cert: client.CertFile},
			[]string{"mqtt.tls.key is missing", "mqtt.tls.cert is set"}},
		{"key without cert", "ssl://mqtt.city.example:8883", TLSConfig{Key: client.KeyFile}, []string{"mqtt.tls.cert is missing"}},
		{"TLS files with a tcp broker", "tcp://mqtt.city.example:1883", TLSConfig{CA: ca.CertFile},
			[]string{"mqtt.tls.ca is set", "tcp://mqtt.city.example:1883 is plain", "use ssl://mqtt.city.example:8883", "remove mqtt.tls.ca (flag -tls-ca)"}},
		{"server name with a tcp broker", "tcp://127.0.0.1:1883", TLSConfig{ServerName: "mqtt.city.example"},
			[]string{"mqtt.tls.server_name is set", "flag -tls-server-name"}},
		{"missing CA file", "mqtts://mqtt.city.example:8883", TLSConfig{CA: missing}, []string{"mqtt.tls.ca", missing, "no such file"}},
		{"bad server name", "ssl://10.0.0.5:8883", TLSConfig{ServerName: "ssl://mqtt.city.example"}, []string{"mqtt.tls.server_name"}},
		{"websockets", "wss://mqtt.city.example:443", TLSConfig{}, []string{"mqtt.broker", `scheme "wss"`, "ssl://"}},
	} {
		cfg := Config{MQTT: MQTTConfig{Broker: c.broker, ClientID: "ingest-1", TLS: c.tls}, Postgres: PostgresConfig{DSN: "postgres://x@db/wayside"}}
		_, err := New(cfg, zap.NewNop())
		if err == nil {
			t.Errorf("%s: New accepted %+v", c.name, cfg.MQTT)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", c.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "cloud.tls") {
			t.Errorf("%s: error %q names the gateway's cloud.tls", c.name, err)
		}
	}
	// What is accepted: TLS files with a TLS broker, none with a plain one, none with ssl:// (the
	// system's roots).
	for _, m := range []MQTTConfig{
		{Broker: "tls://127.0.0.1:8883", TLS: TLSConfig{CA: ca.CertFile, Cert: client.CertFile, Key: client.KeyFile, ServerName: "localhost"}},
		{Broker: "tcp://127.0.0.1:1883"},
		{Broker: "ssl://mqtt.city.example:8883"},
	} {
		m.ClientID = "ingest-1"
		if _, err := New(Config{MQTT: m, Postgres: PostgresConfig{DSN: "postgres://x@db/wayside"}}, zap.NewNop()); err != nil {
			t.Errorf("%+v: %v", m, err)
		}
	}
}
