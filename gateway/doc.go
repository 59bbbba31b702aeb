// Package gateway wires Wayside's pipeline: it opens the board and its sensors, samples each sensor at
// its interval into the ring (drivers -> buffer), batches and encodes the readings as SenML-CBOR and
// hands them to the cloud link (buffer -> cloudsync), tracks sensor health, and stops in order so that
// every reading taken is published before exit.
//
// New (new.go) opens and prepares every part; Run (run.go) starts one goroutine per loop: a sampler
// per sensor (sample.go), the batcher (batch.go) and the sender (send.go). The gateway owns its state:
// Stats (stats.go) is the one snapshot the local API shows (sensor health, the last batch, the
// sequence numbers, the clock's trust), and the retained MQTT status's detail is read from the same
// state. Changes a technician or the cloud asks for (SetInterval, Flush, SetLogLevel) go through the
// gateway too.
package gateway
