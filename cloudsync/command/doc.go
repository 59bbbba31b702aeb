// Package command owns the commands the city cloud sends down to a gateway: the signed request
// envelope and its verification (limits, Ed25519 signature, freshness, replay), the replay cache on
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
// A request is one JSON object (UTF-8, at most 16 KiB) with exactly these members:
//
//	{
//	  "id":        "7c1e...",          request id: 1 to 64 printable ASCII characters, no spaces
//	  "gateway":   "gw-0042",          the target gateway's id (its configuration's gateway.id)
//	  "command":   "set-interval",     ^[a-z][a-z0-9-]{0,31}$, equal to the topic's <name>
//	  "args":      {"sensor": "env1", "interval": "5s"},   a JSON object; omit it for no arguments
//	  "issued_at": 1767225600000,      integer unix milliseconds when the cloud signed it
//	  "nonce":     "q83vEjRWeJCrze8SNFZ4kA",  16 to 64 random bytes, base64url (RFC 4648 §5), padding optional
//	  "key_id":    "city-ops-2026",    which configured key signed it: letters, digits, '-', '_', '.'
//	  "sig":       "..."               the 64-byte Ed25519 signature, base64url, padding optional
//	}
//
// Decoder limits: nesting at most 8 levels (the request object is level 1), at most 256 elements per
// array and members per object, strings and keys at most 1024 bytes, numbers at most 64 characters.
// Duplicate keys at any level, unknown members, a member of the wrong JSON type, "args" that is not
// an object (null included) and data after the object are refused. Member names are matched exactly
// (case-sensitive).
//
// # Signature
//
// The signature is Ed25519 (RFC 8032, pure, no pre-hash) over the concatenation of eight fields,
// each preceded by its length in bytes as a 4-byte big-endian unsigned integer:
//
//	"wayside-cmd-v1" | gateway | command | id | issued_at | nonce | key_id | args
//
// gateway, command, id, nonce and key_id are the string values (nonce as its base64url text, exactly
// as sent); issued_at is the integer in decimal ASCII without sign or leading zeros, as sent; args is
// the raw bytes of the args value exactly as they appear in the message, from its '{' to its '}'
// (empty when there is no args member). No JSON canonicalisation is needed: serialise the args object
// once, sign those bytes, and put the same bytes into the message verbatim (Sign does so, and is the
// reference implementation; SigningInput gives the signed bytes for checking another implementation).
// Example: id "r1" is encoded as 00 00 00 02 72 31.
//
// Reference vector (wire_test.go checks it; the signature was made by OpenSSL 3.0): the private key
// whose 32-byte seed is 00 01 02 ... 1f (public key A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=)
// signs
//
//	{"id":"req-0001","gateway":"gw-0042","command":"set-interval","args":{"sensor":"env1","interval":"5s"},
//	 "issued_at":1767225600000,"nonce":"EBESExQVFhcYGRobHB0eHw","key_id":"city-ops-2026",
//	 "sig":"QWggMmltgiatyNkhd0DPpl95Hx_aI7cFEC3-rkGqA8EF8tH7TDmsZl27j8jN9WonhBvUBCIlRAE3z3GXmyLmCw"}
//
// (one line on the wire) over the 154 bytes 0000000e "wayside-cmd-v1" 00000007 "gw-0042" 0000000c
// "set-interval" 00000008 "req-0001" 0000000d "1767225600000" 00000016 "EBESExQVFhcYGRobHB0eHw"
// 0000000d "city-ops-2026" 00000021 {"sensor":"env1","interval":"5s"}.
//
// The gateway holds the public keys by key id: standard base64 of the 32 raw bytes, or a PEM
// "PUBLIC KEY" file (ParsePublicKey). `wayside cmd-keygen` makes a key pair and `wayside cmd-sign`
// signs a request for a technician.
//
// # Checks
//
// In this order, the first failure answering its code: size (too_large), decoding within the limits
// (too_large past any decoder limit above, nesting depth included; bad_request otherwise: not JSON,
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
// Replay: each accepted (key_id, nonce) is remembered until issued_at + MaxAge, on disk before the
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
