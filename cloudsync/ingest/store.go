package ingest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
)

// flagTimeCorrected is the wf bit of a time corrected once the clock was trusted: a real time.
const flagTimeCorrected = 2

var readingColumns = []string{"gateway", "boot_id", "seq", "idx", "channel", "unit", "t", "value", "flags"}

// item is an opened batch on its way to the database.
type item struct {
	gw    string
	b     *cityopen.Batch
	bid   [16]byte
	times []int64 // the readings' times as stored, Unix ms
	first int64
	last  int64
	dup   bool // set by writeBatches: the key was already there (or earlier in the group)
}

// newItem prepares b for writing. docs/mqtt.md "Clock trust": a time with bit 1 (the must-understand wf_) (or an unknown
// bit) is not a wall-clock time; such a reading keeps its value, with the arrival time in t, marked by
// its flags.
func newItem(gw string, b *cityopen.Batch, arrived int64) (*item, error) {
	bid, err := uuidOf(b.BootID)
	if err != nil {
		return nil, err
	}
	it := &item{gw: gw, b: b, bid: bid, times: make([]int64, len(b.Pack.Readings)),
		first: math.MaxInt64, last: math.MinInt64}
	for i, r := range b.Pack.Readings {
		it.times[i] = r.UnixMilli()
		if r.Flags&^flagTimeCorrected != 0 {
			it.times[i] = arrived
		}
		it.first, it.last = min(it.first, it.times[i]), max(it.last, it.times[i])
	}
	return it, nil
}

func (it *item) less(o *item) int {
	return cmp.Or(strings.Compare(it.gw, o.gw), bytes.Compare(it.bid[:], o.bid[:]), cmp.Compare(it.b.Seq, o.b.Seq))
}

