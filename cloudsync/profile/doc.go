// Package profile owns the cloud profiles: for each cloud platform, the exact MQTT connect parameters
// (brokers, client id, user name, password), the topics, and the platform's limits that the link and the
// batcher must respect. It is pure: no MQTT client, no files, no network. Time is passed in, so every
// credential is reproducible in tests. Build validates the configuration and every error names the
// config field and how to fix it; no error or String method ever prints a password, key or token.
//
// # generic (the default)
//
// Any MQTT 3.1.1 broker (mosquitto, EMQX, HiveMQ, the city's own). Client id "wayside-<gateway id>",
// optional user name and password, topics under cloud.topic_prefix (default "wayside/v1"):
//
//	<prefix>/<gw>/telemetry      SenML-CBOR batches, QoS 1
//	<prefix>/<gw>/status         retained JSON status; also the last will ("offline")
//	<prefix>/<gw>/events         health events (JSON)
//	<prefix>/<gw>/cmd/<name>     commands down (the gateway subscribes to <prefix>/<gw>/cmd/+)
//	<prefix>/<gw>/reply/<name>   answers to commands
//
// The cloud team gives the gateway an account whose ACL allows writing telemetry, status, events and
// reply/+ and reading cmd/+ under <prefix>/<gw>/.
//
// # aws-iot (AWS IoT Core)
//
// Same topic scheme as generic. The gateway authenticates with an X.509 client certificate (mTLS) on
// port 8883, or on 443 with the ALPN protocol "x-amzn-mqtt-ca"; there is no user name or password. The
// client id is the thing name (default: the gateway id). Limits checked at Build: a topic has at most 256
// bytes and 7 '/'; a payload at most 128 KiB; QoS 0 and 1; keep-alive 30..1200 s; retained messages and
// the last will are supported.
//
// The cloud team: registers a thing named like the gateway (or sets cloud.aws.thing_name), issues its
// certificate and attaches a policy allowing iot:Connect for client id = thing name (e.g. with
// iot:Connection.Thing.ThingName), iot:Publish and iot:RetainPublish on <prefix>/<gw>/{telemetry,
// status,events,reply/*}, iot:Subscribe on the topic filter <prefix>/<gw>/cmd/+ and iot:Receive on
// <prefix>/<gw>/cmd/*; and gives the account's data endpoint (aws iot describe-endpoint --endpoint-type
// iot:Data-ATS).
// Docs: https://docs.aws.amazon.com/general/latest/gr/iot-core.html (quotas),
// https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html (ports and ALPN).
//
// # azure-iothub (Azure IoT Hub, MQTT 3.1.1 device endpoint)
//
// Client id = device id; user name "{hub}/{device id}/?api-version=2021-04-12"; password a SAS token
// signed with the device's symmetric key (Credentials makes a fresh one at each connect attempt; it
// expires after cloud.azure.token_ttl, and the hub then closes the connection: the link should
// reconnect before, see Params.CredentialsTTL):
//
//	SharedAccessSignature sr={E(hub + "/devices/" + device id)}&sig={E(base64(HMAC-SHA256(key, E(...) + "\n" + se)))}&se={expiry, unix seconds}
//
// where E is percent-encoding of everything but A-Z a-z 0-9 - . _ ~ with upper-case hex (what Microsoft's
// Node and Java samples and `az iot hub generate-sas-token` produce) and key is the base64-decoded
// device key. The hub accepts only TLS (port 8883; 443 only for MQTT over WebSocket). Topics:
//
//	devices/{id}/messages/events/$.ct=application%2Fsenml%2Bcbor&kind=telemetry   telemetry
//	devices/{id}/messages/events/$.ct=application%2Fjson&$.ce=utf-8&kind=event     events
//	devices/{id}/messages/events/$.ct=application%2Fjson&$.ce=utf-8&kind=status    the last will
//	$iothub/twin/PATCH/properties/reported/?$rid={n}                               status (see below)
//	$iothub/methods/POST/#                     commands: direct methods, $iothub/methods/POST/{name}/?$rid={rid}
//	$iothub/methods/res/{status}/?$rid={rid}   answers (status is an integer, HTTP-like)
//	$iothub/twin/res/#                         answers to the status update
//
// IoT Hub does not keep retained messages (it forwards them with an mqtt-retain property), so the
// status goes into the device twin's reported properties under "wayside"; the last will is allowed and
// goes to the telemetry stream with iothub-MessageType=Will. QoS 2 closes the connection; a
// device-to-cloud message is at most 256 KB; a direct method payload 128 KB; reported properties 32 KB;
// keep-alive at most 1177 s. The cloud team: registers the device with symmetric-key authentication and
// gives its primary key, routes messages on the application property kind (and $.ct) and reads the twin's
// reported "wayside" property for presence; invokes commands as direct methods whose name is the command
// name and whose payload is the signed command JSON.
// Docs: https://learn.microsoft.com/azure/iot/iot-mqtt-connect-to-iot-hub,
// https://learn.microsoft.com/azure/iot-hub/authenticate-authorize-sas,
// https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-quotas-throttling.
//
// # aliyun-iot (Alibaba Cloud IoT Platform)
//
// The device certificate (ProductKey, DeviceName, DeviceSecret) signs in:
//
//	client id  {clientId}|securemode={2 TLS | 3 TCP},signmethod={hmacsha256 | hmacsha1}|
//	user name  {DeviceName}&{ProductKey}
//	password   lower-case hex HMAC(DeviceSecret, "clientId{clientId}deviceName{DeviceName}productKey{ProductKey}")
//
// clientId defaults to "{ProductKey}.{DeviceName}" like the console's MQTT connection parameters. There
// is no timestamp: Alibaba documents it as optional (its C SDK signs a fixed 2524608000000), and it would
// sit in the MQTT client id, which stays the same for the life of the link, so a timestamp taken at start
// would carry a wrong boot clock into every reconnect. The sign-in therefore does not depend on the
// gateway's clock; the client id and the password (which does not expire) are the same on every
// connection. The endpoint is {instance id}.mqtt.iothub.aliyuncs.com:1883 for instances
// with an id, or {ProductKey}.iot-as-mqtt.{region}.aliyuncs.com:1883 for legacy public instances; TLS uses
// the same port. Topics are custom topics under /{ProductKey}/{DeviceName}/user/:
//
//	.../user/telemetry   (Publish)      .../user/events  (Publish)      .../user/status (Publish)
//	.../user/cmd/+       (Subscribe)    commands; the name's '-' is written '_' (topic levels allow only letters, digits, '_')
//	.../user/reply       (Publish)      answers, one topic (the answer JSON carries the command and id)
//
// The platform has no retained messages and no last will (MQTT 3.1.1): the status is published, not
// retained, at every connection, and presence comes from the platform's own online/offline tracking.
// QoS 0 and 1; keep-alive 30..1200 s; a message at most 256 KB (Limits.MaxPayload; see its comment).
// The cloud team: creates these five custom topic categories with those permissions in the product,
// registers the device and gives its certificate and the instance id (or region), and subscribes on the
// server side (AMQP or data forwarding) to the four upstream topics and to the device status changes.
// Docs: https://www.alibabacloud.com/help/en/iot/user-guide/establish-mqtt-connections-over-tcp,
// https://www.alibabacloud.com/help/en/iot/user-guide/mqtt-protocol,
// https://www.alibabacloud.com/help/en/iot/user-guide/manage-the-endpoint-of-an-instance.
package profile
