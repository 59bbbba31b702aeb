package fleet

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/fxamacker/cbor/v2"
)

// checker is the set of separate MQTT clients that receive what the fleet publishes, at QoS 1 on
// persistent sessions, and verify each batch on their own: COSE_Sign1 and SenML read with plain CBOR
// (not cloudsync/senml or cosebatch), the Ed25519 signature checked with the gateway's registered
// public key, the header's seq equal to the pack's.
//
// Telemetry goes to tele clients that share one subscription ($share/..., MQTT 5's shared
// subscriptions, which mosquitto also grants its 3.1.1 clients) when there is more than one, so the
// broker spreads batches over several connections, each with its own in-flight window. Status,
// command replies and the commands themselves use a control client of their own, so a ping or an
// orderly offline never waits behind a telemetry backlog.
type checker struct {
	tele   []mqtt.Client
	ctl    mqtt.Client
	prefix string
	keys   map[string]ed25519.PublicKey // by gateway id; read-only once the checker runs
	dec    cbor.DecMode
	recs   cbor.DecMode // the pack's records: duplicate keys not tracked (a map per record)
	enc    cbor.EncMode

	mu       sync.Mutex
	seen     map[string]map[uint64]int // gateway → seq → times received
	readings map[string]sums           // gateway → readings in distinct batches, and their checksum
	bad      []string                  // the first few batches that failed a check
	badCount int
	statuses map[string]string // gateway → state of its last status message
	replies  map[string]int    // gateway → command replies with ok true
	received int               // telemetry messages, duplicates included
	byClient []int             // telemetry messages each tele client received
}

// CheckerGroup names the checker's shared subscription.
const CheckerGroup = "wayside-fleet-checker"

// newChecker connects the control client and clients telemetry clients (at least one; more than one
// needs a broker with shared subscriptions).
func newChecker(brokerURL, prefix string, keys map[string]ed25519.PublicKey, clients int) (*checker, error) {
	c, err := newCheckerState(prefix, keys)
	if err != nil {
		return nil, err
	}
	filter := prefix + "/+/telemetry"
	if clients > 1 {
		filter = "$share/" + CheckerGroup + "/" + filter
	}
	c.ctl, err = c.connect(brokerURL, CheckerGroup+"-ctl", map[string]byte{prefix + "/+/status": 1,
		prefix + "/+/reply/+": 1}, -1)
	c.byClient = make([]int, max(clients, 1))
	for i := range c.byClient {
		if err != nil {
			break
		}
		var cl mqtt.Client
		cl, err = c.connect(brokerURL, fmt.Sprintf("%s-%d", CheckerGroup, i), map[string]byte{filter: 1}, i)
		c.tele = append(c.tele, cl)
	}
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func newCheckerState(prefix string, keys map[string]ed25519.PublicKey) (*checker, error) {
	dec, err := cbor.DecOptions{MaxNestedLevels: 8, MaxArrayElements: 100000, MaxMapPairs: 1000,
		DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden}.DecMode()
	if err != nil {
		return nil, fmt.Errorf("fleet: checker: %w", err)
	}
	recs, err := cbor.DecOptions{MaxNestedLevels: 8, MaxArrayElements: 100000, MaxMapPairs: 1000,
		IndefLength: cbor.IndefLengthForbidden}.DecMode()
	if err != nil {
		return nil, fmt.Errorf("fleet: checker: %w", err)
	}
	enc, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		return nil, fmt.Errorf("fleet: checker: %w", err)
	}
	return &checker{prefix: prefix, keys: keys, dec: dec, recs: recs, enc: enc, seen: map[string]map[uint64]int{},
		readings: map[string]sums{}, statuses: map[string]string{}, replies: map[string]int{}}, nil
}