// writeBatches writes opened batches in one transaction. The batch rows go first, keyed on (gateway,
// boot id, seq) with ON CONFLICT DO NOTHING; a key already there (a redelivery, a republished or
// replayed batch, another instance writing the same batch at the same time: PostgreSQL makes the
// second insert wait for the first one's commit) marks its item dup and writes nothing else for it.
// The readings of the new batches follow in one COPY. Keys are inserted in sorted order, so two
// instances' transactions cannot deadlock on each other's keys.
func writeBatches(ctx context.Context, pool *pgxpool.Pool, items []*item) error {
	slices.SortFunc(items, (*item).less)
	var (
		gws, kids     []*string
		bids          [][16]byte
		seqs          []int64
		counts        []int32
		firsts, lasts []time.Time
		sealed        []bool
		uniq          []*item
	)
	for i, it := range items {
		it.dup = false
		if i > 0 && it.less(items[i-1]) == 0 {
			it.dup = true // the same batch twice in the group
			continue
		}
		uniq = append(uniq, it)
		gws = append(gws, &it.gw)
		bids = append(bids, it.bid)
		seqs = append(seqs, int64(it.b.Seq))
		counts = append(counts, int32(len(it.b.Pack.Readings)))
		firsts, lasts = append(firsts, time.UnixMilli(it.first)), append(lasts, time.UnixMilli(it.last))
		sealed = append(sealed, it.b.Sealed)
		var kid *string
		if it.b.Sealed {
			kid = &it.b.CityKID
		}
		kids = append(kids, kid)
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO wayside_batches (gateway, boot_id, seq, readings, first_t, last_t, sealed, city_kid)
			SELECT * FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::integer[], $5::timestamptz[], $6::timestamptz[], $7::boolean[], $8::text[])
			ON CONFLICT DO NOTHING RETURNING gateway, boot_id, seq`,
			gws, bids, seqs, counts, firsts, lasts, sealed, kids)
		if err != nil {
			return fmt.Errorf("insert batches: %w", err)
		}
		type key struct {
			gw  string
			bid [16]byte
			seq int64
		}
		inserted := map[key]bool{}
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.gw, &k.bid, &k.seq); err != nil {
				return fmt.Errorf("insert batches: %w", err)
			}
			inserted[k] = true
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("insert batches: %w", err)
		}
		var fresh []*item
		total := 0
		for _, it := range uniq {
			if !inserted[key{it.gw, it.bid, int64(it.b.Seq)}] {
				it.dup = true
				continue
			}
			fresh = append(fresh, it)
			total += len(it.b.Pack.Readings)
		}
		if total == 0 {
			return nil
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"wayside_readings"}, readingColumns, &readingRows{items: fresh})
		if err != nil {
			return fmt.Errorf("copy readings: %w", err)
		}
		if int(n) != total {
			return fmt.Errorf("copy readings: %d of %d written", n, total)
		}
		return nil
	})
}

// readingRows feeds COPY the readings of several batches.
type readingRows struct {
	items []*item
	i, j  int // item, reading within it; j is the next reading
	row   []any
}

func (r *readingRows) Next() bool {
	for r.i < len(r.items) && r.j >= len(r.items[r.i].b.Pack.Readings) {
		r.i, r.j = r.i+1, 0
	}
	if r.i >= len(r.items) {
		return false
	}
	it := r.items[r.i]
	rd := &it.b.Pack.Readings[r.j]
	r.row = append(r.row[:0], it.gw, it.bid, int64(it.b.Seq), int32(r.j), rd.Name[len(it.gw)+1:], rd.Unit,
		time.UnixMilli(it.times[r.j]), rd.Value, int32(rd.Flags))
	r.j++
	return true
}

func (r *readingRows) Values() ([]any, error) { return r.row, nil }
func (r *readingRows) Err() error             { return nil }

// uuidOf turns a boot id's 32 hex digits into the 16 bytes of a uuid column.
func uuidOf(hexID string) ([16]byte, error) {
	var u [16]byte
	if len(hexID) != 32 {
		return u, fmt.Errorf("boot id %q is not 32 hex digits", hexID)
	}
	if _, err := hex.Decode(u[:], []byte(hexID)); err != nil {
		return u, fmt.Errorf("boot id %q: %w", hexID, err)
	}
	return u, nil
}

// maxQuarantinePayload bounds what is kept of a quarantined message.
const maxQuarantinePayload = 64 << 10

// quarantine records a message that was not accepted.
func quarantine(ctx context.Context, pool *pgxpool.Pool, topic, gw, reason, detail string, payload []byte) error {
	if len(payload) > maxQuarantinePayload {
		payload = payload[:maxQuarantinePayload]
	}
	var g *string
	if gw != "" {
		g = &gw
	}
	_, err := pool.Exec(ctx, `INSERT INTO wayside_quarantine (topic, gateway, reason, detail, payload) VALUES ($1, $2, $3, $4, $5)`,
		topic, g, reason, strings.ToValidUTF8(detail, "?"), payload)
	if err != nil {
		return fmt.Errorf("insert quarantine: %w", err)
	}
	return nil
}

// status is the part of a gateway's status message kept in columns; the whole message is kept as jsonb.
type status struct {
	State   string     `json:"state"`
	Gateway string     `json:"gateway"`
	Clean   *bool      `json:"clean"`
	BootID  string     `json:"boot_id"`
	Version string     `json:"version"`
	Since   *time.Time `json:"since"`
}

// parseStatus checks a status message for gateway gw.
func parseStatus(gw string, payload []byte) (*status, error) {
	var s status
	if err := json.Unmarshal(payload, &s); err != nil {
		return nil, fmt.Errorf("not a JSON status: %v", err)
	}
	if s.State != "online" && s.State != "offline" {
		return nil, fmt.Errorf("state %q, want online or offline", s.State)
	}
	if s.Gateway != gw {
		return nil, fmt.Errorf("gateway %q in a status on the topic of %s", s.Gateway, gw)
	}
	return &s, nil
}

// writeStatus keeps the last status of a gateway.
func writeStatus(ctx context.Context, pool *pgxpool.Pool, gw string, s *status, payload []byte) error {
	_, err := pool.Exec(ctx, `INSERT INTO wayside_status (gateway, state, clean, boot_id, version, since, received_at, status)
		VALUES ($1, $2, $3, $4, $5, $6, now(), $7)
		ON CONFLICT (gateway) DO UPDATE SET state = excluded.state, clean = excluded.clean, boot_id = excluded.boot_id,
			version = excluded.version, since = excluded.since, received_at = excluded.received_at, status = excluded.status`,
		gw, s.State, s.Clean, s.BootID, s.Version, s.Since, string(payload))
	if err != nil {
		return fmt.Errorf("upsert status: %w", err)
	}
	return nil
}

// deleteStatus forgets a gateway's status (its retained status was cleared: an empty message).
func deleteStatus(ctx context.Context, pool *pgxpool.Pool, gw string) error {
	if _, err := pool.Exec(ctx, `DELETE FROM wayside_status WHERE gateway = $1`, gw); err != nil {
		return fmt.Errorf("delete status: %w", err)
	}
	return nil
}
