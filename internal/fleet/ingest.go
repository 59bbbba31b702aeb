package fleet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/ingest"
	"github.com/wayside-iot/wayside/internal/testkit/testpg"
)

// The ingest beside the fleet (Options.Ingest): a PostgreSQL of its own, two reference ingests in this
// process, one of them restarted mid-run, and at the end every gateway's readings in the database
// compared with what the checker received.
//
// The two instances do not share a subscription: each receives every batch (mqtt.shared false) and the
// database de-duplicates, active-active. mosquitto 2.0.11 loses what a $share group is sent between
// its restart and the members' next SUBSCRIBE (cloudsync/ingest's TestBrokerRestart, docs/mqtt.md),
// and the storm restarts it; plain subscriptions are restored with their sessions and lose nothing.
// Load sharing is measured by cloudsync/ingest's TestThroughput.

// IngestResult is what the database held at the end of a run with Options.Ingest.
type IngestResult struct {
	Instances int
	Restarts  int
	Want      int // distinct batches at the checker
	Batches   int // rows in wayside_batches
	Readings  int // rows in wayside_readings
	// Matching counts the gateways whose readings in the database equal the checker's in count and
	// checksum; Mismatches names the first few others.
	Matching   int
	Gateways   int // gateways with batches at the checker
	Mismatches []string
	Written    int64 // batches the instances wrote (their Stats, restarts included)
	Duplicates int64 // batches an instance found already written (redeliveries)
	Quarantine int64 // batches refused (there should be none: every gateway is registered)
	Waited     time.Duration
}

// ingestPhase runs the ingests.
type ingestPhase struct {
	pg   *testpg.Server
	pool *pgxpool.Pool
	log  *zap.Logger
	cfg  ingest.Config
	runs []*ingestRun // the current run of each instance
	done []ingest.Stats
}

type ingestRun struct {
	in     *ingest.Ingest
	cancel context.CancelFunc
	done   chan error
}

// ingestGroup prefixes the ingests' client ids.
const ingestGroup = "wayside-fleet-ingest"

// startIngest launches PostgreSQL and two ingests subscribed to brokerURL, with keys
// registered; it returns once both are subscribed.
func startIngest(ctx context.Context, brokerURL, dir string, keys []gatewayKey, log *zap.Logger) (*ingestPhase, error) {
	bin, err := testpg.FindBinDir()
	if err != nil {
		return nil, fmt.Errorf("fleet: -ingest: %w", err)
	}
	pg, err := testpg.Launch(bin)
	if err != nil {
		return nil, fmt.Errorf("fleet: ingest: %w", err)
	}
	p := &ingestPhase{pg: pg, log: log.Named("ingest")}
	var list strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&list, "%s %s\n", k.ID, k.PublicKey)
	}
	keysFile := filepath.Join(dir, "ingest-gateways")
	if err := os.WriteFile(keysFile, []byte(list.String()), 0o600); err != nil {
		p.close()
		return nil, fmt.Errorf("fleet: ingest: %w", err)
	}
	shared := false
	p.cfg = ingest.Config{MQTT: ingest.MQTTConfig{Broker: brokerURL, Group: ingestGroup, TopicPrefix: Prefix, Shared: &shared},
		Postgres: ingest.PostgresConfig{DSN: pg.DSN}, Keys: ingest.KeysConfig{GatewaysFile: keysFile}}
	if p.pool, err = pgxpool.New(ctx, pg.DSN); err != nil {
		p.close()
		return nil, fmt.Errorf("fleet: ingest: postgres: %w", err)
	}
	for i := range 2 {
		r, err := p.launch(ctx, i)
		if err != nil {
			p.close()
			return nil, err
		}
		p.runs = append(p.runs, r)
		p.done = append(p.done, ingest.Stats{})
	}
	return p, nil
}

