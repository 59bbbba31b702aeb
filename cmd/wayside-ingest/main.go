// Command wayside-ingest is the city's reference ingest: it consumes Wayside gateways' telemetry from
// an MQTT broker (a shared subscription: run several with the same -group to share the load) or, on
// RabbitMQ, from one AMQP queue that all instances consume (-amqp), verifies and opens each batch, and
// writes the readings into PostgreSQL exactly once. See docs/ingest.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/ingest"
	"github.com/wayside-iot/wayside/internal/daemonlog"
)

var version = "dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "wayside-ingest: %v\n", err)
		os.Exit(1)
	}
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(args []string) error {
	fs := flag.NewFlagSet("wayside-ingest", flag.ContinueOnError)
	configPath := fs.String("config", "", "a YAML `FILE` (docs/ingest.md); the flags below override it")
	broker := fs.String("broker", "", "mqtt.broker: the broker `URL`, e.g. ssl://mqtt.city.example:8883, or tcp://127.0.0.1:1883 beside it")
	clientID := fs.String("client-id", "", "mqtt.client_id: this instance's stable, unique client `ID`")
	group := fs.String("group", "", "mqtt.group: the shared subscription's `GROUP` (default wayside-ingest)")
	prefix := fs.String("topic-prefix", "", "mqtt.topic_prefix: the gateways' cloud.topic_prefix (default wayside/v1)")
	tlsCA := fs.String("tls-ca", "", "mqtt.tls.ca: a PEM `FILE` of the CAs that sign the broker's certificate (default: the system's roots; ssl:// brokers)")
	tlsCert := fs.String("tls-cert", "", "mqtt.tls.cert: a PEM client certificate `FILE`, for a broker that requires one (with -tls-key)")
	tlsKey := fs.String("tls-key", "", "mqtt.tls.key: the client certificate's PEM private key `FILE` (with -tls-cert)")
	tlsServerName := fs.String("tls-server-name", "", "mqtt.tls.server_name: the `NAME` the broker's certificate must carry, when not the broker URL's host")
	amqpURL := fs.String("amqp", "", "amqp.url: take the telemetry from RabbitMQ over AMQP 0-9-1, from the broker at `URL`, e.g. amqps://ingest@rabbit.city.example:5671/ (statuses still come over MQTT, -broker)")
	amqpQueue := fs.String("amqp-queue", "", "amqp.queue: the `QUEUE` every instance consumes (default wayside-ingest)")
	dsn := fs.String("dsn", "", "postgres.dsn: the database, e.g. postgres://wayside@db:5432/wayside")
	gateways := fs.String("gateway-keys", "", "keys.gateways_file: a `FILE` of `<gateway id> <base64 key>` lines (default: the table wayside_gateway_keys)")
	var cityKeys listFlag
	fs.Var(&cityKeys, "city-key", "keys.city_key_files: a city key `FILE` from wayside keys gen (repeat)")
	requireSealed := fs.Bool("require-sealed", false, "keys.require_sealed: quarantine batches that are not sealed")
	workers := fs.Int("workers", 0, "workers: transactions written at once (default 4)")
	perTx := fs.Int("batches-per-transaction", 0, "batches_per_transaction: of the batches already waiting, at most `N` a transaction (default 16)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "auto", "json, console, or auto (console on a terminal)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *showVersion {
		fmt.Println(version)
		return nil
	}
	var cfg ingest.Config
	if *configPath != "" {
		c, err := ingest.LoadConfig(*configPath)
		if err != nil {
			return err
		}
		cfg = c
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.MQTT.Broker, *broker)
	set(&cfg.MQTT.ClientID, *clientID)
	set(&cfg.MQTT.Group, *group)
	set(&cfg.MQTT.TopicPrefix, *prefix)
	set(&cfg.MQTT.TLS.CA, *tlsCA)
	set(&cfg.MQTT.TLS.Cert, *tlsCert)
	set(&cfg.MQTT.TLS.Key, *tlsKey)
	set(&cfg.MQTT.TLS.ServerName, *tlsServerName)
	set(&cfg.AMQP.URL, *amqpURL)
	set(&cfg.AMQP.Queue, *amqpQueue)
	set(&cfg.Postgres.DSN, *dsn)
	set(&cfg.Keys.GatewaysFile, *gateways)
	cfg.Keys.CityKeyFiles = append(cfg.Keys.CityKeyFiles, cityKeys...)
	cfg.Keys.RequireSealed = cfg.Keys.RequireSealed || *requireSealed
	if *perTx > 0 {
		cfg.BatchesPerTx = *perTx
	}
	if *workers > 0 {
		cfg.Workers = *workers
	}
	// At debug every batch is logged (docs/ingest.md): zap's sampling of repeated json lines (100 a
	// second, then one in 100) would drop most of them.
	log, _, err := daemonlog.New(daemonlog.Options{Level: *logLevel, Format: *logFormat,
		LevelName: "-log-level", FormatName: "-log-format", NoSampling: *logLevel == "debug"})
	if err != nil {
		return err
	}
	defer log.Sync()
	in, err := ingest.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Info("wayside-ingest starting", zap.String("version", version))
	return in.Run(ctx)
}
