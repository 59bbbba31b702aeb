package ingest

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// docQueries returns the SQL statements of docs/ingest.md's "Queries" section.
func docQueries(t *testing.T) []string {
	b, err := os.ReadFile("../../docs/ingest.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Queries\n")
	if !ok {
		t.Fatal("docs/ingest.md has no Queries section")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var qs []string
	for _, m := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(sec, -1) {
		for _, q := range strings.Split(m[1], ";") {
			if q = strings.TrimSpace(q); q != "" {
				qs = append(qs, q)
			}
		}
	}
	return qs
}

// TestDocQueries runs the analysts' queries of docs/ingest.md on a small known data set and checks
// what the three named ones find.
func TestDocQueries(t *testing.T) {
	qs := docQueries(t)
	if len(qs) != 5 {
		t.Fatalf("docs/ingest.md: %d queries, the test expects 5 (update it with the page)", len(qs))
	}
	ctx := context.Background()
	_, pool := migratedDB(t)
	// gw-live sent seq 1, 2, 5 (a gap 3-4) this minute; gw-quiet sent one batch 20 minutes ago and
	// vanished; gw-never is registered and never sent anything.
	setup := []string{
		`INSERT INTO wayside_gateway_keys (gateway, public_key) VALUES
			('gw-live', decode(repeat('01', 32), 'hex')), ('gw-quiet', decode(repeat('02', 32), 'hex')), ('gw-never', decode(repeat('03', 32), 'hex'))`,
		`INSERT INTO wayside_batches (gateway, boot_id, seq, readings, first_t, last_t, sealed, received_at) VALUES
			('gw-live', '2c1ba4ee1afa461d12df32c7c38513e2', 1, 2, now(), now(), false, now()),
			('gw-live', '2c1ba4ee1afa461d12df32c7c38513e2', 2, 1, now(), now(), false, now()),
			('gw-live', '2c1ba4ee1afa461d12df32c7c38513e2', 5, 1, now(), now(), false, now()),
			('gw-quiet', '00000000000000000000000000000001', 9, 1, now() - interval '20 minutes', now() - interval '20 minutes', false, now() - interval '20 minutes')`,
		`INSERT INTO wayside_readings (gateway, boot_id, seq, idx, channel, unit, t, value, flags) VALUES
			('gw-live', '2c1ba4ee1afa461d12df32c7c38513e2', 1, 0, 'env1/temperature', 'Cel', now() - interval '5 minutes', 9.5, 0),
			('gw-live', '2c1ba4ee1afa461d12df32c7c38513e2', 1, 1, 'env1/temperature', 'Cel', now() - interval '4 minutes', 10.5, 0),
			('gw-live', '2c1ba4ee1afa461d12df32c7c38513e2', 2, 0, 'env1/temperature', 'Cel', now(), 99, 1),
			('gw-live', '2c1ba4ee1afa461d12df32c7c38513e2', 5, 0, 'radar1/speed', 'm/s', now(), 12.5, 0),
			('gw-quiet', '00000000000000000000000000000001', 9, 0, 'env1/temperature', 'Cel', now() - interval '20 minutes', 7, 0)`,
		`INSERT INTO wayside_status (gateway, state, clean, boot_id, version, since, status) VALUES
			('gw-quiet', 'offline', NULL, '00000000000000000000000000000001', 'v1', now() - interval '1 hour', '{"state":"offline"}')`,
	}
	for _, q := range setup {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	rows := func(q string) [][]any {
		r, err := pool.Query(ctx, q)
		if err != nil {
			t.Fatalf("docs/ingest.md query fails: %v\n%s", err, q)
		}
		defer r.Close()
		var out [][]any
		for r.Next() {
			v, err := r.Values()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		if r.Err() != nil {
			t.Fatalf("docs/ingest.md query fails: %v\n%s", r.Err(), q)
		}
		return out
	}
	// Last hour per channel: gw-live's temperature (2 trusted readings, avg 10; the untrusted one left
	// out) and speed, and gw-quiet's temperature of 20 minutes ago.
	lastHour := rows(qs[0])
	if len(lastHour) != 3 || lastHour[0][0] != "gw-live" || lastHour[0][1] != "env1/temperature" || lastHour[0][3] != int64(2) || lastHour[0][5] != 10.0 {
		t.Errorf("last hour per channel: %v; want gw-live temperature (2 readings, avg 10, the untrusted one left out), gw-live speed, gw-quiet temperature", lastHour)
	}
	silent := rows(qs[1])
	if len(silent) != 2 || silent[0][0] != "gw-never" || silent[1][0] != "gw-quiet" || silent[1][2] != "offline" {
		t.Errorf("silent gateways: %v; want gw-never then gw-quiet (offline)", silent)
	}
	gaps := rows(qs[2])
	if len(gaps) != 1 || gaps[0][0] != "gw-live" || gaps[0][2] != int64(3) || gaps[0][3] != int64(4) || gaps[0][4] != int64(2) {
		t.Errorf("gaps: %v; want gw-live missing 3 to 4 (2 batches)", gaps)
	}
	for _, q := range qs[3:] {
		rows(q)
	}
}
