package config

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/cloudsync/command"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/cloudsync/tlsconf"
	"github.com/wayside-iot/wayside/internal/ident"
)

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
	// brings them back at about 1/S of the fleet per second (default 40s: 2.5%, so that the busiest
	// second of a fleet of a few hundred or more stays under 5%).
	Spread Duration `yaml:"spread"`
}

// maxBytesPerReading bounds what one reading can take in a SenML pack: a record that starts a channel
// group (base name up to 64+64+32 bytes, base unit, value, time, flags).
const maxBytesPerReading = 200

// validateCloud checks the cloud section: the brokers, topics and keep-alive, then what the platform
// profile makes of it (validateProfile), the keys and credentials (validateCloudAuth) and the link's
// pacing (validateLink).
func (c *Config) validateCloud(v *problems) {
	c.validateBrokers(v)
	if c.Generic() && !ident.Valid(c.Cloud.ClientID) {
		v.add("cloud.client_id", "%q is not valid: use 1-64 letters, digits, '-', '_' or '.'", c.Cloud.ClientID)
	}
	if strings.ContainsAny(c.Cloud.TopicPrefix, "+#") || strings.HasPrefix(c.Cloud.TopicPrefix, "/") || strings.HasSuffix(c.Cloud.TopicPrefix, "/") {
		v.add("cloud.topic_prefix", "%q is not valid: no wildcards (+, #) and no leading or trailing '/'", c.Cloud.TopicPrefix)
	}
	if c.Cloud.KeepAlive.D() < time.Second {
		v.add("cloud.keepalive", "%v is too short; use at least 1s (30s is typical)", c.Cloud.KeepAlive.D())
	}
	c.validateProfile(v)
	c.validateCloudAuth(v)
	c.validateLink(v)
}

// validateBrokers checks cloud.brokers: present for the generic profile, each a URL with a supported
// scheme, a host and a port, and plaintext only where allowed.
func (c *Config) validateBrokers(v *problems) {
	if len(c.Cloud.Brokers) == 0 && c.Generic() {
		v.add("cloud.brokers", "missing; list at least one broker URL such as tcp://127.0.0.1:1883 or ssl://mqtt.city.example:8883")
	}
	for i, b := range c.Cloud.Brokers {
		p := fmt.Sprintf("cloud.brokers[%d]", i)
		u, err := url.Parse(b)
		if err != nil || u.Host == "" {
			v.add(p, "%q is not a broker URL; use scheme://host:port, e.g. tcp://127.0.0.1:1883", b)
			continue
		}
		switch u.Scheme {
		case "tcp", "mqtt", "ssl", "tls", "mqtts":
		default:
			v.add(p, "scheme %q is not supported; use tcp, mqtt, ssl, tls or mqtts", u.Scheme)
		}
		if u.Hostname() == "" {
			v.add(p, "%q has no host; use scheme://host:port, e.g. ssl://mqtt.city.example:8883", b)
			continue
		}
		if u.Port() == "" {
			v.add(p, "%q has no port; add one, e.g. :1883 for tcp or :8883 for ssl", b)
		} else if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			v.add(p, "port %s in %q is not valid; use a port 1..65535 as in scheme://host:port, e.g. :1883 for tcp or :8883 for ssl", u.Port(), b)
		}
		if err := tlsconf.CheckBroker(b, c.Cloud.AllowPlaintext); err != nil {
			v.add(p, "%v", err)
		}
	}
}

// validateProfile builds the platform profile and reports what it refuses, except on fields already
// reported, and a batch that can exceed the platform's message limit.
func (c *Config) validateProfile(v *problems) {
	reported := map[string]bool{}
	for _, e := range v.errs {
		reported[e.Path] = true
	}
	if p, err := profile.Build(c.ProfileInput(time.Time{})); err != nil {
		var pes profile.Errors
		if !errors.As(err, &pes) {
			v.add("cloud", "%v", err)
		}
		for _, pe := range pes {
			field := strings.NewReplacer("cloud.tls.cert_file", "cloud.tls.cert", "cloud.tls.key_file", "cloud.tls.key").Replace(pe.Field)
			if !reported[field] {
				v.add(field, "%s", pe.Msg)
			}
		}
	} else if lim := p.Limits.MaxPayload; lim > 0 && c.Batch.MaxReadings*maxBytesPerReading > lim {
		v.add("batch.max_readings", "%d readings can exceed the %s profile's %d byte message limit; use at most %d",
			c.Batch.MaxReadings, c.Cloud.Profile, lim, lim/maxBytesPerReading)
	}
}

