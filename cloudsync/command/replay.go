package command

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wayside-iot/wayside/internal/durable"
	"go.uber.org/zap"
)

// DefaultReplayFile is the replay cache's file name in the state directory.
const DefaultReplayFile = "command-nonces.log"

// Errors of ReplayCache.Remember; the verifier answers them with CodeReplayed and CodeBusy.
var (
	ErrReplayed = errors.New("command: nonce already used")
	ErrBusy     = errors.New("command: replay cache full")
	ErrClosed   = errors.New("command: replay cache closed")
)

// ReplayOptions configures a ReplayCache.
type ReplayOptions struct {
	// MaxEntries bounds the unexpired nonces remembered (default 4096). When they are all unexpired,
	// Remember refuses with ErrBusy rather than forget one.
	MaxEntries int
	// MaxAge and MaxSkew are the verifier's (defaults 5 min and 30 s). They size the refusal window
	// kept after the file was found damaged.
	MaxAge, MaxSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log reports a damaged or torn file at open; nil logs nothing.
	Log *zap.Logger
	// ClockTrusted, when set and false at open, keeps every entry on disk: a board clock that is
	// ahead would otherwise expire (and delete) nonces that are still live once NTP corrects it.
	ClockTrusted func() bool
}

// ReplayStats describe the cache.
type ReplayStats struct {
	Entries   int  // nonces in memory (expired ones are dropped when the cache is full or rewritten)
	Records   int  // records in the file (compacted when it passes 2×MaxEntries)
	TornBytes int  // bytes of an incomplete last record cut at open
	Damaged   bool // the file had a corrupt record at open
	// After damage: commands issued before RefuseIssuedBefore are refused until RefuseUntil.
	RefuseIssuedBefore, RefuseUntil time.Time
	Compactions                     int
}

// ReplayCache remembers (kid, nonce) pairs of accepted commands until each command's expiry, in
// memory and in an append-only file, so that a replay is refused also after a restart. It is safe
// for concurrent use.
//
// File: an 8-byte header "WSNONCE1", then records, all integers little endian:
//
//	u16 body length | u32 CRC-32C of (the 2 length bytes, body) | body
//	body of a nonce: u8 1 | i64 expiry (unix ms) | u8 len | key_id | u8 len | nonce (raw bytes)
//	body of a floor: u8 2 | i64 expiry (unix ms) | i64 floor (unix ms)
//
// Each accepted nonce is appended and fsync'd before its command runs. Open rewrites the file
// (temporary file, fsync, rename, fsync of the directory) without the expired records, and so does
// Remember when the file holds more than 2×MaxEntries records or after a failed write.
//
// Recovery: an incomplete last record (shorter than its length says, and what there is of it
// consistent with a record; or a zero-filled tail) is a write torn by a crash; its command never ran,
// and it is cut.
// Any other unreadable record is damage: the records from it on are lost, so the cache stores a
// floor: until MaxAge has passed, every command issued before the floor (the time of the open plus
// MaxSkew) is refused as replayed. A lost nonce can then not be replayed, at the cost of refusing
// commands that were in flight at the restart.
type ReplayCache struct {
	path string
	o    ReplayOptions

	mu         sync.Mutex // guards what follows
	f          *os.File   // the file, open for appending; nil once closed
	entries    map[string]int64
	floor      int64 // unix ms: commands issued at or before it are refused...
	floorUntil int64 // ...until this instant
	records    int
	dirty      bool // a write failed: the file's tail is unknown, rewrite it before appending
	stats      ReplayStats
}

