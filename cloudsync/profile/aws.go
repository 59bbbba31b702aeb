package profile

import (
	"strconv"
	"time"
)

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
