package profile

import (
	"net/url"
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
