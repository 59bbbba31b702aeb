package ingest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/internal/testbroker"
)

// channels is a street cabinet's channel table, as the sim board has it.
var channels = []senml.Channel{
	{Name: "/env1/temperature", Unit: "Cel"}, {Name: "/env1/humidity", Unit: "%RH"},
	{Name: "/env1/pressure", Unit: "Pa"}, {Name: "/air1/pm2_5", Unit: "ug/m3"},
	{Name: "/radar1/speed", Unit: "m/s"}, {Name: "/gps/lat", Unit: "lat"},
}

// gateway is a gateway's pipeline from the encoder on: SenML encoder, signer, optional sealer, as
// the gateway package wires them; it publishes through its own MQTT client.
type gateway struct {
	id     string
	priv   ed25519.PrivateKey
	pub    ed25519.PublicKey
	bootID string
	enc    *senml.Encoder
	sign   *cosebatch.Signer
	seal   *cosebatch.Sealer
	c      mqtt.Client
	conn   net.Conn // the client's connection, to cut it (the last will)
	mu     sync.Mutex
	signed map[uint64][]byte // seq -> the signed batch, kept to check the database and to republish
	// untrusted batches are stamped from a clock that is not trusted (wf 1)
	untrusted map[uint64]bool
}

func newGateway(t testing.TB, id string, sealer *cosebatch.Sealer) *gateway {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	var bid [16]byte
	rand.Read(bid[:])
	g := &gateway{id: id, priv: priv, pub: pub, bootID: hex.EncodeToString(bid[:]), seal: sealer, signed: map[uint64][]byte{}, untrusted: map[uint64]bool{}}
	var err error
	if g.enc, err = senml.NewEncoder(id, g.bootID, channels, 100); err != nil {
		t.Fatal(err)
	}
	if g.sign, err = cosebatch.NewSigner(priv, g.bootID, 4096); err != nil {
		t.Fatal(err)
	}
	return g
}

// connect connects the gateway's client with its last will (offline, retained), as the gateway does.
func (g *gateway) connect(t testing.TB, brokerURL string) {
	t.Helper()
	will := fmt.Sprintf(`{"state":"offline","gateway":%q,"version":"test","boot_id":%q,"since":%q}`, g.id, g.bootID, time.Now().UTC().Format(time.RFC3339))
	o := testbroker.ClientOptions("wayside-"+g.id, brokerURL, "", "").SetCleanSession(false).
		SetBinaryWill("wayside/v1/"+g.id+"/status", []byte(will), 1, true).
		SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", u.Host)
			g.conn = c
			return c, err
		})
	g.c = mqtt.NewClient(o)
	if tok := g.c.Connect(); !tok.WaitTimeout(testbroker.Wait) || tok.Error() != nil {
		t.Fatalf("gateway %s: connect: %v", g.id, tok.Error())
	}
	t.Cleanup(func() { g.c.Disconnect(0) })
}

// batch makes batch seq of n readings and returns what goes on the wire.
func (g *gateway) batch(t testing.TB, seq uint64, n int) []byte {
	rs := make([]buffer.Reading, n)
	t0 := time.Now().Add(-time.Minute).UnixNano()
	for i := range rs {
		ch := mrand.IntN(len(channels))
		rs[i] = buffer.Reading{Time: t0 + int64(i)*int64(250*time.Millisecond), Channel: uint32(ch), Value: 10 + 90*mrand.Float64()}
		if ch == 5 {
			rs[i].Value = 52 + mrand.Float64()
		}
		if g.untrusted[seq] { // stamped before the clock was trusted: seconds since boot
			rs[i].Time, rs[i].Flags = int64(42+i)*int64(time.Second), buffer.FlagClockUntrusted
		}
	}
	pack, err := g.enc.Encode(seq, rs)
	if err != nil {
		t.Fatal(err)
	}
	signed := append([]byte(nil), g.sign.Sign(seq, pack)...)
	g.mu.Lock()
	g.signed[seq] = signed
	g.mu.Unlock()
	return g.wire(t, signed)
}

// wire seals a signed batch when the gateway seals.
func (g *gateway) wire(t testing.TB, signed []byte) []byte {
	if g.seal == nil {
		return signed
	}
	out, err := g.seal.Seal(signed)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (g *gateway) publish(t testing.TB, kind string, payload []byte, retained bool) {
	publish(t, g.c, "wayside/v1/"+g.id+"/"+kind, payload, retained)
}

func publish(t testing.TB, c mqtt.Client, topic string, payload []byte, retained bool) {
	tok := c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(testbroker.Wait) || tok.Error() != nil {
		t.Errorf("publish %s: %v", topic, tok.Error())
	}
}

func (g *gateway) status(state string) []byte {
	return fmt.Appendf(nil, `{"state":%q,"gateway":%q,"version":"test","boot_id":%q,"since":%q,"detail":{"spool":{"backlog":0}}}`,
		state, g.id, g.bootID, time.Now().UTC().Format(time.RFC3339))
}

// plainReadings decodes a signed batch with plain CBOR, not with the code under test: the number of
// records and the sum of their values.
func plainReadings(t testing.TB, signed []byte) (n int, sum float64) {
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
		default:
			t.Fatalf("record without a float value: %v", r)
		}
	}
	return len(recs), sum
}

// killSwitch stands in for the network of one ingest instance: kill cuts its broker connections
// without a DISCONNECT (as a crashed process's) and refuses new ones.
type killSwitch struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
}

func (k *killSwitch) dial(network, addr string) (net.Conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.dead {
		return nil, errors.New("killed")
	}
	c, err := net.Dial(network, addr)
	if err == nil {
		k.conns = append(k.conns, c)
	}
	return c, err
}

func (k *killSwitch) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dead = true
	for _, c := range k.conns {
		c.Close()
	}
}

// instance is a running Ingest.
type instance struct {
	in     *Ingest
	ks     *killSwitch
	cancel context.CancelFunc
	done   chan error
}

func startIngest(t testing.TB, cfg Config, log *zap.Logger, hook func(*Ingest)) *instance {
	t.Helper()
	in, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ks := &killSwitch{}
	in.dial = ks.dial
	if hook != nil {
		hook(in)
	}
	ctx, cancel := context.WithCancel(context.Background())
	inst := &instance{in: in, ks: ks, cancel: cancel, done: make(chan error, 1)}
	go func() { inst.done <- in.Run(ctx) }()
	t.Cleanup(inst.stop)
	select {
	case <-in.subscribed:
	case err := <-inst.done:
		t.Fatalf("ingest: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("ingest: not subscribed within 20s")
	}
	return inst
}

// stop ends Run and waits for it.
func (i *instance) stop() {
	i.cancel()
	if err := <-i.done; err != nil {
		panic(err) // only once: done is read once
	}
	i.done <- nil
}

// onTimeout, when set, runs before waitFor fails, to say more.
var onTimeout func()

// waitFor polls cond until it holds, or fails the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if onTimeout != nil {
				onTimeout()
			}
			t.Fatalf("%s: not within %v: %s", what, d, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func count(t testing.TB, pool *pgxpool.Pool, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func newLog(t testing.TB) *zap.Logger {
	lvl := zap.WarnLevel
	if os.Getenv("WAYSIDE_INGEST_DEBUG") == "1" {
		lvl = zap.DebugLevel
	}
	return zaptest.NewLogger(t, zaptest.Level(lvl))
}

// cityKey makes a city key pair: the file the ingest reads and the gateways' sealer.
func cityKey(t testing.TB, dir string) (path string, sealer *cosebatch.Sealer) {
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
