// Package command owns the commands the city cloud sends down to a gateway: the signed request
// envelope (COSE_Sign1, RFC 9052) and its verification (limits, Ed25519 signature, freshness, replay),
// the replay cache on disk, and the dispatcher that runs a handler and builds the answer. The handlers
// themselves belong to the gateway; this package defines the arguments of the built-in ones (args.go).
// Sign is the reference implementation of a request's signature.
//
// The protocol (topics, the request and its decoder limits, the checks in order, freshness and replay,
// the response and its error codes, the test vector) is specified in docs/mqtt.md, "Commands";
// wire_test.go checks the test vector and docs_test.go the documented codes and error messages.
package command
