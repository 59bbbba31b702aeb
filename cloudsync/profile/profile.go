package profile

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Profile names, the values of cloud.profile.
const (
	Generic     = "generic"
	AWSIoT      = "aws-iot"
	AzureIoTHub = "azure-iothub"
	AliyunIoT   = "aliyun-iot"
)

// Names returns the profile names.
func Names() []string { return []string{Generic, AWSIoT, AzureIoTHub, AliyunIoT} }

// DefaultTopicPrefix is the topic prefix of the generic and aws-iot profiles when none is configured.
const DefaultTopicPrefix = "wayside/v1"

// Input is what the gateway configuration gives a profile. Build applies the defaults: leave a field
// empty to get its default.
type Input struct {
	// Profile is generic (when empty), aws-iot, azure-iothub or aliyun-iot.
	Profile string
	// GatewayID is gateway.id.
	GatewayID string
	// TopicPrefix is cloud.topic_prefix (generic and aws-iot only); default DefaultTopicPrefix.
	TopicPrefix string
	// Brokers is cloud.brokers. The platform profiles derive it from their endpoint when it is empty.
	Brokers []string
	// ClientID is cloud.client_id (generic only; default "wayside-<gateway id>"). The platform profiles
	// fix the client id; a different value here is an error.
	ClientID string
	// Username and Password are cloud.username and cloud.password (generic only).
	Username, Password string
	// KeepAlive is cloud.keepalive; when not zero it is checked against the platform's range.
	KeepAlive time.Duration
	// TLS names the certificate files of cloud.tls; only their presence is checked (aws-iot needs a
	// client certificate). Nothing is read.
	TLS TLSFiles
	// Now is when Build runs (the daemon passes time.Now()). No profile uses it any more: aliyun-iot
	// signed in with it as its timestamp for the life of the process, so a clock that was wrong at boot
	// stayed in every sign-in; it now signs in without a timestamp (#20). Kept so callers compile.
	Now time.Time

	AWS    AWS
	Azure  Azure
	Aliyun Aliyun
}

// TLSFiles are the paths of cloud.tls.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// AWS is cloud.aws.
type AWS struct {
	// Endpoint is the account's data endpoint host, e.g. abc123-ats.iot.eu-west-1.amazonaws.com.
	Endpoint string
	// Port is 8883 (default) or 443 (MQTT with ALPN x-amzn-mqtt-ca, for networks that only open 443).
	Port int
	// ThingName is the thing's name and the MQTT client id; default the gateway id.
	ThingName string
}

// Azure is cloud.azure.
type Azure struct {
	// HubHost is the hub's host name, e.g. myhub.azure-devices.net.
	HubHost string
	// DeviceID is the device identity in the hub; default the gateway id.
	DeviceID string
	// SharedAccessKey is the device's symmetric key (base64, as the portal shows it).
	SharedAccessKey string
	// TokenTTL is how long each SAS token is valid; default DefaultTokenTTL.
	TokenTTL time.Duration
}

// Aliyun is cloud.aliyun.
type Aliyun struct {
	// ProductKey, DeviceName and DeviceSecret are the device certificate from the console.
	ProductKey, DeviceName, DeviceSecret string
	// InstanceID (e.g. iot-06z00ab12cd34ef) or Region (e.g. cn-shanghai, legacy public instances)
	// gives the endpoint when Brokers is empty; set one of them.
	InstanceID, Region string
	// SecureMode is tls (default, securemode=2) or tcp (securemode=3; refused for devices created
	// since August 2022).
	SecureMode string
	// SignMethod is hmacsha256 (default) or hmacsha1.
	SignMethod string
	// ClientID is the device-chosen part of the MQTT client id; default "<ProductKey>.<DeviceName>".
	ClientID string
}

// Params is what the MQTT link needs to connect and talk to the platform.
type Params struct {
	// Profile is the profile's name.
	Profile string
	// Brokers are tried in order: the configured ones, or derived from the platform endpoint.
	Brokers []string
	// ClientID is the MQTT client identifier, stable for the process.
	ClientID string
	// Credentials returns the user name and password for a connect attempt at now; call it on every
	// attempt (paho: SetCredentialsProvider), since SAS tokens expire. Empty strings mean none. Never nil.
	Credentials func(now time.Time) (username, password string)
	// CredentialsTTL, when not zero, is how long credentials made at t stay valid: the platform drops
	// the connection at t+CredentialsTTL, so the link should reconnect cleanly before (azure-iothub).
	CredentialsTTL time.Duration
	// RequireTLS says every broker must be a TLS one (Build checked the configured ones).
	RequireTLS bool
	// RequireClientCert says the platform authenticates the gateway by its certificate (cloud.tls.cert_file).
	RequireClientCert bool
	// ALPN are the TLS NextProtos for brokers on port 443 (aws-iot: x-amzn-mqtt-ca); see NextProtos.
	ALPN []string
	// Topics are the gateway's topics on this platform.
	Topics Topics
	// Limits are the platform's limits.
	Limits Limits
}

