package fleet

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/fxamacker/cbor/v2"
)

// checker is the separate MQTT client that receives what the fleet publishes, at QoS 1 on a
// persistent session, and verifies each batch on its own: COSE_Sign1 and SenML read with plain CBOR
// (not cloudsync/senml or cosebatch), the Ed25519 signature checked with the gateway's registered
// public key, the header's seq equal to the pack's.
type checker struct {
	client mqtt.Client
	prefix string
	keys   map[string]ed25519.PublicKey // by gateway id; read-only once the checker runs
	dec    cbor.DecMode
	enc    cbor.EncMode

	mu       sync.Mutex
	seen     map[string]map[uint64]int // gateway → seq → times received
	readings map[string]int            // gateway → readings in distinct batches
	bad      []string                  // the first few batches that failed a check
	badCount int
	statuses map[string]string // gateway → state of its last status message
	replies  map[string]int    // gateway → command replies with ok true
	received int               // telemetry messages, duplicates included
}

func newChecker(brokerURL, prefix string, keys map[string]ed25519.PublicKey) (*checker, error) {
	dec, err := cbor.DecOptions{MaxNestedLevels: 8, MaxArrayElements: 100000, MaxMapPairs: 1000,
		DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden}.DecMode()
	if err != nil {
		return nil, fmt.Errorf("fleet: checker: %w", err)
	}
	enc, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		return nil, fmt.Errorf("fleet: checker: %w", err)
	}
	c := &checker{prefix: prefix, keys: keys, dec: dec, enc: enc, seen: map[string]map[uint64]int{},
		readings: map[string]int{}, statuses: map[string]string{}, replies: map[string]int{}}
	o := mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID("wayside-fleet-checker").
		SetCleanSession(false).SetOrderMatters(false).SetKeepAlive(30 * time.Second).
		SetAutoReconnect(true).SetMaxReconnectInterval(500 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(500 * time.Millisecond).SetResumeSubs(true)
	o.SetOnConnectHandler(func(cl mqtt.Client) {
		// Subscribed again on every connection: harmless on a resumed session, needed on a new one.
		cl.SubscribeMultiple(map[string]byte{prefix + "/+/telemetry": 1, prefix + "/+/status": 1,
			prefix + "/+/reply/+": 1}, c.onMessage)
	})
	c.client = mqtt.NewClient(o)
	tok := c.client.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("fleet: checker connect %s: %v", brokerURL, tok.Error())
	}
	return c, nil
}

func (c *checker) close() { c.client.Disconnect(250) }

// onMessage runs on paho's goroutines (OrderMatters false), so it only takes the lock to record.
func (c *checker) onMessage(_ mqtt.Client, m mqtt.Message) {
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
			c.readings[gw] += n
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

// verify reads a signed batch as docs/mqtt.md lays it out and returns its seq and reading count.
func (c *checker) verify(gw string, msg []byte) (seq uint64, readings int, err error) {
	pub := c.keys[gw]
	if pub == nil {
		return 0, 0, errors.New("unknown gateway")
	}
	var tag cbor.RawTag
	if err := c.dec.Unmarshal(msg, &tag); err != nil {
		return 0, 0, fmt.Errorf("not CBOR: %w", err)
	}
	if tag.Number != 18 {
		return 0, 0, fmt.Errorf("tag %d, want 18 (COSE_Sign1)", tag.Number)
	}
	var parts struct {
		_           struct{} `cbor:",toarray"`
		Protected   []byte
		Unprotected map[int64]any
		Payload     []byte
		Signature   []byte
	}
	if err := c.dec.Unmarshal(tag.Content, &parts); err != nil {
		return 0, 0, fmt.Errorf("COSE_Sign1: %w", err)
	}
	var hdr map[int64]any
	if err := c.dec.Unmarshal(parts.Protected, &hdr); err != nil {
		return 0, 0, fmt.Errorf("protected header: %w", err)
	}
	if alg, _ := hdr[1].(int64); alg != -8 {
		return 0, 0, fmt.Errorf("alg %v, want -8 (EdDSA)", hdr[1])
	}
	hseq, ok := hdr[-65537].(uint64)
	if !ok {
		return 0, 0, fmt.Errorf("header seq %T", hdr[-65537])
	}
	toSign, err := c.enc.Marshal([]any{"Signature1", parts.Protected, []byte{}, parts.Payload})
	if err != nil {
		return 0, 0, err
	}
	if !ed25519.Verify(pub, toSign, parts.Signature) {
		return 0, 0, errors.New("signature does not verify")
	}
	var pack []map[any]any
	if err := c.dec.Unmarshal(parts.Payload, &pack); err != nil {
		return 0, 0, fmt.Errorf("SenML pack: %w", err)
	}
	if len(pack) == 0 {
		return 0, 0, errors.New("empty pack")
	}
	if pseq, _ := pack[0]["seq"].(uint64); pseq != hseq {
		return 0, 0, fmt.Errorf("pack seq %v, header seq %d", pack[0]["seq"], hseq)
	}
	if bn, _ := pack[0][int64(-2)].(string); !strings.HasPrefix(bn, gw+"/") {
		return 0, 0, fmt.Errorf("base name %q not under %s", bn, gw)
	}
	for i, r := range pack {
		if _, ok := r[uint64(2)]; !ok { // CBOR unsigned keys decode as uint64
			return 0, 0, fmt.Errorf("record %d has no value", i)
		}
	}
	return hseq, len(pack), nil
}

// publishCommand sends a signed command request on the gateway's command topic at QoS 1 without
// waiting; the function it returns waits for the PUBACK until deadline.
func (c *checker) publishCommand(gw, name string, payload []byte) func(deadline time.Time) error {
	tok := c.client.Publish(c.prefix+"/"+gw+"/cmd/"+name, 1, false, payload)
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