// connect opens one client on a persistent session that subscribes to subs on every connection
// (harmless on a resumed session, needed on a new one); index is its place in byClient (-1: none).
func (c *checker) connect(brokerURL, id string, subs map[string]byte, index int) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(id).
		SetCleanSession(false).SetOrderMatters(false).SetKeepAlive(30 * time.Second).
		SetAutoReconnect(true).SetMaxReconnectInterval(500 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(500 * time.Millisecond).SetResumeSubs(true)
	handle := func(cl mqtt.Client, m mqtt.Message) { c.onMessage(index, m) }
	o.SetOnConnectHandler(func(cl mqtt.Client) { cl.SubscribeMultiple(subs, handle) })
	cl := mqtt.NewClient(o)
	tok := cl.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		cl.Disconnect(0)
		return nil, fmt.Errorf("fleet: checker %s connect %s: %v", id, brokerURL, tok.Error())
	}
	return cl, nil
}

func (c *checker) close() {
	for _, cl := range append([]mqtt.Client{c.ctl}, c.tele...) {
		if cl != nil {
			cl.Disconnect(250)
		}
	}
}

// onMessage runs on paho's goroutines (OrderMatters false), so it only takes the lock to record.
// index is the receiving client's place in byClient (-1: the control client).
func (c *checker) onMessage(index int, m mqtt.Message) {
	rest, ok := strings.CutPrefix(m.Topic(), c.prefix+"/")
	if !ok {
		return
	}
	gw, kind, _ := strings.Cut(rest, "/")
	switch {
	case kind == "telemetry":
		seq, n, err := c.verify(gw, m.Payload())
		c.mu.Lock()
		defer c.mu.Unlock()
		c.received++
		if index >= 0 {
			c.byClient[index]++
		}
		if err != nil {
			c.badCount++
			if len(c.bad) < 5 {
				c.bad = append(c.bad, fmt.Sprintf("%s: %v", gw, err))
			}
			return
		}
		s := c.seen[gw]
		if s == nil {
			s = map[uint64]int{}
			c.seen[gw] = s
		}
		if s[seq] == 0 {
			r := c.readings[gw]
			r.add(n)
			c.readings[gw] = r
		}
		s[seq]++
	case kind == "status":
		var st struct {
			State string `json:"state"`
		}
		if json.Unmarshal(m.Payload(), &st) == nil {
			c.mu.Lock()
			c.statuses[gw] = st.State
			c.mu.Unlock()
		}
	case strings.HasPrefix(kind, "reply/"):
		var r struct {
			OK bool `json:"ok"`
		}
		if json.Unmarshal(m.Payload(), &r) == nil && r.OK {
			c.mu.Lock()
			c.replies[gw]++
			c.mu.Unlock()
		}
	}
}

// senmlRecord is what the checker reads of a SenML record (RFC 8428 section 6: bn is -2, bt -3, bv -5,
// v 2, t 6; "seq" is the pack's batch number, docs/mqtt.md); the rest is skipped. A struct rather than
// a map of interfaces: the checker reads every record the fleet sends.
type senmlRecord struct {
	BaseName  string   `cbor:"-2,keyasint"`
	BaseTime  *float64 `cbor:"-3,keyasint"`
	BaseValue *float64 `cbor:"-5,keyasint"`
	Value     *float64 `cbor:"2,keyasint"`
	Time      float64  `cbor:"6,keyasint"`
	Seq       *uint64  `cbor:"seq"`
}

// sums is a checksum of a gateway's readings that the database can compute too: each value in
// millionths and each time in milliseconds, rounded, summed as integers (so the order of the rows
// does not matter).
type sums struct {
	Readings    int
	ValueMicros int64 // Σ roundToEven(value × 10^6), what PostgreSQL's round(double precision) gives
	TimeMillis  int64 // Σ round(time × 1000), the milliseconds the ingest stores
}

func (a *sums) add(b sums) {
	a.Readings += b.Readings
	a.ValueMicros += b.ValueMicros
	a.TimeMillis += b.TimeMillis
}

