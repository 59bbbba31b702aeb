// Package cloudsync owns the link to the city cloud: an MQTT session (paho.mqtt.golang) that publishes
// telemetry batches at QoS 1 and tracks each until the broker acknowledges it, keeps the gateway's
// status on the broker (a retained message with a last will that marks the gateway offline, or the
// platform's equivalent), publishes health events and hands command requests to the gateway. It
// reconnects on its own, with jitter, and detects a session takeover. The topics and the platform's
// rules come from cloudsync/profile; the contract with the cloud is docs/mqtt.md. Payload encoding
// lives in cloudsync/senml, signing and sealing in cloudsync/cosebatch, the city's reference opener in
// cloudsync/cityopen and commands in cloudsync/command.
package cloudsync
