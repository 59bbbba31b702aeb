package gateway

import (
	"crypto/ed25519"
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/buffer/spool"
	"github.com/wayside-iot/wayside/cloudsync"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/cloudsync/tlsconf"
	"github.com/wayside-iot/wayside/gateway/config"
	"go.uber.org/zap"
)

// Construction: New opens and prepares every part of the pipeline; nothing runs until Run.

// New opens the board and every configured sensor, and prepares the ring, the encoder and the link.
// Nothing runs until Run.
func New(opts Options) (g *Gateway, err error) {
	cfg := opts.Config
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = batchPoll
	}
	g = &Gateway{opts: opts, cfg: cfg, log: opts.Log, started: time.Now(), appended: make(chan struct{}, 1),
		sendIdle: max(opts.Poll, sendIdle)}
	if g.bootID, err = newBootID(); err != nil {
		return nil, err
	}
	if g.lock, err = lockStateDir(cfg.Spool.Dir); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	trust := opts.TrustClock
	if trust == nil {
		trust = ntpSynced
		if cfg.Clock.Trust == "always" {
			trust = func() bool { return true }
		}
	}
	g.clock = newWallClock(trust, opts.Wall)
	g.spool, err = spool.Open(spool.Options{Dir: filepath.Join(cfg.Spool.Dir, "spool"),
		SegmentBytes: int64(cfg.Spool.SegmentBytes), QuotaBytes: int64(cfg.Spool.QuotaBytes),
		SyncEvery: cfg.Spool.SyncEvery, SyncInterval: cfg.Spool.SyncInterval.D(), Log: g.log})
	if err != nil {
		g.lock.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	// After the spool, so that on a full disk the lease can be renewed by evicting the oldest
	// batches (counted) instead of failing the start: a crash loop would sample nothing at all.
	if g.seq, err = openSeq(cfg.Spool.Dir, g.spool.MakeRoom); err != nil {
		g.spool.Close()
		g.lock.Close()
		return nil, err
	}
	g.bootSeq = g.seq.next
	g.noteSeq(LastBatch{})
	key, created, err := loadOrCreateKey(cfg.Spool.Dir)
	if err != nil {
		g.spool.Close()
		g.lock.Close()
		return nil, err
	}
	g.ident = identityOf(key.Public().(ed25519.PublicKey), filepath.Join(cfg.Spool.Dir, KeyFile))
	if created {
		g.log.Info("gateway key made: register its public key with the city", zap.String("public_key", g.ident.PublicKey),
			zap.String("kid", g.ident.KeyID), zap.String("file", g.ident.File))
	}
	if g.board, err = boards.Open(cfg.Gateway.Board, cfg.Sim.Seed); err != nil {
		g.spool.Close()
		g.lock.Close()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	// gw, not g: every error return below sets the named result g to nil before this runs.
	gw := g
	defer func() {
		if err != nil {
			gw.closeSensors()
			gw.board.Close()
			gw.spool.Close()
			if gw.replay != nil {
				gw.replay.Close()
			}
			gw.lock.Close()
		}
	}()
	for _, sc := range cfg.Sensors {
		dev, err := g.board.OpenSensor(boards.SensorSpec{Name: sc.Name, Driver: sc.Driver, Bus: sc.Bus,
			Address: sc.Address, Pin: sc.Pin, Pins: sc.Pins, Interval: sc.Interval.D(), Options: sc.Opts})
		if err != nil {
			return nil, fmt.Errorf("gateway: open sensor %s: %w", sc.Name, err)
		}
		st := &sensorState{name: sc.Name, driver: sc.Driver, dev: dev, firstChan: uint32(len(g.chans)),
			retimed: make(chan struct{}, 1), phase: sc.Phase.D()}
		st.interval.Store(int64(sc.Interval.D()))
		for _, ch := range dev.Channels() {
			g.chans = append(g.chans, senml.Channel{Name: "/" + sc.Name + "/" + ch.Name, Unit: ch.Unit, Resolution: ch.Resolution})
		}
		g.sensors = append(g.sensors, st)
	}
	if err := g.wirePressure(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	ringCap := cfg.Buffer.Capacity
	if cfg.Buffer.Auto {
		ringCap = autoRingCapacity(readingRate(g.sensors), cfg.Batch.MaxReadings, cfg.Batch.MaxAge.D(), cfg.Buffer.Capacity)
	}
	if g.ring, err = buffer.NewRing(ringCap); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.enc, err = senml.NewEncoder(cfg.Gateway.ID, g.bootID, g.chans, cfg.Batch.MaxReadings); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	maxPack := 64 + 24*cfg.Batch.MaxReadings
	if g.signer, err = cosebatch.NewSigner(key, g.bootID, maxPack); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.resign, err = cosebatch.NewSigner(key, g.bootID, maxPack); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.sealer, err = cfg.Cloud.Seal.Sealer(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	lo, err := g.linkSecurity()
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	prof, err := profile.Build(cfg.ProfileInput(time.Now()))
	if err != nil {
		return nil, fmt.Errorf("gateway: cloud profile: %w", err)
	}
	if !cfg.Generic() {
		lo.Credentials = func() (string, string) { return prof.Credentials(time.Now()) }
	}
	cmds, err := g.openCommands()
	if err != nil {
		return nil, fmt.Errorf("gateway: commands: %w", err)
	}
	g.link, err = cloudsync.New(cloudsync.Options{
		TLS: lo.TLS, Credentials: lo.Credentials, Topics: &prof.Topics, Limits: prof.Limits,
		NextProtos: prof.NextProtos, CredentialsTTL: prof.CredentialsTTL, Commands: cmds,
		Brokers: prof.Brokers, ClientID: prof.ClientID, GatewayID: cfg.Gateway.ID,
		TopicPrefix: cfg.Cloud.TopicPrefix, KeepAlive: cfg.Cloud.KeepAlive.D(),
		MaxInflight: cfg.Cloud.MaxInflight, Version: opts.Version, BootID: g.bootID,
		ConfigHash: cfg.Hash, Log: g.log, OnResult: g.onResult, Detail: g.statusDetail,
		ReconnectMin: cfg.Cloud.Reconnect.Min.D(), ReconnectMax: cfg.Cloud.Reconnect.Max.D(),
		ReconnectSpread: cfg.Cloud.Reconnect.Spread.D(),
		StatusEvery:     cfg.Cloud.StatusInterval.D(),
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return g, nil
}

// linkSecurity builds the link's TLS configuration (certificate files re-read when they change) and
// its credentials provider (the password file re-read on every connection attempt).
func (g *Gateway) linkSecurity() (cloudsync.Options, error) {
	var o cloudsync.Options
	c := g.cfg.Cloud
	anyTLS := c.TLS != (config.TLS{})
	for _, b := range c.Brokers {
		anyTLS = anyTLS || tlsconf.IsTLS(b)
	}
	if anyTLS {
		loader, err := tlsconf.New(tlsconf.Files{CA: c.TLS.CA, Cert: c.TLS.Cert, Key: c.TLS.Key, ServerName: c.TLS.ServerName}, g.log)
		if err != nil {
			return o, err
		}
		o.TLS = func(b *url.URL) (*tls.Config, error) {
			if !tlsconf.IsTLS(b.String()) {
				return nil, nil
			}
			return loader.ForBroker(b), nil
		}
	}
	if c.Username != "" {
		user, file, log := c.Username, c.PasswordFile, g.log
		o.Credentials = func() (string, string) {
			if file == "" {
				return user, ""
			}
			b, err := os.ReadFile(file)
			if err != nil {
				log.Error("mqtt password file unreadable; connecting without a password", zap.String("file", file), zap.Error(err))
				return user, ""
			}
			return user, strings.TrimSpace(string(b))
		}
	}
	return o, nil
}
