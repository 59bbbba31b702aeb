package gateway_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"testing"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/gateway"
)

// openBatch opens a telemetry payload as the city would: the city keys decrypt it when sealed, the
// gateway key in stateDir (spool.dir) verifies its signature and the seq and boot id it binds.
func openBatch(t testing.TB, stateDir string, payload []byte, city ...cityopen.CityKey) *senml.Pack {
	t.Helper()
	id, err := gateway.ReadIdentity(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.StdEncoding.DecodeString(id.PublicKey)
	op, err := cityopen.New(cityopen.Options{Gateways: []ed25519.PublicKey{pub}, CityKeys: city})
	if err != nil {
		t.Fatal(err)
	}
	b, err := op.Open(payload)
	if err != nil {
		t.Fatalf("open batch: %v", err)
	}
	return b.Pack
}
