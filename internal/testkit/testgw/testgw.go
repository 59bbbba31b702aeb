// Package testgw is a gateway's pipeline from the encoder on, for the city side's tests: the SenML
// encoder, the COSE signer and the sealer as the gateway wires them, publishing through an MQTT client
// with the gateway's client id, persistent session and last will; and a plain CBOR reading of what it
// published, independent of the code under test.
package testgw

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/fxamacker/cbor/v2"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
)

// channels is a street cabinet's channel table, as the sim board has it.
var channels = []senml.Channel{
	{Name: "/env1/temperature", Unit: "Cel"}, {Name: "/env1/humidity", Unit: "%RH"},
	{Name: "/env1/pressure", Unit: "Pa"}, {Name: "/air1/pm2_5", Unit: "ug/m3"},
	{Name: "/radar1/speed", Unit: "m/s"}, {Name: "/gps/lat", Unit: "lat"},
}

// Gateway is a gateway's pipeline from the encoder on: SenML encoder, signer, optional sealer, as
// the gateway package wires them; it publishes through its own MQTT client.
type Gateway struct {
	ID     string
	Priv   ed25519.PrivateKey
	Pub    ed25519.PublicKey
	BootID string
	C      mqtt.Client
	Conn   net.Conn // the client's connection, to cut it (the last will)
	// Signed holds every batch made, by seq, as signed (before sealing): to check a database against,
	// and to republish.
	Signed map[uint64][]byte
	// Untrusted marks the seqs whose batches are stamped from a clock that is not trusted (wf 1).
	Untrusted map[uint64]bool

	enc  *senml.Encoder
	sign *cosebatch.Signer
	seal *cosebatch.Sealer
	mu   sync.Mutex
}

func New(t testing.TB, id string, sealer *cosebatch.Sealer) *Gateway {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	var bid [16]byte
	rand.Read(bid[:])
	g := &Gateway{ID: id, Priv: priv, Pub: pub, BootID: hex.EncodeToString(bid[:]), seal: sealer, Signed: map[uint64][]byte{}, Untrusted: map[uint64]bool{}}
	var err error
	if g.enc, err = senml.NewEncoder(id, g.BootID, channels, 100); err != nil {
		t.Fatal(err)
	}
	if g.sign, err = cosebatch.NewSigner(priv, g.BootID, 4096); err != nil {
		t.Fatal(err)
	}
	return g
}

// connect connects the gateway's client with its last will (offline, retained), as the gateway does.
func (g *Gateway) Connect(t testing.TB, brokerURL string) {
	t.Helper()
	will := fmt.Sprintf(`{"state":"offline","gateway":%q,"version":"test","boot_id":%q,"since":%q}`, g.ID, g.BootID, time.Now().UTC().Format(time.RFC3339))
	o := testbroker.ClientOptions("wayside-"+g.ID, brokerURL, "", "").SetCleanSession(false).
		SetBinaryWill("wayside/v1/"+g.ID+"/status", []byte(will), 1, true).
		SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", u.Host)
			g.Conn = c
			return c, err
		})
	g.C = mqtt.NewClient(o)
	if tok := g.C.Connect(); !tok.WaitTimeout(testbroker.Wait) || tok.Error() != nil {
		t.Fatalf("gateway %s: connect: %v", g.ID, tok.Error())
	}
	t.Cleanup(func() { g.C.Disconnect(0) })
}

// batch makes batch seq of n readings and returns what goes on the wire.
func (g *Gateway) Batch(t testing.TB, seq uint64, n int) []byte {
	rs := make([]buffer.Reading, n)
	t0 := time.Now().Add(-time.Minute).UnixNano()
	for i := range rs {
		ch := mrand.IntN(len(channels))
		rs[i] = buffer.Reading{Time: t0 + int64(i)*int64(250*time.Millisecond), Channel: uint32(ch), Value: 10 + 90*mrand.Float64()}
		if ch == 5 {
			rs[i].Value = 52 + mrand.Float64()
		}
		if g.Untrusted[seq] { // stamped before the clock was trusted: seconds since boot
			rs[i].Time, rs[i].Flags = int64(42+i)*int64(time.Second), buffer.FlagClockUntrusted
		}
	}
	pack, err := g.enc.Encode(seq, rs)
	if err != nil {
		t.Fatal(err)
	}
	signed := append([]byte(nil), g.sign.Sign(seq, pack)...)
	g.mu.Lock()
	g.Signed[seq] = signed
	g.mu.Unlock()
	return g.Wire(t, signed)
}

// wire seals a signed batch when the gateway seals.
func (g *Gateway) Wire(t testing.TB, signed []byte) []byte {
	if g.seal == nil {
		return signed
	}
	out, err := g.seal.Seal(signed)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (g *Gateway) Publish(t testing.TB, kind string, payload []byte, retained bool) {
	Publish(t, g.C, "wayside/v1/"+g.ID+"/"+kind, payload, retained)
}

func Publish(t testing.TB, c mqtt.Client, topic string, payload []byte, retained bool) {
	tok := c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(testbroker.Wait) || tok.Error() != nil {
		t.Errorf("publish %s: %v", topic, tok.Error())
	}
}

func (g *Gateway) Status(state string) []byte {
	return fmt.Appendf(nil, `{"state":%q,"gateway":%q,"version":"test","boot_id":%q,"since":%q,"detail":{"spool":{"backlog":0}}}`,
		state, g.ID, g.BootID, time.Now().UTC().Format(time.RFC3339))
}

// PlainReadings decodes a signed batch with plain CBOR, not with the code under test: the number of
// records and the sum of their values.
func PlainReadings(t testing.TB, signed []byte) (n int, sum float64) {
	t.Helper()
	var tag cbor.Tag
	if err := cbor.Unmarshal(signed, &tag); err != nil || tag.Number != 18 {
		t.Fatalf("not a COSE_Sign1: %v", err)
	}
	parts, ok := tag.Content.([]any)
	if !ok || len(parts) != 4 {
		t.Fatalf("COSE_Sign1 has not 4 parts")
	}
	var recs []map[any]any
	if err := cbor.Unmarshal(parts[2].([]byte), &recs); err != nil {
		t.Fatalf("pack: %v", err)
	}
	for _, r := range recs {
		switch v := r[uint64(2)].(type) {
		case float64:
			sum += v
		case float32:
			sum += float64(v)
		case uint64: // an integral value travels as a CBOR integer (senml)
			sum += float64(v)
		case int64:
			sum += float64(v)
		default:
			t.Fatalf("record without a numeric value: %v", r)
		}
	}
	return len(recs), sum
}

// CityKey makes a city key pair under kid city-test: its key file in dir (what the ingest reads) and
// the gateways' sealer.
func CityKey(t testing.TB, dir string) (path string, sealer *cosebatch.Sealer) {
	t.Helper()
	suite, _ := cosebatch.SuiteByName(cosebatch.DefaultSuite)
	k, err := cityopen.GenerateCityKey(suite, "city-test")
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, _ := k.MarshalPEM()
	path = dir + "/city.pem"
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	sealer, err = cosebatch.NewSealer(suite, k.KID, k.Priv.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return path, sealer
}