// NextProtos returns the ALPN protocols to offer when dialing broker: ALPN for port 443, else none.
// The link sets them in its connection attempt handler.
func (p Params) NextProtos(broker *url.URL) []string {
	if len(p.ALPN) == 0 || broker == nil || broker.Port() != "443" {
		return nil
	}
	return append([]string(nil), p.ALPN...)
}

// Limits are a platform's limits; a zero number means the platform sets none the profile knows of.
type Limits struct {
	// MaxPayload is the largest PUBLISH payload in bytes: a telemetry batch must fit.
	MaxPayload int
	// MaxTopicLen is the longest topic in bytes; MaxTopicLevels the most levels ('/' + 1).
	MaxTopicLen, MaxTopicLevels int
	// MaxClientIDLen is the longest client id (for aliyun-iot: its clientId part) in bytes.
	MaxClientIDLen int
	// KeepAliveMin and KeepAliveMax bound the MQTT keep-alive the platform accepts.
	KeepAliveMin, KeepAliveMax time.Duration
	// MaxQoS is the highest QoS the platform accepts on publish.
	MaxQoS byte
	// Retain says retained messages are kept; Will says a last will is accepted.
	Retain, Will bool
}

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

// Build validates in and returns the connect parameters of its profile. The error, when not nil, is
// Errors: every problem found, each naming its field.
func Build(in Input) (Params, error) {
	c := &checker{}
	name := in.Profile
	if name == "" {
		name = Generic
	}
	if strings.TrimSpace(in.GatewayID) == "" {
		c.add("gateway.id", "missing; every profile needs the gateway id")
	} else if strings.ContainsAny(in.GatewayID, "/+#") || !printable(in.GatewayID) {
		c.add("gateway.id", "%q cannot be used in MQTT topics: no '/', '+', '#' or control characters", in.GatewayID)
	}
	c.otherSections(name, in)
	var p Params
	switch name {
	case Generic:
		p = buildGeneric(c, in)
	case AWSIoT:
		p = buildAWS(c, in)
	case AzureIoTHub:
		p = buildAzure(c, in)
	case AliyunIoT:
		p = buildAliyun(c, in)
	default:
		c.add("cloud.profile", "%q is not a profile; use %s", in.Profile, strings.Join(Names(), ", "))
		return Params{}, c.err()
	}
	p.Profile = name
	if in.KeepAlive != 0 {
		checkKeepAlive(c, name, in.KeepAlive, p.Limits)
	}
	if err := c.err(); err != nil {
		return Params{}, err
	}
	return p, nil
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

// staticCredentials returns fixed credentials.
func staticCredentials(user, pass string) func(time.Time) (string, string) {
	return func(time.Time) (string, string) { return user, pass }
}

// PrefixTopics are the generic profile's topics of gateway gw under prefix (aws-iot uses them too).
func PrefixTopics(prefix, gw string) Topics { return prefixTopics(prefix, gw) }

// prefixTopics are the generic scheme's topics, shared by generic and aws-iot.
func prefixTopics(prefix, gw string) Topics {
	base := prefix + "/" + gw + "/"
	return Topics{
		Telemetry:      base + "telemetry",
		Events:         base + "events",
		Status:         base + "status",
		StatusDelivery: StatusRetained,
		Will:           base + "status",
		WillRetained:   true,
		CommandFilter:  base + "cmd/+",
		scheme:         schemePrefix,
		cmdPrefix:      base + "cmd/",
		replyPrefix:    base + "reply/",
	}
}

func checkPrefix(c *checker, prefix string) {
	if prefix == "" || strings.ContainsAny(prefix, "+#") || strings.HasPrefix(prefix, "/") ||
		strings.HasSuffix(prefix, "/") || strings.Contains(prefix, "//") || strings.HasPrefix(prefix, "$") ||
		!printable(prefix) {
		c.add("cloud.topic_prefix", "%q is not valid: no wildcards (+, #), no leading '$' or '/', no trailing or double '/'", prefix)
	}
}

func buildGeneric(c *checker, in Input) Params {
	prefix := in.TopicPrefix
	if prefix == "" {
		prefix = DefaultTopicPrefix
	}
	checkPrefix(c, prefix)
	if len(in.Brokers) == 0 {
		c.add("cloud.brokers", "missing; list at least one broker URL such as ssl://mqtt.city.example:8883")
	}
	checkBrokers(c, in.Brokers, Generic, false, false)
	id := in.ClientID
	if id == "" {
		id = "wayside-" + in.GatewayID
	}
	if !printable(id) || len(id) > 65535 {
		c.add("cloud.client_id", "%q is not valid: use printable characters (1-64 letters, digits, '-', '_', '.' are safe everywhere)", id)
	}
	if in.Password != "" && in.Username == "" {
		c.add("cloud.password", "set without cloud.username; MQTT sends a password only with a user name: set cloud.username")
	}
	return Params{
		Brokers:     append([]string(nil), in.Brokers...),
		ClientID:    id,
		Credentials: staticCredentials(in.Username, in.Password),
		Topics:      prefixTopics(prefix, in.GatewayID),
		Limits:      Limits{MaxQoS: 2, Retain: true, Will: true},
	}
}

// Limits of AWS IoT Core's message broker:
// https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits
var awsLimits = Limits{
	MaxPayload:     128 << 10, // "Message size: 128 KB"; 131073 bytes is refused
	MaxTopicLen:    256,       // "Topic size: 256 bytes (UTF-8)"
	MaxTopicLevels: 8,         // "Maximum number of slashes in topic and topic filter: 7"
	MaxClientIDLen: 128,       // "Client ID size: 128 bytes"
	KeepAliveMin:   30 * time.Second,
	KeepAliveMax:   1200 * time.Second, // "Keep-alive: 30-1200 seconds"
	MaxQoS:         1,
	Retain:         true,
	Will:           true,
}

func buildAWS(c *checker, in Input) Params {
	prefix := in.TopicPrefix
	if prefix == "" {
		prefix = DefaultTopicPrefix
	}
	checkPrefix(c, prefix)
	thing := in.AWS.ThingName
	if thing == "" {
		thing = in.GatewayID
	}
	thingField := "cloud.aws.thing_name"
	if in.AWS.ThingName == "" {
		thingField = "gateway.id"
	}
	if !validThingName(thing) {
		c.add(thingField, "%q is not a valid AWS IoT thing name (1-128 letters, digits, ':', '_', '-'); set cloud.aws.thing_name to the thing's name", thing)
	}
	if in.ClientID != "" && in.ClientID != thing {
		c.add("cloud.client_id", "aws-iot connects with the thing name %q as client id (policies match iot:Connection.Thing.ThingName); remove cloud.client_id or set cloud.aws.thing_name", thing)
	}
	port := in.AWS.Port
	if port == 0 {
		port = 8883
	}
	if port != 8883 && port != 443 {
		c.add("cloud.aws.port", "%d is not an AWS IoT MQTT port for certificates; use 8883, or 443 (ALPN x-amzn-mqtt-ca)", port)
	}
	brokers := append([]string(nil), in.Brokers...)
	switch {
	case len(brokers) > 0 && in.AWS.Endpoint != "":
		c.add("cloud.aws.endpoint", "set together with cloud.brokers; keep one: the endpoint (the brokers are derived from it) or the brokers")
	case len(brokers) == 0:
		checkHost(c, "cloud.aws.endpoint", in.AWS.Endpoint,
			"abc123example-ats.iot.eu-west-1.amazonaws.com (aws iot describe-endpoint --endpoint-type iot:Data-ATS)")
		brokers = []string{"ssl://" + in.AWS.Endpoint + ":" + strconv.Itoa(port)}
	default:
		checkBrokers(c, brokers, AWSIoT, true, true)
	}
	if in.TLS.CertFile == "" {
		c.add("cloud.tls.cert_file", "missing; aws-iot authenticates the gateway by its X.509 certificate: set cert_file and key_file to the thing's certificate and private key")
	}
	if in.TLS.KeyFile == "" {
		c.add("cloud.tls.key_file", "missing; set it to the private key of the thing's certificate (cloud.tls.cert_file)")
	}
	t := prefixTopics(prefix, in.GatewayID)
	checkTopicLimits(c, t, awsLimits, AWSIoT)
	return Params{
		Brokers:           brokers,
		ClientID:          thing,
		Credentials:       staticCredentials("", ""),
		RequireTLS:        true,
		RequireClientCert: true,
		ALPN:              []string{"x-amzn-mqtt-ca"},
		Topics:            t,
		Limits:            awsLimits,
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
