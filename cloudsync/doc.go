// Package cloudsync owns the link to the city cloud: an MQTT session (paho.mqtt.golang) that publishes
// telemetry packs at QoS 1 on <prefix>/<gateway>/telemetry, keeps a retained status message on
// <prefix>/<gateway>/status with a last will that marks the gateway offline, and tracks every batch
// until the broker acknowledges it. Payload encoding lives in cloudsync/senml, signing and sealing in
// cloudsync/cosebatch, the city's reference opener in cloudsync/cityopen and commands in
// cloudsync/command.
package cloudsync
