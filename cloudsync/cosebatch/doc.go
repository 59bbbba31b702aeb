// Package cosebatch protects a telemetry batch for the city: each SenML-CBOR pack is signed by the
// gateway's own Ed25519 key as a COSE_Sign1 (RFC 9052 section 4.2) and, when the city asks for
// confidentiality, sealed to the city's public key as a COSE_Encrypt0 with HPKE (RFC 9180; see
// seal.go). Both are done when the batch is encoded, so the spool holds what goes on the wire and a
// batch replayed after a restart is the same bytes.
//
// # The signed batch
//
//		18([ << {1: -8, 3: 112, 4: h'<kid>', -65537: seq, -65538: h'<boot id>'} >>,
//		     {},
//		     h'<SenML-CBOR pack>',
//		     h'<64-byte Ed25519 signature>' ])
//
//	  - 1 (alg): -8, EdDSA (RFC 9053 section 2.2) with Ed25519.
//	  - 3 (content type): 112, the CoAP content-format of application/senml+cbor (RFC 8428; IANA
//	    "CoAP Content-Formats"). The integer, not the text: 2 bytes instead of 23.
//	  - 4 (kid): the first 8 bytes of the gateway key's COSE Key Thumbprint (RFC 9679: SHA-256 over the
//	    deterministic COSE_Key {1: 1, -1: 6, -2: x}).
//	  - -65537 (seq) and -65538 (boot id): private-use labels (in the IANA "COSE Header Parameters"
//	    registry of RFC 9052, integer labels less than -65536 are private use) binding the batch's sequence number (unsigned integer) and
//	    its boot id (the 16 raw bytes whose hex is the pack's "bid") to the signature. They repeat the
//	    pack's "seq" and "bid", so a verifier can check them without decoding the pack, and must equal
//	    them: a batch cannot be presented under another number.
//
// The protected header is encoded deterministically (RFC 8949 section 4.2.1: shortest forms, keys in
// bytewise order), the unprotected header is empty and there is no external data. The signature is
// Ed25519 over the Sig_structure ["Signature1", protected, h”, pack] (RFC 9052 section 4.4).
//
// Signer builds this into reused buffers: signing a batch allocates nothing.
package cosebatch
