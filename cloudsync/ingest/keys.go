package ingest

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
)

// The registered gateways: their public keys, from keys.gateways_file or the wayside_gateway_keys table.

// registry is the set of registered gateways and the opener built from it; replaced whole on a refresh.
type registry struct {
	keys   map[string]ed25519.PublicKey // by gateway id
	byKID  map[string]string            // kid -> gateway id
	opener *cityopen.Opener
}

// setKeys builds the opener for keys.
func (in *Ingest) setKeys(keys map[string]ed25519.PublicKey) error {
	r := &registry{keys: keys, byKID: map[string]string{}}
	o := cityopen.Options{CityKeys: in.city, RequireSealed: in.cfg.Keys.RequireSealed, Unverified: len(keys) == 0}
	for gw, pub := range keys {
		kid := string(cosebatch.KeyID(pub))
		if other, dup := r.byKID[kid]; dup {
			return fmt.Errorf("ingest: gateways %s and %s are registered with the same key: each gateway has its own", other, gw)
		}
		r.byKID[kid] = gw
		o.Gateways = append(o.Gateways, pub)
	}
	op, err := cityopen.New(o)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	r.opener = op
	in.reg.Store(r)
	return nil
}

// loadKeyTable reads wayside_gateway_keys.
func (in *Ingest) loadKeyTable(ctx context.Context) error {
	rows, err := in.pool.Query(ctx, `SELECT gateway, public_key FROM wayside_gateway_keys`)
	if err != nil {
		return fmt.Errorf("ingest: read wayside_gateway_keys: %w", err)
	}
	keys := map[string]ed25519.PublicKey{}
	for rows.Next() {
		var gw string
		var pub []byte
		if err := rows.Scan(&gw, &pub); err != nil {
			return fmt.Errorf("ingest: read wayside_gateway_keys: %w", err)
		}
		keys[gw] = pub
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ingest: read wayside_gateway_keys: %w", err)
	}
	if len(keys) == 0 {
		in.log.Warn("no gateway registered: every batch goes to quarantine until wayside_gateway_keys has rows (or give keys.gateways_file)")
	}
	old := in.reg.Load()
	if err := in.setKeys(keys); err != nil {
		return err
	}
	if old == nil || len(old.keys) != len(keys) {
		in.log.Info("gateway keys loaded", zap.Int("gateways", len(keys)))
	}
	return nil
}

func (in *Ingest) refreshKeys(ctx context.Context) {
	t := time.NewTicker(in.cfg.Keys.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := in.loadKeyTable(ctx); err != nil && ctx.Err() == nil {
				in.log.Warn("gateway keys not refreshed; the previous ones stay", zap.Error(err))
			}
		}
	}
}
