// Package gateway wires Wayside's pipeline: it opens the board and its sensors, samples each sensor at
// its interval into the ring (drivers -> buffer), batches and encodes the readings as SenML-CBOR and
// hands them to the cloud link (buffer -> cloudsync), tracks sensor health, and stops in order so that
// every reading taken is published before exit.
package gateway
