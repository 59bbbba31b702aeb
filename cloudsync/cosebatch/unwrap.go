package cosebatch

import (
	"crypto/ed25519"
	"errors"
)

// ErrNotSigned is returned by Unwrap for bytes that are not a batch as Signer makes it.
var ErrNotSigned = errors.New("cosebatch: not a signed batch as this gateway makes it")

// Unwrap returns the pack inside a batch that Signer signed (the gateway's own spool), without
// verifying the signature: for re-signing a batch whose times were corrected. It accepts only the
// exact layout Signer writes.
func Unwrap(msg []byte) (pack []byte, err error) {
	if len(msg) < 2 || msg[0] != 0xc0|tagSign1 || msg[1] != 0x84 {
		return nil, ErrNotSigned
	}
	rest := msg[2:]
	if _, rest, err = readBstr(rest); err != nil {
		return nil, err
	}
	if len(rest) < 1 || rest[0] != 0xa0 {
		return nil, ErrNotSigned
	}
	if pack, rest, err = readBstr(rest[1:]); err != nil {
		return nil, err
	}
	if sig, rest, err := readBstr(rest); err != nil || len(sig) != ed25519.SignatureSize || len(rest) != 0 {
		return nil, ErrNotSigned
	}
	return pack, nil
}

// readHead reads a CBOR head of the given major type with a definite argument.
func readHead(b []byte, major byte) (n uint64, rest []byte, err error) {
	if len(b) == 0 || b[0]>>5 != major {
		return 0, nil, ErrNotSigned
	}
	ai := b[0] & 31
	switch {
	case ai < 24:
		return uint64(ai), b[1:], nil
	case ai <= 27:
		size := 1 << (ai - 24)
		if len(b) < 1+size {
			return 0, nil, ErrNotSigned
		}
		for _, c := range b[1 : 1+size] {
			n = n<<8 | uint64(c)
		}
		return n, b[1+size:], nil
	}
	return 0, nil, ErrNotSigned
}

func readBstr(b []byte) (v, rest []byte, err error) {
	n, rest, err := readHead(b, 2)
	if err != nil || n > uint64(len(rest)) {
		return nil, nil, ErrNotSigned
	}
	return rest[:n], rest[n:], nil
}