// verify reads a signed batch as docs/mqtt.md lays it out and returns its seq and reading count.
func (c *checker) verify(gw string, msg []byte) (seq uint64, sum sums, err error) {
	pub := c.keys[gw]
	if pub == nil {
		return 0, sums{}, errors.New("unknown gateway")
	}
	var tag cbor.RawTag
	if err := c.dec.Unmarshal(msg, &tag); err != nil {
		return 0, sums{}, fmt.Errorf("not CBOR: %w", err)
	}
	if tag.Number != 18 {
		return 0, sums{}, fmt.Errorf("tag %d, want 18 (COSE_Sign1)", tag.Number)
	}
	var parts struct {
		_           struct{} `cbor:",toarray"`
		Protected   []byte
		Unprotected map[int64]any
		Payload     []byte
		Signature   []byte
	}
	if err := c.dec.Unmarshal(tag.Content, &parts); err != nil {
		return 0, sums{}, fmt.Errorf("COSE_Sign1: %w", err)
	}
	var hdr map[int64]any
	if err := c.dec.Unmarshal(parts.Protected, &hdr); err != nil {
		return 0, sums{}, fmt.Errorf("protected header: %w", err)
	}
	if alg, _ := hdr[1].(int64); alg != -8 {
		return 0, sums{}, fmt.Errorf("alg %v, want -8 (EdDSA)", hdr[1])
	}
	hseq, ok := hdr[-65537].(uint64)
	if !ok {
		return 0, sums{}, fmt.Errorf("header seq %T", hdr[-65537])
	}
	toSign, err := c.enc.Marshal([]any{"Signature1", parts.Protected, []byte{}, parts.Payload})
	if err != nil {
		return 0, sums{}, err
	}
	if !ed25519.Verify(pub, toSign, parts.Signature) {
		return 0, sums{}, errors.New("signature does not verify")
	}
	var pack []senmlRecord
	if err := c.recs.Unmarshal(parts.Payload, &pack); err != nil {
		return 0, sums{}, fmt.Errorf("SenML pack: %w", err)
	}
	if len(pack) == 0 {
		return 0, sums{}, errors.New("empty pack")
	}
	if pack[0].Seq == nil || *pack[0].Seq != hseq {
		return 0, sums{}, fmt.Errorf("pack seq %v, header seq %d", pack[0].Seq, hseq)
	}
	if !strings.HasPrefix(pack[0].BaseName, gw+"/") {
		return 0, sums{}, fmt.Errorf("base name %q not under %s", pack[0].BaseName, gw)
	}
	// Base time and base value carry over to the records after them (RFC 8428 section 4.6).
	var bt, bv float64
	sum = sums{Readings: len(pack)}
	for i, r := range pack {
		if r.Value == nil {
			return 0, sums{}, fmt.Errorf("record %d has no value", i)
		}
		if r.BaseTime != nil {
			bt = *r.BaseTime
		}
		if r.BaseValue != nil {
			bv = *r.BaseValue
		}
		sum.ValueMicros += int64(math.RoundToEven((bv + *r.Value) * 1e6))
		sum.TimeMillis += int64(math.Round((bt + r.Time) * 1000))
	}
	return hseq, sum, nil
}

// publishCommand sends a signed command request on the gateway's command topic at QoS 1 without
// waiting; the function it returns waits for the PUBACK until deadline.
func (c *checker) publishCommand(gw, name string, payload []byte) func(deadline time.Time) error {
	tok := c.ctl.Publish(c.prefix+"/"+gw+"/cmd/"+name, 1, false, payload)
	return func(deadline time.Time) error {
		if !tok.WaitTimeout(max(time.Until(deadline), 0)) {
			return fmt.Errorf("fleet: command %s to %s: no PUBACK by the deadline", name, gw)
		}
		if err := tok.Error(); err != nil {
			return fmt.Errorf("fleet: command %s to %s: %w", name, gw, err)
		}
		return nil
	}
}

// snapshot returns, per gateway, the seqs received (each once) and counters, under the lock.
func (c *checker) count() (received, distinct, duplicates, bad int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.seen {
		for _, k := range s {
			distinct++
			duplicates += k - 1
		}
	}
	return c.received, distinct, duplicates, c.badCount
}
