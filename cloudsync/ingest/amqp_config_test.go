package ingest

import (
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/internal/testkit/testpki"
)

func amqpConfig(url string) Config {
	return Config{MQTT: MQTTConfig{Broker: "tcp://127.0.0.1:1883", ClientID: "ingest-1"}, AMQP: AMQPConfig{URL: url},
		Postgres: PostgresConfig{DSN: "postgres://x@db/wayside"}}
}

// TestAMQPDefaults: the defaults docs/ingest.md gives (queue wayside-ingest, exchange amq.topic,
// prefetch workers × batches_per_transaction × 2), and no MQTT telemetry subscription beside the queue.
func TestAMQPDefaults(t *testing.T) {
	c := amqpConfig("amqp://ingest@127.0.0.1:5672/")
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	if c.AMQP.Queue != "wayside-ingest" || c.AMQP.Exchange != "amq.topic" || c.AMQP.Prefetch != 4*16*2 {
		t.Errorf("defaults: %+v", c.AMQP)
	}
	if c.MQTT.Shared != nil {
		t.Errorf("mqtt.shared defaulted to %v beside amqp.url", *c.MQTT.Shared)
	}
	c = amqpConfig("amqp://ingest@127.0.0.1:5672/")
	c.Workers, c.BatchesPerTx = 256, 1000
	c.Defaults()
	if err := c.Validate(); err != nil || c.AMQP.Prefetch != 65535 {
		t.Errorf("256 workers × 1000 batches: prefetch %d, %v; want 65535, AMQP's largest", c.AMQP.Prefetch, err)
	}
}

