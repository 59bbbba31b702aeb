package profile

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// FieldError is one configuration problem: the config field and what to do about it.
type FieldError struct {
	Field string // e.g. "cloud.azure.shared_access_key"
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Errors is every problem Build found, in field order of the configuration.
type Errors []*FieldError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Has tells whether one of the errors is about field.
func (es Errors) Has(field string) bool {
	for _, e := range es {
		if e.Field == field {
			return true
		}
	}
	return false
}

type checker struct{ errs Errors }

func (c *checker) add(field, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

// otherSections refuses settings that belong to another profile: they would be silently ignored.
func (c *checker) otherSections(name string, in Input) {
	if name != AWSIoT && in.AWS != (AWS{}) {
		c.add("cloud.aws", "set, but cloud.profile is %s; remove the section or set cloud.profile: %s", name, AWSIoT)
	}
	if name != AzureIoTHub && in.Azure != (Azure{}) {
		c.add("cloud.azure", "set, but cloud.profile is %s; remove the section or set cloud.profile: %s", name, AzureIoTHub)
	}
	if name != AliyunIoT && in.Aliyun != (Aliyun{}) {
		c.add("cloud.aliyun", "set, but cloud.profile is %s; remove the section or set cloud.profile: %s", name, AliyunIoT)
	}
	if name != Generic {
		why := map[string]string{
			AWSIoT:      "it authenticates with the client certificate",
			AzureIoTHub: "it signs in with a SAS token made from cloud.azure.shared_access_key",
			AliyunIoT:   "it signs in with a password made from cloud.aliyun.device_secret",
		}[name]
		if in.Username != "" {
			c.add("cloud.username", "not used by %s (%s); remove it", name, why)
		}
		if in.Password != "" {
			c.add("cloud.password", "not used by %s (%s); remove it", name, why)
		}
	}
}

func checkKeepAlive(c *checker, name string, ka time.Duration, l Limits) {
	switch {
	case ka < time.Second:
		c.add("cloud.keepalive", "%v is too short; use at least 1s", ka)
	case l.KeepAliveMin != 0 && ka < l.KeepAliveMin, l.KeepAliveMax != 0 && ka > l.KeepAliveMax:
		lo, hi := l.KeepAliveMin, l.KeepAliveMax
		if lo == 0 {
			lo = time.Second
		}
		c.add("cloud.keepalive", "%v is outside what %s accepts; use %v..%v", ka, name, lo, hi)
	}
}

var brokerSchemes = map[string]bool{"tcp": false, "mqtt": false, "ssl": true, "tls": true, "mqtts": true,
	"mqtt+ssl": true, "tcps": true, "ws": false, "wss": true}

// checkBrokers validates configured broker URLs; tlsOnly refuses the plain ones, noWS the WebSocket ones.
func checkBrokers(c *checker, brokers []string, name string, tlsOnly, noWS bool) {
	for i, b := range brokers {
		field := fmt.Sprintf("cloud.brokers[%d]", i)
		u, err := url.Parse(b)
		if err != nil || u.Host == "" || u.Hostname() == "" {
			c.add(field, "%q is not a broker URL; use scheme://host:port, e.g. ssl://mqtt.example.org:8883", b)
			continue
		}
		secure, known := brokerSchemes[u.Scheme]
		switch {
		case !known:
			c.add(field, "scheme %q is not supported; use tcp, ssl, mqtts, ws or wss", u.Scheme)
		case tlsOnly && !secure:
			c.add(field, "%s needs TLS; use ssl://%s (or mqtts://)", name, u.Host)
		case noWS && (u.Scheme == "ws" || u.Scheme == "wss"):
			c.add(field, "%s takes MQTT over TLS here, not WebSocket; use ssl://%s", name, u.Host)
		}
	}
}

// topic levels: a single level of a topic name, no wildcard or separator.
func checkLevel(c *checker, field, what, v string) {
	if v == "" {
		c.add(field, "missing; set %s", what)
	} else if strings.ContainsAny(v, "/+#") || !printable(v) {
		c.add(field, "%q cannot be used in an MQTT topic: no '/', '+', '#' or control characters", v)
	}
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// checkHost validates a bare DNS host name (no scheme, no port, at least one dot).
func checkHost(c *checker, field, v, example string) {
	switch {
	case v == "":
		c.add(field, "missing; set the host name, e.g. %s", example)
	case strings.Contains(v, "://") || strings.ContainsAny(v, ":/"):
		c.add(field, "%q: give the host name only, without scheme, port or path, e.g. %s", v, example)
	case !validHost(v):
		c.add(field, "%q is not a host name; e.g. %s", v, example)
	}
}

func checkPrefix(c *checker, prefix string) {
	if prefix == "" || strings.ContainsAny(prefix, "+#") || strings.HasPrefix(prefix, "/") ||
		strings.HasSuffix(prefix, "/") || strings.Contains(prefix, "//") || strings.HasPrefix(prefix, "$") ||
		!printable(prefix) {
		c.add("cloud.topic_prefix", "%q is not valid: no wildcards (+, #), no leading '$' or '/', no trailing or double '/'", prefix)
	}
}

// maxCommandName is the longest command name (cloudsync/command: ^[a-z][a-z0-9-]{0,31}$).
const maxCommandName = 32

// checkTopicLimits checks the longest topics the gateway will use against the platform's limits.
func checkTopicLimits(c *checker, t Topics, l Limits, name string) {
	long := strings.Repeat("x", maxCommandName)
	for _, topic := range []string{t.Telemetry, t.Events, t.Status, t.CommandFilter, t.cmdPrefix + long, t.Reply(Command{Name: long}, 200)} {
		if topic == "" {
			continue
		}
		if l.MaxTopicLen > 0 && len(topic) > l.MaxTopicLen {
			c.add("cloud.topic_prefix", "topic %q would be %d bytes, over %s's %d; shorten cloud.topic_prefix or gateway.id",
				topic, len(topic), name, l.MaxTopicLen)
			return
		}
		if l.MaxTopicLevels > 0 && strings.Count(topic, "/")+1 > l.MaxTopicLevels {
			c.add("cloud.topic_prefix", "topic %q would have %d levels, over %s's %d ('/' at most %d); use a prefix with fewer levels",
				topic, strings.Count(topic, "/")+1, name, l.MaxTopicLevels, l.MaxTopicLevels-1)
			return
		}
	}
}
