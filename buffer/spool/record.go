package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The on-disk encoding of segment records and ack entries (see doc.go for the layout).

const (
	headerSize = 16 // u32 length, u32 crc, u64 seq
	ackSize    = 12 // u64 seq, u32 crc
	// MaxRecord bounds one batch's payload; a longer length field is corruption.
	MaxRecord = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt reports a record whose length or checksum is wrong.
var errCorrupt = errors.New("corrupt record")

// parseRecord decodes the record at the start of b: its seq, payload and total size. It returns
// io.EOF for an empty b and errCorrupt (wrapped) for a short or damaged record.
func parseRecord(b []byte) (seq uint64, payload []byte, n int, err error) {
	if len(b) == 0 {
		return 0, nil, 0, io.EOF
	}
	if len(b) < headerSize {
		return 0, nil, 0, fmt.Errorf("%w: %d-byte header, want %d", errCorrupt, len(b), headerSize)
	}
	length := binary.LittleEndian.Uint32(b[0:4])
	sum := binary.LittleEndian.Uint32(b[4:8])
	if length > MaxRecord {
		return 0, nil, 0, fmt.Errorf("%w: length %d exceeds %d", errCorrupt, length, MaxRecord)
	}
	if len(b)-headerSize < int(length) {
		return 0, nil, 0, fmt.Errorf("%w: payload of %d bytes, %d present", errCorrupt, length, len(b)-headerSize)
	}
	if crc32.Checksum(b[8:headerSize+int(length)], castagnoli) != sum {
		return 0, nil, 0, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	seq = binary.LittleEndian.Uint64(b[8:16])
	return seq, b[headerSize : headerSize+int(length)], headerSize + int(length), nil
}

// appendRecord appends the encoding of (seq, payload) to dst.
func appendRecord(dst []byte, seq uint64, payload []byte) []byte {
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:16], seq)
	c := crc32.Update(0, castagnoli, h[8:16])
	c = crc32.Update(c, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:8], c)
	return append(append(dst, h[:]...), payload...)
}

// resync returns the offset of the first record at or after from whose header and checksum hold and
// whose sequence number is above after (records are appended in increasing order, so an older number
// is no resynchronisation point but a coincidence inside a payload). A random 16-byte window passes the
// CRC-32C with odds of 2^-32, and must also carry a plausible length and number.
func resync(data []byte, from int64, after uint64) (int64, bool) {
	for off := from; off+headerSize <= int64(len(data)); off++ {
		// The checksum only for a plausible header: a length that fits, a number that follows.
		length := int64(binary.LittleEndian.Uint32(data[off:]))
		seq := binary.LittleEndian.Uint64(data[off+8:])
		if length > MaxRecord || off+headerSize+length > int64(len(data)) || seq <= after ||
			(after > 0 && seq-after > 1<<24) {
			continue
		}
		if _, _, _, err := parseRecord(data[off:]); err == nil {
			return off, true
		}
	}
	return 0, false
}

// appendAck appends the ack entry of seq to dst.
func appendAck(dst []byte, seq uint64) []byte {
	var b [ackSize]byte
	binary.LittleEndian.PutUint64(b[0:8], seq)
	binary.LittleEndian.PutUint32(b[8:12], crc32.Checksum(b[0:8], castagnoli))
	return append(dst, b[:]...)
}

// parseAck decodes the ack entry at the start of b (at least ackSize bytes); ok is false when its
// checksum does not hold.
func parseAck(b []byte) (seq uint64, ok bool) {
	seq = binary.LittleEndian.Uint64(b[0:8])
	return seq, crc32.Checksum(b[0:8], castagnoli) == binary.LittleEndian.Uint32(b[8:12])
}