// TestAMQPRoutingKey: RabbitMQ's MQTT plugin turns '/' into '.' and keeps '.' (rabbit_mqtt_util:to_amqp
// in rabbitmq-server; TestAMQPSource sees it on a real node), so the binding takes several words for
// the gateway and the topic is rebuilt from the known prefix.
func TestAMQPRoutingKey(t *testing.T) {
	for _, c := range []struct{ prefix, key, routingKey, topic string }{
		{"wayside/v1", "wayside.v1.#.telemetry", "wayside.v1.cab-1.telemetry", "wayside/v1/cab-1/telemetry"},
		{"wayside/v1", "wayside.v1.#.telemetry", "wayside.v1.cab.7.telemetry", "wayside/v1/cab.7/telemetry"},
		{"city.example/v1", "city.example.v1.#.telemetry", "city.example.v1.gw_2.telemetry", "city.example/v1/gw_2/telemetry"},
		{"wayside/v1", "wayside.v1.#.telemetry", "wayside.v1.telemetry", "wayside/v1/telemetry"}, // no gateway: quarantined
		{"wayside/v1", "wayside.v1.#.telemetry", "other.cab-1.telemetry", "other/cab-1/telemetry"},
	} {
		cfg := amqpConfig("amqp://127.0.0.1/")
		cfg.MQTT.TopicPrefix = c.prefix
		in, err := New(cfg, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		if got := in.RoutingKey(); got != c.key {
			t.Errorf("topic_prefix %s: binding key %s, want %s", c.prefix, got, c.key)
		}
		if got := in.topicOf(c.routingKey); got != c.topic {
			t.Errorf("topic_prefix %s: topic of routing key %s: %s, want %s", c.prefix, c.routingKey, got, c.topic)
		}
	}
}

// TestAMQPConfigErrors: each mistake in the amqp section is refused before anything connects, naming
// the field and the fix, and never showing the URL's password.
func TestAMQPConfigErrors(t *testing.T) {
	ca := testpki.NewCA(t, "city CA")
	client := ca.Client(t, "ingest-1")
	const secret = "s3cret-pw"
	shared := false
	for _, c := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"scheme", func(c *Config) { c.AMQP.URL = "http://ingest:" + secret + "@rabbit.city.example/" },
			[]string{"amqp.url", `scheme "http"`, "amqps://", "-amqp", "xxxxx"}},
		{"not a URL", func(c *Config) { c.AMQP.URL = "amqp://ingest:" + secret + "@[::1" }, []string{"amqp.url is not a URL"}},
		{"no host", func(c *Config) { c.AMQP.URL = "amqp:///vhost" }, []string{"amqp.url", "has no host"}},
		{"query", func(c *Config) { c.AMQP.URL = "amqp://127.0.0.1/?heartbeat=5" }, []string{"amqp.url", "remove the query"}},
		{"TLS files with amqp://", func(c *Config) { c.AMQP.URL, c.AMQP.TLS.CA = "amqp://rabbit.city.example/", ca.CertFile },
			[]string{"amqp.tls.ca is set", "plain amqp://", "amqps://rabbit.city.example:5671", "remove amqp.tls.ca"}},
		{"password twice", func(c *Config) {
			c.AMQP.URL, c.AMQP.PasswordFile = "amqp://ingest:"+secret+"@127.0.0.1/", "/etc/wayside-ingest/amqp-password"
		}, []string{"amqp.password_file is set", "amqp.url", "remove the password"}},
		{"password file without a user", func(c *Config) { c.AMQP.URL, c.AMQP.PasswordFile = "amqp://127.0.0.1/", "/p" },
			[]string{"amqp.password_file is set", "names no user", "amqp://USER@127.0.0.1/"}},
		{"password file without a URL", func(c *Config) { c.AMQP.URL, c.AMQP.PasswordFile = "", "/p" },
			[]string{"amqp.password_file is set but amqp.url is empty", "-amqp"}},
		{"TLS without a URL", func(c *Config) { c.AMQP.URL, c.AMQP.TLS.CA = "", ca.CertFile }, []string{"amqp.tls is set but amqp.url is empty"}},
		{"reserved queue", func(c *Config) { c.AMQP.Queue = "amq.wayside" }, []string{"amqp.queue", "amq.", "-amqp-queue"}},
		{"queue with a slash", func(c *Config) { c.AMQP.Queue = "wayside/ingest" }, []string{"amqp.queue"}},
		{"exchange", func(c *Config) { c.AMQP.Exchange = "amq topic" }, []string{"amqp.exchange", "mqtt.exchange"}},
		{"prefetch", func(c *Config) { c.AMQP.Prefetch = 70000 }, []string{"amqp.prefetch 70000", "65535"}},
		{"mqtt.shared", func(c *Config) { c.MQTT.Shared = &shared }, []string{"mqtt.shared is set", "amqp.url", "remove mqtt.shared"}},
		{"cert without key", func(c *Config) { c.AMQP.URL, c.AMQP.TLS.Cert = "amqps://rabbit.city.example/", client.CertFile },
			[]string{"amqp.tls.key is missing", "amqp.tls.cert is set"}},
	} {
		cfg := amqpConfig("amqp://ingest:" + secret + "@127.0.0.1:5672/")
		c.edit(&cfg)
		_, err := New(cfg, zap.NewNop())
		if err == nil {
			t.Errorf("%s: New accepted %+v", c.name, cfg.AMQP)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", c.name, err, w)
			}
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %q shows the password", c.name, err)
		}
	}
	// Accepted: TLS files with amqps://, a password file with a user and no password in the URL.
	for _, a := range []AMQPConfig{
		{URL: "amqps://ingest@127.0.0.1:5671/city", TLS: TLSConfig{CA: ca.CertFile, Cert: client.CertFile, Key: client.KeyFile, ServerName: "localhost"}},
		{URL: "amqp://ingest@127.0.0.1/", PasswordFile: "/etc/wayside-ingest/amqp-password", Queue: "city.telemetry:1"},
	} {
		cfg := amqpConfig("")
		cfg.AMQP = a
		if _, err := New(cfg, zap.NewNop()); err != nil {
			t.Errorf("%+v: %v", a, err)
		}
	}
}
