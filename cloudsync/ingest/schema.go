package ingest

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Schema is the ingest's tables (docs/ingest.md explains them). It is idempotent: every instance
// applies it at start.
const Schema = `
CREATE TABLE IF NOT EXISTS wayside_gateway_keys (
	gateway    text PRIMARY KEY,
	public_key bytea NOT NULL CHECK (length(public_key) = 32),
	added_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS wayside_batches (
	gateway     text NOT NULL,
	boot_id     uuid NOT NULL,
	seq         bigint NOT NULL,
	readings    integer NOT NULL,
	first_t     timestamptz NOT NULL,
	last_t      timestamptz NOT NULL,
	sealed      boolean NOT NULL,
	city_kid    text,
	received_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (gateway, boot_id, seq)
);
CREATE INDEX IF NOT EXISTS wayside_batches_received ON wayside_batches (gateway, received_at);
CREATE TABLE IF NOT EXISTS wayside_readings (
	gateway text NOT NULL,
	boot_id uuid NOT NULL,
	seq     bigint NOT NULL,
	idx     integer NOT NULL,
	channel text NOT NULL,
	unit    text NOT NULL,
	t       timestamptz NOT NULL,
	value   double precision NOT NULL,
	flags   integer NOT NULL DEFAULT 0,
	PRIMARY KEY (gateway, boot_id, seq, idx)
);
CREATE INDEX IF NOT EXISTS wayside_readings_t ON wayside_readings USING brin (t);
CREATE TABLE IF NOT EXISTS wayside_status (
	gateway     text PRIMARY KEY,
	state       text NOT NULL,
	clean       boolean,
	boot_id     text,
	version     text,
	since       timestamptz,
	received_at timestamptz NOT NULL DEFAULT now(),
	status      jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS wayside_quarantine (
	id          bigserial PRIMARY KEY,
	received_at timestamptz NOT NULL DEFAULT now(),
	topic       text NOT NULL,
	gateway     text,
	reason      text NOT NULL,
	detail      text NOT NULL,
	payload     bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS wayside_quarantine_reason ON wayside_quarantine (reason, received_at);
`

// Migrate applies Schema. Concurrent instances serialize on an advisory lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("ingest: schema: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockSchema); err != nil {
		return fmt.Errorf("ingest: schema lock: %w", err)
	}
	if _, err := tx.Exec(ctx, Schema); err != nil {
		return fmt.Errorf("ingest: schema: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("ingest: schema: %w", err)
	}
	return nil
}

// Advisory lock keys (arbitrary, fixed: "wayside" in ASCII, then a number).
const (
	lockSchema int64 = 0x77617973696465_01
	lockStatus int64 = 0x77617973696465_02
)