const (
	replayMagic    = "WSNONCE1"
	recHeader      = 6
	kindNonce      = 1
	kindFloor      = 2
	maxRecordBody  = 1 + 8 + 1 + 255 + 1 + 255
	maxTornRecord  = recHeader + maxRecordBody
	defaultEntries = 4096
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OpenReplayCache opens the cache at path: a missing file is an empty cache; a file that is not a
// nonce file, or cannot be read, is an error naming the path.
func OpenReplayCache(path string, o ReplayOptions) (*ReplayCache, error) {
	if o.MaxEntries <= 0 {
		o.MaxEntries = defaultEntries
	}
	freshnessDefaults(&o.MaxAge, &o.MaxSkew, &o.Now)
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	c := &ReplayCache{path: path, o: o, entries: map[string]int64{}}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("command: replay cache %s: %w", path, err)
	}
	now := o.Now().UnixMilli()
	if o.ClockTrusted != nil && !o.ClockTrusted() {
		now = 0 // expire nothing by an untrusted clock
	}
	if err := c.load(data, now); err != nil {
		return nil, err
	}
	if c.stats.Damaged {
		c.floor = max(c.floor, now+o.MaxSkew.Milliseconds())
		c.floorUntil = max(c.floorUntil, c.floor+o.MaxAge.Milliseconds())
		o.Log.Error("command replay cache damaged: refusing commands issued before the floor until it expires",
			zap.String("path", path), zap.Int("kept", len(c.entries)),
			zap.Time("floor", time.UnixMilli(c.floor)), zap.Time("until", time.UnixMilli(c.floorUntil)))
	} else if c.stats.TornBytes > 0 {
		o.Log.Warn("command replay cache: torn last record cut", zap.String("path", path), zap.Int("bytes", c.stats.TornBytes))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.rewriteLocked(now); err != nil {
		return nil, err
	}
	return c, nil
}

// load reads the file's records into memory, keeping those unexpired at now.
func (c *ReplayCache) load(data []byte, now int64) error {
	if len(data) < len(replayMagic) && bytes.HasPrefix([]byte(replayMagic), data) {
		c.stats.TornBytes = len(data) // created, and the header never completed
		return nil
	}
	if !bytes.HasPrefix(data, []byte(replayMagic)) {
		return fmt.Errorf("command: replay cache %s: not a nonce file (bad header); move it away to start empty, "+
			"which lets commands of the last max_age be replayed", c.path)
	}
	off := len(replayMagic)
	for off < len(data) {
		rest := data[off:]
		if allZero(rest) {
			c.stats.TornBytes = len(rest)
			return nil
		}
		if len(rest) < recHeader {
			c.stats.TornBytes = len(rest)
			return nil
		}
		n := int(binary.LittleEndian.Uint16(rest))
		if recHeader+n > len(rest) {
			if plausibleTorn(rest, n) {
				c.stats.TornBytes = len(rest)
			} else {
				c.stats.Damaged = true
			}
			return nil
		}
		body := rest[recHeader : recHeader+n]
		if recordCRC(rest[:2], body) != binary.LittleEndian.Uint32(rest[2:6]) || !c.apply(body, now) {
			c.stats.Damaged = true
			return nil
		}
		off += recHeader + n
	}
	return nil
}

// plausibleTorn reports whether rest, shorter than its record's length n, can be the beginning of a
// record whose append was cut short: a length a record can have, and what there is of the body
// consistent with it. A corrupt length field in an earlier record rarely passes.
func plausibleTorn(rest []byte, n int) bool {
	if n < 13 || n > maxRecordBody || len(rest) >= maxTornRecord {
		return false
	}
	body := rest[recHeader:]
	if len(body) == 0 {
		return true
	}
	switch body[0] {
	case kindFloor:
		return n == 17
	case kindNonce:
		if len(body) < 10 {
			return true
		}
		k := int(body[9])
		if k == 0 || 11+k+1 > n {
			return false
		}
		if len(body) > 10+k {
			return 11+k+int(body[10+k]) == n
		}
		return true
	}
	return false
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func recordCRC(length, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, body)
}

// apply adds one record's body to memory; false when the body is malformed.
func (c *ReplayCache) apply(b []byte, now int64) bool {
	if len(b) < 9 {
		return false
	}
	kind, exp := b[0], int64(binary.LittleEndian.Uint64(b[1:9]))
	b = b[9:]
	switch kind {
	case kindNonce:
		if len(b) < 1 || len(b) < 1+int(b[0])+1 {
			return false
		}
		key := b[1 : 1+int(b[0])]
		b = b[1+int(b[0]):]
		if len(b) != 1+int(b[0]) || len(key) == 0 || b[0] == 0 {
			return false
		}
		if exp >= now {
			c.entries[entryKey(string(key), b[1:])] = exp
		}
		return true
	case kindFloor:
		if len(b) != 8 {
			return false
		}
		if exp >= now && exp > c.floorUntil {
			c.floor, c.floorUntil = int64(binary.LittleEndian.Uint64(b)), exp
		}
		return true
	}
	return false
}

// entryKey joins a key id (which has no NUL: see ident.Valid) and a nonce.
func entryKey(keyID string, nonce []byte) string { return keyID + "\x00" + string(nonce) }

func appendRecord(dst []byte, body []byte) []byte {
	var l [2]byte
	binary.LittleEndian.PutUint16(l[:], uint16(len(body)))
	dst = append(dst, l[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, recordCRC(l[:], body))
	return append(dst, body...)
}

func nonceBody(key string, exp int64) []byte {
	keyID, nonce, _ := strings.Cut(key, "\x00")
	b := make([]byte, 0, 11+len(keyID)+len(nonce))
	b = append(b, kindNonce)
	b = binary.LittleEndian.AppendUint64(b, uint64(exp))
	b = append(b, byte(len(keyID)))
	b = append(b, keyID...)
	b = append(b, byte(len(nonce)))
	return append(b, nonce...)
}

// Remember records that the command signed under keyID with nonce, issued at issued, was accepted
// and is remembered until expires. It returns an error wrapping ErrReplayed when the pair is already
// remembered (or the command was issued before a damage floor), ErrBusy when MaxEntries unexpired
// nonces are remembered, and another error when the file could not be written (then nothing is
// remembered and the command must not run).
func (c *ReplayCache) Remember(keyID string, nonce []byte, issued, expires time.Time) error {
	if len(keyID) == 0 || len(keyID) > 255 || strings.IndexByte(keyID, 0) >= 0 || len(nonce) == 0 || len(nonce) > 255 {
		return errors.New("command: replay cache: key id and nonce must be 1 to 255 bytes, the key id without NUL")
	}
	now := c.o.Now().UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return ErrClosed
	}
	if c.floorUntil >= now && issued.UnixMilli() <= c.floor {
		return fmt.Errorf("%w: the gateway's nonce record was damaged; commands issued before %s are refused, issue a new one",
			ErrReplayed, time.UnixMilli(c.floor).UTC().Format(time.RFC3339))
	}
	k := entryKey(keyID, nonce)
	if exp, ok := c.entries[k]; ok {
		if exp >= now {
			return ErrReplayed
		}
		delete(c.entries, k)
	}
	if len(c.entries) >= c.o.MaxEntries {
		c.pruneLocked(now)
		if len(c.entries) >= c.o.MaxEntries {
			first := int64(0)
			for _, exp := range c.entries {
				if first == 0 || exp < first {
					first = exp
				}
			}
			wait := time.Duration(first-now+1) * time.Millisecond
			return fmt.Errorf("%w: %d commands accepted within max age; retry in %s", ErrBusy, len(c.entries), wait.Round(time.Second))
		}
	}
	if c.dirty || c.records >= 2*c.o.MaxEntries {
		if err := c.rewriteLocked(now); err != nil {
			return err
		}
	}
	exp := expires.UnixMilli()
	rec := appendRecord(nil, nonceBody(k, exp))
	if _, err := c.f.Write(rec); err != nil {
		c.dirty = true
		return fmt.Errorf("command: replay cache %s: append: %w", c.path, err)
	}
	if err := c.f.Sync(); err != nil {
		c.dirty = true // a retried fsync may report success for lost pages: rewrite instead
		return fmt.Errorf("command: replay cache %s: fsync: %w", c.path, err)
	}
	c.records++
	c.entries[k] = exp
	return nil
}

// pruneLocked drops expired entries. c.mu must be held.
func (c *ReplayCache) pruneLocked(now int64) {
	for k, exp := range c.entries {
		if exp < now {
			delete(c.entries, k)
		}
	}
	if c.floorUntil < now {
		c.floor, c.floorUntil = 0, 0
	}
}

// rewriteLocked replaces the file with the unexpired entries, atomically. c.mu must be held.
func (c *ReplayCache) rewriteLocked(now int64) error {
	c.pruneLocked(now)
	keys := make([]string, 0, len(c.entries))
	for k := range c.entries {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { // oldest first, as appends would have written them
		if d := c.entries[a] - c.entries[b]; d != 0 {
			return int(min(max(d, -1), 1))
		}
		return bytes.Compare([]byte(a), []byte(b))
	})
	buf := []byte(replayMagic)
	if c.floorUntil > 0 {
		body := append([]byte{kindFloor}, binary.LittleEndian.AppendUint64(nil, uint64(c.floorUntil))...)
		buf = appendRecord(buf, binary.LittleEndian.AppendUint64(body, uint64(c.floor)))
	}
	for _, k := range keys {
		buf = appendRecord(buf, nonceBody(k, c.entries[k]))
	}
	if err := durable.WriteFile(c.path, buf, 0o600); err != nil {
		return fmt.Errorf("command: replay cache %s: rewrite: %w", c.path, err)
	}
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("command: replay cache %s: reopen: %w", c.path, err)
	}
	if c.f != nil {
		c.f.Close()
	}
	c.f = f
	c.records = len(keys)
	c.dirty = false
	c.stats.Compactions++
	return nil
}

// Stats returns the cache's counters.
func (c *ReplayCache) Stats() ReplayStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries, s.Records = len(c.entries), c.records
	if c.floorUntil >= c.o.Now().UnixMilli() {
		s.RefuseIssuedBefore, s.RefuseUntil = time.UnixMilli(c.floor), time.UnixMilli(c.floorUntil)
	}
	return s
}

// Path returns the cache's file.
func (c *ReplayCache) Path() string { return c.path }

// Close closes the file; later Remember calls fail with ErrClosed.
func (c *ReplayCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}
