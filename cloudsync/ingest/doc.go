// Package ingest is the city's side of Wayside telemetry, the reference ingest: data flows gateway ->
// broker -> ingest -> PostgreSQL. It consumes the telemetry topic of every gateway through an MQTT
// shared subscription (`$share/<group>/<prefix>/+/telemetry`), so several instances with the same
// group share the load, or, on RabbitMQ, whose MQTT plugin has no shared subscriptions, from one
// durable quorum queue that every instance consumes over AMQP 0-9-1 (amqp.url, amqp.go). It opens each
// batch with cloudsync/cityopen (decrypts a sealed batch with the city's key, verifies the gateway's
// signature and the signed seq and boot id), and writes its readings into PostgreSQL in one
// transaction per batch, keyed on (gateway, boot id, seq), so a redelivered or republished batch, or
// an ingest restart, never doubles a row. The message is acknowledged only after the transaction
// commits (MQTT: QoS 1, a persistent session, manual acknowledgement; AMQP: manual basic.ack): a batch
// is either in the database or still at the broker.
//
// A batch that cannot be accepted (unknown gateway, bad signature, undecodable, sealed to an unknown
// key, a kid registered to another gateway) goes to the quarantine table with the reason, and is
// acknowledged: it would fail the same way on every redelivery. A database error is retried and the
// message stays unacknowledged; nothing crashes the ingest but its context ending.
//
// Each gateway's last status (the retained `<prefix>/<gw>/status`) is kept in a table by one instance
// at a time, the holder of a PostgreSQL advisory lock, so statuses are written in the broker's order.
//
// The link to the broker is plain tcp:// for a broker beside the ingest, or TLS (ssl://, tls://,
// mqtts://) with the files of mqtt.tls, loaded by cloudsync/tlsconf as the gateways' are: verification
// always on, an optional client certificate, reloaded when the files change. A broker that cannot be
// reached or refuses the ingest is retried until it accepts.
//
// The schema and queries for analysts are in docs/ingest.md.
package ingest
