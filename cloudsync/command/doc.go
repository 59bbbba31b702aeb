// Package command owns the commands the city cloud sends down to a gateway: the signed request
// envelope (COSE_Sign1, RFC 9052) and its verification (limits, Ed25519 signature, freshness, replay), the replay cache on
// disk, and the dispatcher that runs a handler and builds the answer. The handlers themselves belong
// to the gateway; this package defines the arguments of the built-in ones (args.go).
//
// # Topics
//
// Requests arrive on <prefix>/<gateway>/cmd/<name> and are answered on <prefix>/<gateway>/reply/<name>;
// on platforms with their own command topics the profile maps them (cloudsync/profile). The <name>
// in the topic must equal the request's "command".
//
// # Request
//
// A request is a tagged COSE_Sign1 message (RFC 9052 section 4.2, CBOR tag 18) of at most 16 KiB,
// signed with EdDSA over Ed25519 (RFC 8032, pure), without external data:
//
//	18([ protected: << {1: -8, 4: h'<key id>', 3: 50} >>,   alg EdDSA, kid, content type application/json
//	     unprotected: {},
//	     payload: h'<request JSON>',
//	     signature: h'<64 bytes>' ])
//
// alg (label 1) must be -8 and protected. kid (label 4) is a byte string holding the key id
// (letters, digits, '-', '_', '.'; at most 64); it should be protected and may be unprotected (the
// signature then still binds the key it chose). Content type (label 3) is optional and, when given,
// 50 or "application/json". No crit (label 2): the gateway understands no critical parameters. The
// payload is attached (not detached). A platform whose command payload must be JSON (Azure IoT Hub
// direct methods) sends the message as a JSON string holding its base64 (standard or URL alphabet).
//
// The payload is one JSON object (UTF-8) with exactly these members:
//
//	{
//	  "id":        "7c1e...",          request id: 1 to 64 printable ASCII characters, no spaces
//	  "gateway":   "gw-0042",          the target gateway's id (its configuration's gateway.id)
//	  "command":   "set-interval",     ^[a-z][a-z0-9-]{0,31}$, equal to the topic's <name>
//	  "args":      {"sensor": "env1", "interval": "5s"},   a JSON object; omit it for no arguments
//	  "issued_at": 1767225600000,      integer unix milliseconds when the cloud signed it
//	  "nonce":     "q83vEjRWeJCrze8SNFZ4kA"   16 to 64 random bytes, base64url (RFC 4648 §5), padding optional
//	}
//
// Decoder limits: nesting at most 8 levels (the request object is level 1), at most 256 elements per
// array and members per object, strings and keys at most 1024 bytes, numbers at most 64 characters.
// Duplicate keys at any level, unknown members, a member of the wrong JSON type, "args" that is not
// an object (null included) and data after the object are refused. Member names are matched exactly
// (case-sensitive). The signed bytes are the payload as sent: no canonicalisation.
//
// Reference vector (wire_test.go checks it; made independently with hand-written CBOR and
// pyca/cryptography): the private key whose 32-byte seed is 00 01 02 ... 1f (public key
// A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=) under kid "city-ops-2026" signs the payload
//
//	{"id":"req-0001","gateway":"gw-0042","command":"set-interval","args":{"sensor":"env1","interval":"5s"},"issued_at":1767225600000,"nonce":"EBESExQVFhcYGRobHB0eHw"}
//
// into 255 bytes, d2 84 55 a3 01 27 03 18 32 04 4d "city-ops-2026" a0 58 a2 <payload> 58 40
// 2b817dc2...a0b19e07 (docs/mqtt.md has them in full). Sign is the reference implementation.
//
// The gateway holds the public keys by key id: standard base64 of the 32 raw bytes, or a PEM
// "PUBLIC KEY" file (ParsePublicKey). `wayside cmd-keygen` makes a key pair and `wayside cmd-sign`
// signs a request for a technician.
//
// # Checks
//
// In this order, the first failure answering its code: size (too_large), the COSE_Sign1 envelope
// and its headers as above (bad_request), the payload's decoding within the limits (too_large past any decoder limit above, nesting depth included; bad_request otherwise: not JSON,
// duplicate or unknown members, wrong types), field syntax (bad_request), gateway (wrong_gateway),
// the topic's name against "command" (bad_request), key id known and signature valid
// (unauthorized), freshness (stale), nonce not seen (replayed; busy when the replay cache holds 4096
// unexpired nonces). Then an unregistered command answers unknown_command, invalid args bad_request,
// and a failing handler failed.
//
// Freshness: issued_at at most 5 minutes (MaxAge) before the gateway's clock and at most 30 seconds
// (MaxSkew) after it. While the gateway's clock is not trusted (no NTP sync yet and no RTC), freshness
// cannot be judged: only ping and get-status are accepted then (still signed, nonce still
// remembered), so the cloud can reach a gateway whose clock is wrong; other commands answer stale.
//
// Replay: each accepted (kid, nonce) is remembered until issued_at + MaxAge, on disk before the
// command runs (ReplayCache), so a replay is refused also after a restart: draw every nonce from a
// cryptographic random source. If the gateway finds its nonce file damaged at start, it refuses (as
// replayed) every command issued before its start + MaxSkew, for MaxAge: re-issue such commands.
//
// # Response
//
// One JSON object on the reply topic:
//
//	{"id": "7c1e...", "command": "set-interval", "ok": true, "result": {...}, "gateway": "gw-0042", "at": 1767225600123}
//	{"id": "7c1e...", "command": "set-interval", "ok": false,
//	 "error": {"code": "stale", "message": "issued 6m2s ago, ..."}, "gateway": "gw-0042", "at": 1767225600123}
//
// "id" is "" when the request's id could not be read, "command" is "" when the topic's name is not a
// valid command name, "result" is an object or absent, "error" is present exactly when "ok" is false;
// its code is one of bad_request, too_large, wrong_gateway, unauthorized, stale, replayed, busy,
// unknown_command, failed, and its message is for people. "at" is the gateway's clock in unix
// milliseconds. Where the platform carries a status with the answer (Azure IoT Hub direct methods),
// it is 200 for ok, else 400 (bad_request, wrong_gateway), 401 (unauthorized, stale), 404
// (unknown_command), 409 (replayed), 413 (too_large), 429 (busy) or 500 (failed).
//
// Refusals (every failed check above up to the nonce's) are rate-limited, by default a burst of 10
// and then one every 2 seconds: beyond that they get no answer, so garbage or replays on the command
// topic cannot make the gateway flood the broker. Answers to accepted requests are never held back.
package command
