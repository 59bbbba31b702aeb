// Package profile owns the cloud profiles: for each cloud platform (generic, aws-iot, azure-iothub,
// aliyun-iot), the exact MQTT connect parameters (brokers, client id, user name, password), the topic
// layout (Topics), and the platform's limits that the link and the batcher must respect. It is pure: no
// MQTT client, no files, no network. Time is passed in, so every credential is reproducible in tests.
// Build validates the configuration and every error names the config field and how to fix it; no error
// or String method ever prints a password, key or token.
//
// What each profile puts on the wire, how it signs in, its limits and what the cloud team sets up for
// it are specified in docs/mqtt.md, "Cloud profiles".
package profile
