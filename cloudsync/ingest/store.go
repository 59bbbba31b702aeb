package ingest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
)

// flagTimeCorrected is the wf bit of a time corrected once the clock was trusted: a real time.
const flagTimeCorrected = 2

var readingColumns = []string{"gateway", "boot_id", "seq", "idx", "channel", "unit", "t", "value", "flags"}

// writeBatch writes an opened batch in one transaction: the batch row first, keyed on (gateway, boot
// id, seq); when that key exists (a redelivery, a republished or replayed batch, another instance
// writing the same batch concurrently: PostgreSQL makes the second insert wait for the first's
// commit) nothing else is written and dup is true. Otherwise the readings are copied in (COPY).
func writeBatch(ctx context.Context, pool *pgxpool.Pool, gw string, b *cityopen.Batch) (dup bool, err error) {
	rs := b.Pack.Readings
	bid, err := uuidOf(b.BootID)
	if err != nil {
		return false, err
	}
	// docs/mqtt.md "Clock trust": a time with wf bit 1 (or an unknown bit) is not a wall-clock time.
	// Such a reading keeps its value, with the arrival time in t, marked by its flags.
	arrived := time.Now().UnixMilli()
	times := make([]int64, len(rs))
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for i, r := range rs {
		times[i] = r.UnixMilli()
		if r.Flags&^flagTimeCorrected != 0 {
			times[i] = arrived
		}
		first, last = min(first, times[i]), max(last, times[i])
	}
	var cityKID *string
	if b.Sealed {
		cityKID = &b.CityKID
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO wayside_batches (gateway, boot_id, seq, readings, first_t, last_t, sealed, city_kid)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			gw, bid, int64(b.Seq), len(rs), time.UnixMilli(first), time.UnixMilli(last), b.Sealed, cityKID)
		if err != nil {
			return fmt.Errorf("insert batch: %w", err)
		}
		if tag.RowsAffected() == 0 {
			dup = true
			return nil
		}
		prefix := len(gw) + 1
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"wayside_readings"}, readingColumns,
			pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) {
				r := &rs[i]
				return []any{gw, bid, int64(b.Seq), int32(i), r.Name[prefix:], r.Unit,
					time.UnixMilli(times[i]), r.Value, int32(r.Flags)}, nil
			}))
		if err != nil {
			return fmt.Errorf("copy readings: %w", err)
		}
		if int(n) != len(rs) {
			return fmt.Errorf("copy readings: %d of %d written", n, len(rs))
		}
		return nil
	})
	return dup, err
}

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