// launch starts instance i (client id wayside-fleet-ingest-<i>) and waits up to a minute for its
// subscription.
func (p *ingestPhase) launch(ctx context.Context, i int) (*ingestRun, error) {
	cfg := p.cfg
	cfg.MQTT.ClientID = fmt.Sprintf("%s-%d", ingestGroup, i)
	in, err := ingest.New(cfg, p.log.Named(fmt.Sprint(i)).WithOptions(zap.IncreaseLevel(zap.WarnLevel)))
	if err != nil {
		return nil, fmt.Errorf("fleet: ingest %d: %w", i, err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &ingestRun{in: in, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(rctx) }()
	select {
	case <-in.Subscribed():
		return r, nil
	case err := <-r.done:
		cancel()
		return nil, fmt.Errorf("fleet: ingest %d: %v", i, err)
	case <-time.After(time.Minute):
		cancel()
		<-r.done
		return nil, fmt.Errorf("fleet: ingest %d: not subscribed within a minute", i)
	}
}

// restart stops instance i (Run drains what it is writing, at most 5 s, and leaves the rest
// unacknowledged in its persistent session) and starts it again with the same client id.
func (p *ingestPhase) restart(ctx context.Context, i int) error {
	r := p.runs[i]
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			return fmt.Errorf("fleet: ingest %d stopped with %w", i, err)
		}
	case <-time.After(time.Minute):
		return fmt.Errorf("fleet: ingest %d did not stop within a minute", i)
	}
	p.done[i] = addStats(p.done[i], r.in.Stats())
	nr, err := p.launch(ctx, i)
	if err != nil {
		return err
	}
	p.runs[i] = nr
	p.log.Info("ingest restarted", zap.Int("instance", i))
	return nil
}

func addStats(a, b ingest.Stats) ingest.Stats {
	a.Batches += b.Batches
	a.Readings += b.Readings
	a.Duplicates += b.Duplicates
	a.Quarantined += b.Quarantined
	return a
}

// finish waits until the database holds want batches (while it progresses, at most 5 minutes), then
// compares every gateway's readings with the checker's.
func (p *ingestPhase) finish(ctx context.Context, want int, chk *checker, restarts int) (*IngestResult, error) {
	res := &IngestResult{Instances: len(p.runs), Restarts: restarts, Want: want}
	start := time.Now()
	last, lastAt := -1, time.Now()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if err := p.pool.QueryRow(ctx, `SELECT count(*) FROM wayside_batches`).Scan(&res.Batches); err != nil {
			return nil, fmt.Errorf("fleet: ingest: count batches: %w", err)
		}
		if res.Batches != last {
			last, lastAt = res.Batches, time.Now()
		}
		if res.Batches >= want || time.Since(lastAt) > 30*time.Second || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
	}
	res.Waited = time.Since(start)
	// The checksum the checker keeps (sums): PostgreSQL's round(double precision) rounds half to even,
	// and the ingest stores times in whole milliseconds, which extract(epoch) gives exactly.
	rows, err := p.pool.Query(ctx, `SELECT gateway, count(*), sum(round(value * 1000000)::bigint)::bigint,
		sum((extract(epoch FROM t) * 1000)::bigint)::bigint FROM wayside_readings GROUP BY gateway`)
	if err != nil {
		return nil, fmt.Errorf("fleet: ingest: readings by gateway: %w", err)
	}
	got := map[string]sums{}
	for rows.Next() {
		var gw string
		var s sums
		if err := rows.Scan(&gw, &s.Readings, &s.ValueMicros, &s.TimeMillis); err != nil {
			rows.Close()
			return nil, fmt.Errorf("fleet: ingest: readings by gateway: %w", err)
		}
		got[gw] = s
		res.Readings += s.Readings
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fleet: ingest: readings by gateway: %w", err)
	}
	chk.mu.Lock()
	res.Gateways = len(chk.readings)
	for gw, w := range chk.readings {
		if g := got[gw]; g == w {
			res.Matching++
		} else if len(res.Mismatches) < 5 {
			res.Mismatches = append(res.Mismatches, fmt.Sprintf("%s: database %+v, checker %+v", gw, g, w))
		}
		delete(got, gw)
	}
	chk.mu.Unlock()
	for gw, g := range got {
		if len(res.Mismatches) < 5 {
			res.Mismatches = append(res.Mismatches, fmt.Sprintf("%s: database %+v, nothing at the checker", gw, g))
		}
	}
	total := ingest.Stats{}
	for i, r := range p.runs {
		total = addStats(total, addStats(p.done[i], r.in.Stats()))
	}
	res.Written, res.Duplicates, res.Quarantine = total.Batches, total.Duplicates, total.Quarantined
	return res, nil
}

// close stops the ingests and the database.
func (p *ingestPhase) close() {
	for _, r := range p.runs {
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
	}
	if p.pool != nil {
		p.pool.Close()
	}
	p.pg.Close()
}
