// Package fleet owns the city-scale simulator behind `make fleet` and `make bench-fleet`: N virtual
// gateways, each the real pipeline (gateway.New and Run: the sim board's cabinet sensors through their
// real drivers, its own ring, SenML encoder and COSE signer, its own spool directory, an MQTT link with
// its own client id, retained status, last will and signed commands), against one mosquitto on a free
// loopback port, or against a broker given by URL (one an ingest also subscribes to).
//
// The gateways run in this process when they fit its open-file limit, else (or with Options.Procs) in
// member processes: this executable started again, each holding a range of gateway ids and answering
// the parent over its stdin and stdout (proc.go has the protocol; a program's main calls IsMember and
// ServeMember first). The parent keeps the broker, the checker, the storm, the commands and the report;
// the figures are sums over the processes.
//
// A run starts the broker (persistent, so a graceful restart keeps the checker's queue), opens the
// gateways a few at a time (an SCD4x takes 500 ms to open), starts the checker (clients of its own
// on a shared subscription, at QoS 1, that verify every batch with plain CBOR and Ed25519, not our
// decoder, and a control client for statuses and commands), optionally the reference ingest into a
// PostgreSQL of its own (ingest.go), runs for a fixed time while sampling the processes' and the
// broker's CPU and memory, optionally restarts the broker on the same port (the reconnect storm:
// connection attempts per second, each in the second its link began it, and from the broker's log),
// sends signed ping commands, stops the gateways and checks that every (gateway, seq) spooled arrived
// or is still spooled, and with the ingest that the database holds what the checker received. Every
// wait is bounded.
package fleet
