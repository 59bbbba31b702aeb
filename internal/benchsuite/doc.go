// Package benchsuite owns what `make bench` computes and prints, apart from running processes (package
// e2e does that): the typical cabinet the wire figures are computed from (configs/sim.yaml's sensors
// but one, 20 channels, each sampled once a second, values from the sim board's model through the
// real drivers), the JSON encodings the SenML-CBOR pack is compared with (SenML-JSON of the same pack
// and a naive JSON array of name/unit/value/time objects), the MQTT, TLS and TCP/IP framing added to
// each batch on the wire and the assumptions behind it, the parser of `go test -bench` output, the
// description of the machine, and the markdown table that is printed and written into BENCHMARKS.md.
//
// Nothing here asserts a time: results are printed next to their targets.
package benchsuite