// validateCloudAuth checks the command keys and ages, the seal, the TLS files and the MQTT password.
func (c *Config) validateCloudAuth(v *problems) {
	if _, err := c.Cloud.Commands.PublicKeys(); err != nil {
		v.add("cloud.commands.keys", "%v", err)
	}
	if _, err := c.Cloud.Seal.Sealer(); err != nil {
		var e *Error
		if errors.As(err, &e) {
			v.errs = append(v.errs, e)
		} else {
			v.add("cloud.seal", "%v", err)
		}
	}
	if cm := c.Cloud.Commands; cm.MaxAge.D() < 10*time.Second || cm.MaxAge.D() > 24*time.Hour || cm.MaxSkew.D() <= 0 || cm.MaxSkew.D() > time.Hour {
		v.add("cloud.commands", "max_age %v, max_skew %v: use max_age 10s..24h (default 5m) and max_skew above 0 up to 1h (default 30s)", cm.MaxAge.D(), cm.MaxSkew.D())
	}
	if t := c.Cloud.TLS; t != (TLS{}) {
		if _, err := tlsconf.New(tlsconf.Files{CA: t.CA, Cert: t.Cert, Key: t.Key, ServerName: t.ServerName}, nil); err != nil {
			v.add("cloud.tls", "%v", err)
		}
	}
	switch {
	case c.Cloud.PasswordFile != "" && c.Cloud.Username == "":
		v.add("cloud.username", "missing; cloud.password_file is set, so name the MQTT user too")
	case c.Cloud.PasswordFile != "":
		if b, err := os.ReadFile(c.Cloud.PasswordFile); err != nil {
			v.add("cloud.password_file", "cannot be read: %v", err)
		} else if len(bytes.TrimSpace(b)) == 0 {
			v.add("cloud.password_file", "%s is empty; write the MQTT password into it", c.Cloud.PasswordFile)
		}
	}
}

// validateLink checks the reconnect backoff, the status interval, the in-flight bound and the
// development broker.
func (c *Config) validateLink(v *problems) {
	if r := c.Cloud.Reconnect; r.Min.D() < 10*time.Millisecond || r.Max.D() < r.Min.D() {
		v.add("cloud.reconnect", "min %v, max %v: use min >= 10ms and max >= min (defaults 1s and 2m)", r.Min.D(), r.Max.D())
	} else if r.Spread.D() < r.Min.D() || r.Spread.D() > r.Max.D() {
		v.add("cloud.reconnect", "spread %v: use min <= spread <= max (here %v..%v; default 40s)", r.Spread.D(), r.Min.D(), r.Max.D())
	}
	if c.Cloud.StatusInterval.D() < time.Second {
		v.add("cloud.status_interval", "%v is too short; use at least 1s (default 1m)", c.Cloud.StatusInterval.D())
	}
	if c.Cloud.MaxInflight < 1 || c.Cloud.MaxInflight > 65535 {
		v.add("cloud.max_inflight", "%d is not valid; use 1..65535", c.Cloud.MaxInflight)
	}
	if c.Cloud.DevBroker {
		if c.Gateway.Board != "sim" {
			v.add("cloud.dev_broker", "only allowed with board sim; a production gateway must sync to the city's broker")
		}
		if len(c.Cloud.Brokers) > 0 {
			if u, err := url.Parse(c.Cloud.Brokers[0]); err == nil {
				if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
					v.add("cloud.dev_broker", "needs cloud.brokers[0] on a loopback address such as tcp://127.0.0.1:18830, got %q", c.Cloud.Brokers[0])
				}
			}
		}
	}
}
