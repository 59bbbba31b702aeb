// Package tlsconf owns the TLS side of the MQTT link to the city cloud: it builds the *tls.Config from
// the files named in cloud.tls (CA, client certificate and key, server name) and notices when those
// files change, so a renewed certificate is used on the next connection attempt without a restart. It
// also says which broker URLs must use TLS: every broker that is not on this machine. The city's
// reference ingest (cloudsync/ingest) uses the same loader for its own link, with its errors naming
// mqtt.tls instead of cloud.tls (Files.FieldPrefix).
//
// Server verification is always on. With no CA file the system's roots verify the broker; TLS 1.2 is
// the oldest version offered. There is deliberately no "insecure" switch: a test or lab broker gets a
// CA file (see internal/testkit/testpki), which is as easy and keeps verification honest.
//
// # Use with paho
//
// paho.mqtt.golang v1.5.1 calls the connection attempt handler before every dial (first connection and
// each reconnect) and dials ssl://, tls://, mqtts://, mqtt+ssl:// and tcps:// brokers with the config
// it returns. The handler should return Loader.ForBroker(broker): the current config with ServerName set
// to the broker's host. paho passes its own TLSConfig (nil unless set) without copying it and does not
// set ServerName itself; crypto/tls infers it when paho dials directly, but not when paho goes through
// an all_proxy proxy, so ForBroker always sets it.
//
// # Reload
//
// Every Config call reads the three files (a few KiB, once per connection attempt) and rebuilds the
// config when their contents differ from the last load. Contents are compared rather than mtimes
// because FAT partitions, where some boards keep their configuration, store mtimes to 2 s, and a
// renewal tool may write a file twice within that. A change that does not load (a key that no longer
// matches the certificate because only one of the two was replaced yet, a truncated file) keeps the
// previous config and is logged once per distinct content; the next attempt tries again.
package tlsconf
