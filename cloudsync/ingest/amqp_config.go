package ingest

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// AMQPConfig takes the telemetry from a RabbitMQ queue over AMQP 0-9-1 instead of the MQTT
// subscription: every instance consumes the same durable quorum queue, bound to the exchange the
// MQTT plugin publishes to, and the broker hands each message to one of them. Statuses still come
// over MQTT (mqtt.broker).
type AMQPConfig struct {
	// URL is amqp://user@host:5672/vhost, or amqps://... for TLS (port 5671). Empty: telemetry comes
	// over MQTT. A password in the URL is never logged; amqp.password_file keeps it out of the file.
	URL          string `yaml:"url"`
	PasswordFile string `yaml:"password_file"`
	// Queue is the queue every instance consumes (default wayside-ingest).
	Queue string `yaml:"queue"`
	// Exchange is where the MQTT plugin publishes (its mqtt.exchange, default amq.topic).
	Exchange string `yaml:"exchange"`
	// Prefetch bounds the deliveries one instance holds unacknowledged (default workers ×
	// batches_per_transaction × 2).
	Prefetch int `yaml:"prefetch"`
	// TLS names the files for an amqps:// broker, as mqtt.tls does for an ssl:// one.
	TLS TLSConfig `yaml:"tls"`
}

// amqpTLSFieldPrefix is where the AMQP link's TLSConfig is in the config file.
const amqpTLSFieldPrefix = "amqp.tls"

// amqpNameRe is what the ingest accepts for a queue or exchange name (AMQP allows up to 255 bytes).
var amqpNameRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,255}$`)

// amqpDefaults fills the amqp section; workers and batches_per_transaction must be set first.
func (a *AMQPConfig) amqpDefaults(workers, perTx int) {
	if a.Queue == "" {
		a.Queue = "wayside-ingest"
	}
	if a.Exchange == "" {
		a.Exchange = "amq.topic"
	}
	if a.Prefetch <= 0 {
		a.Prefetch = min(workers*perTx*2, math.MaxUint16)
	}
}

// validateAMQP checks the amqp section; the MQTT telemetry settings it replaces are errors beside it.
func (c *Config) validateAMQP() []error {
	a := c.AMQP
	if a.URL == "" {
		var errs []error
		unused := func(field string) {
			errs = append(errs, fmt.Errorf("%s is set but amqp.url is empty: give amqp.url (flag -amqp) to take the telemetry from RabbitMQ over AMQP, or remove %s", field, field))
		}
		if a.PasswordFile != "" {
			unused("amqp.password_file")
		}
		if a.TLS != (TLSConfig{}) {
			unused("amqp.tls")
		}
		return errs
	}
	var errs []error
	u, err := url.Parse(a.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password and all
		}
		return []error{fmt.Errorf("amqp.url is not a URL (%v): give e.g. amqps://ingest@rabbit.city.example:5671/ or amqp://ingest@127.0.0.1:5672/ (flag -amqp)", err)}
	}
	secure := u.Scheme == "amqps"
	switch {
	case u.Scheme != "amqp" && !secure:
		errs = append(errs, fmt.Errorf("amqp.url %s: scheme %q: use amqps:// for TLS (port 5671), or amqp:// for a broker beside the ingest (flag -amqp)", u.Redacted(), u.Scheme))
	case u.Hostname() == "":
		errs = append(errs, fmt.Errorf("amqp.url %s has no host: give e.g. %s://ingest@rabbit.city.example/", u.Redacted(), u.Scheme))
	case u.RawQuery != "":
		errs = append(errs, fmt.Errorf("amqp.url %s: remove the query: the ingest sets the AMQP options (amqp.prefetch, amqp.tls)", u.Redacted()))
	}
	if field := a.TLS.firstSet(amqpTLSFieldPrefix); field != "" && u.Scheme == "amqp" {
		errs = append(errs, fmt.Errorf("%s is set but amqp.url %s is plain amqp://: use amqps://%s for TLS, or remove %s for a broker beside the ingest",
			field, u.Redacted(), net.JoinHostPort(u.Hostname(), "5671"), field))
	}
	if a.PasswordFile != "" {
		if u.User == nil || u.User.Username() == "" {
			errs = append(errs, fmt.Errorf("amqp.password_file is set but amqp.url %s names no user: write %s://USER@%s%s", u.Redacted(), u.Scheme, u.Host, u.Path))
		} else if _, has := u.User.Password(); has {
			errs = append(errs, fmt.Errorf("amqp.password_file is set and amqp.url %s has a password too: remove the password from amqp.url", u.Redacted()))
		}
	}
	if !amqpNameRe.MatchString(a.Queue) || strings.HasPrefix(a.Queue, "amq.") {
		errs = append(errs, fmt.Errorf("amqp.queue %q: use 1-255 letters, digits, '-', '_', '.', ':', not starting with amq. (the broker's own): every instance consumes this queue (flag -amqp-queue)", a.Queue))
	}
	if !amqpNameRe.MatchString(a.Exchange) {
		errs = append(errs, fmt.Errorf("amqp.exchange %q: give the exchange the MQTT plugin publishes to (its mqtt.exchange, default amq.topic)", a.Exchange))
	}
	if a.Prefetch > math.MaxUint16 {
		errs = append(errs, fmt.Errorf("amqp.prefetch %d: use 1 to 65535 (the deliveries an instance holds unacknowledged)", a.Prefetch))
	}
	if c.MQTT.Shared != nil {
		errs = append(errs, errors.New("mqtt.shared is set but the telemetry comes from amqp.url: remove mqtt.shared (it applies to the MQTT telemetry subscription, which amqp.url replaces)"))
	}
	return errs
}

// redactedURL is the URL as logs may show it: the password replaced.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(amqp.url, not a URL)"
	}
	return u.Redacted()
}

// RoutingKey is the binding key of the telemetry queue: the topics <prefix>/<gateway>/telemetry as
// RabbitMQ's MQTT plugin turns them into routing keys. The plugin replaces '/' with '.' and leaves a
// '.' as it is (rabbit_mqtt_util:to_amqp, 3.10 to 4.x; "wayside/v1/cab.7/telemetry" arrives as
// "wayside.v1.cab.7.telemetry", tested), so a gateway id with a dot spans several words: '#', not '*'.
func (in *Ingest) RoutingKey() string {
	return in.routingPrefix() + ".#.telemetry"
}

func (in *Ingest) routingPrefix() string {
	return strings.ReplaceAll(in.cfg.MQTT.TopicPrefix, "/", ".")
}

// topicOf returns the MQTT topic of a routing key the binding matched, <prefix>.<gateway>.telemetry:
// the gateway id is everything in between, its own dots included (an id has no '/'). A key of another
// shape (an AMQP publisher's) is mapped back the plugin's way, every '.' to '/'; it names no gateway.
func (in *Ingest) topicOf(key string) string {
	rest, ok := strings.CutPrefix(key, in.routingPrefix()+".")
	if gw, ok2 := strings.CutSuffix(rest, ".telemetry"); ok && ok2 && gw != "" {
		return in.cfg.MQTT.TopicPrefix + "/" + gw + "/telemetry"
	}
	return strings.ReplaceAll(key, ".", "/")
}
