package profile

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"time"
)

// AzureAPIVersion is the api-version in the MQTT user name, as Microsoft's MQTT guide gives it.
const AzureAPIVersion = "2021-04-12"

// DefaultTokenTTL is how long an azure-iothub SAS token is valid when cloud.azure.token_ttl is not set:
// an hour, like Microsoft's device SDKs.
const DefaultTokenTTL = time.Hour

const (
	azureMethodPost = "$iothub/methods/POST/"
	azureMethodRes  = "$iothub/methods/res/"
	azureTwinPatch  = "$iothub/twin/PATCH/properties/reported/?$rid="
	azureTwinRes    = "$iothub/twin/res/"
)

// Limits of IoT Hub's MQTT device endpoint
// (https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-quotas-throttling and
// https://learn.microsoft.com/azure/iot/iot-mqtt-connect-to-iot-hub).
var azureLimits = Limits{
	MaxPayload:     256 << 10, // "Device-to-cloud messaging: Maximum message size 256 KB"
	MaxClientIDLen: 128,       // the device id
	KeepAliveMax:   1177 * time.Second,
	MaxQoS:         1,     // "If a device app publishes a message with QoS 2, IoT Hub closes the network connection"
	Retain:         false, // "IoT Hub doesn't persist Retain messages"
	Will:           true,  // forwarded to the telemetry channel with iothub-MessageType=Will
}

func buildAzure(c *checker, in Input) Params {
	az := in.Azure
	checkHost(c, "cloud.azure.hub_host", az.HubHost, "myhub.azure-devices.net")
	device := az.DeviceID
	deviceField := "cloud.azure.device_id"
	if device == "" {
		device, deviceField = in.GatewayID, "gateway.id"
	}
	if !validAzureDeviceID(device) {
		c.add(deviceField, "%q is not an IoT Hub device id (1-128 ASCII letters, digits and - . %% _ * ? ! ( ) , : = @ $ '); set cloud.azure.device_id to the device's id in the hub", device)
	}
	if in.ClientID != "" && in.ClientID != device {
		c.add("cloud.client_id", "azure-iothub connects with the device id %q as client id; remove cloud.client_id", device)
	}
	var key []byte
	if az.SharedAccessKey == "" {
		c.add("cloud.azure.shared_access_key", "missing; copy the device's primary key (base64) from the hub's device page or `az iot hub device-identity show`")
	} else if k, err := base64.StdEncoding.DecodeString(az.SharedAccessKey); err != nil {
		c.add("cloud.azure.shared_access_key", "not base64: %v; copy the device's primary key exactly as the hub shows it (44 characters ending in '=')", err)
	} else if len(k) < 16 {
		c.add("cloud.azure.shared_access_key", "decodes to %d bytes, too short for a device key (the hub issues 32); copy the device's primary key", len(k))
	} else {
		key = k
	}
	ttl := az.TokenTTL
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < 5*time.Minute || ttl > 365*24*time.Hour {
		c.add("cloud.azure.token_ttl", "%v is out of range; use 5m..8760h (each token lasts this long; the hub then closes the connection)", ttl)
	}
	brokers := append([]string(nil), in.Brokers...)
	if len(brokers) == 0 {
		brokers = []string{"ssl://" + az.HubHost + ":8883"}
	} else {
		checkBrokers(c, brokers, AzureIoTHub, true, false)
	}
	user := az.HubHost + "/" + device + "/?api-version=" + AzureAPIVersion
	resource := az.HubHost + "/devices/" + device
	events := "devices/" + device + "/messages/events/"
	return Params{
		Brokers:  brokers,
		ClientID: device,
		Credentials: func(now time.Time) (string, string) {
			return user, azureSAS(resource, key, now.Add(ttl).Unix())
		},
		CredentialsTTL: ttl,
		RequireTLS:     true,
		Topics: Topics{
			Telemetry:      events + "$.ct=" + url.QueryEscape("application/senml+cbor") + "&kind=telemetry",
			Events:         events + "$.ct=" + url.QueryEscape("application/json") + "&$.ce=utf-8&kind=event",
			StatusDelivery: StatusTwin,
			StatusKey:      "wayside",
			Will:           events + "$.ct=" + url.QueryEscape("application/json") + "&$.ce=utf-8&kind=status",
			CommandFilter:  azureMethodPost + "#",
			ResponseFilter: azureTwinRes + "#",
			scheme:         schemeAzure,
		},
		Limits: azureLimits,
	}
}

// azureSAS returns the device SAS token for resource (host/devices/id) valid until expiry (unix
// seconds): "SharedAccessSignature sr={E(resource)}&sig={E(sign)}&se={expiry}" where the signature is
// over E(resource) + "\n" + expiry, exactly as sr appears in the token.
func azureSAS(resource string, key []byte, expiry int64) string {
	sr := url.QueryEscape(resource)
	se := strconv.FormatInt(expiry, 10)
	return "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(azureSign(key, sr+"\n"+se)) + "&se=" + se
}

// azureSign is base64(HMAC-SHA256(key, stringToSign)).
func azureSign(key []byte, stringToSign string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
