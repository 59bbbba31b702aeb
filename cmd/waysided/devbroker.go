//go:build devbroker

package main

import (
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/gateway/config"
)

// startDevBroker runs an in-process MQTT broker for make run, on the loopback address of the first
// configured broker (config validation refuses dev_broker off the sim board or off loopback), and
// prints a decoded summary of every batch it receives, so a technician sees data arrive.
func startDevBroker(cfg *config.Config, log *zap.Logger) (stop func(), err error) {
	u, err := url.Parse(cfg.Cloud.Brokers[0])
	if err != nil {
		return nil, fmt.Errorf("dev broker: %w", err)
	}
	log = log.Named("devbroker")
	srv := mochi.New(&mochi.Options{InlineClient: true,
		Logger: slog.New(slog.NewTextHandler(discard{}, nil))})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("dev broker: %w", err)
	}
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "dev", Address: u.Host})); err != nil {
		return nil, fmt.Errorf("dev broker: listen on %s: %w", u.Host, err)
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("dev broker: %w", err)
	}
	prefix := cfg.Cloud.TopicPrefix + "/"
	err = srv.Subscribe(prefix+"#", 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		switch {
		case strings.HasSuffix(pk.TopicName, "/telemetry"):
			// Development only: the signature is not checked here (cloudsync/cityopen does that).
			pack, err := cosebatch.Unwrap(pk.Payload)
			var p *senml.Pack
			if err == nil {
				p, err = senml.Decode(pack)
			}
			if err != nil {
				log.Warn("undecodable batch", zap.String("topic", pk.TopicName), zap.Error(err))
				return
			}
			first, last := p.Readings[0].Time, p.Readings[0].Time
			for _, r := range p.Readings {
				first, last = min(first, r.Time), max(last, r.Time)
			}
			r := p.Readings[0]
			log.Info("broker received batch", zap.Uint64("seq", p.Seq), zap.Int("readings", len(p.Readings)),
				zap.Int("bytes", len(pk.Payload)), zap.Float64("span_s", math.Round((last-first)*1000)/1000),
				zap.String("first", r.Name+"="+shortFloat(r.Value)+" "+r.Unit))
		case strings.HasSuffix(pk.TopicName, "/status"):
			log.Info("broker received status", zap.ByteString("status", pk.Payload))
		}
	})
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("dev broker: subscribe: %w", err)
	}
	log.Info("dev broker listening (development only)", zap.String("addr", u.Host))
	return func() { srv.Close() }, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// shortFloat prints a value the way it was sent: most values travel as float32 (see senml.WireValue),
// and widening one to float64 would print noise digits (16.43000030517578 for 16.43).
func shortFloat(v float64) string {
	if float64(float32(v)) == v {
		return strconv.FormatFloat(v, 'g', -1, 32)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
