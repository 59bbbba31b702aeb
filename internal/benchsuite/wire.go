package benchsuite

import (
	"fmt"
	"time"

	"github.com/wayside-iot/wayside/cloudsync/profile"
)

// CabinetTopic is the cabinet's telemetry topic under the default prefix.
var CabinetTopic = profile.PrefixTopics(profile.DefaultTopicPrefix, CabinetGatewayID).Telemetry

// PublishBytes is the size of an MQTT 3.1.1 PUBLISH packet at QoS 1 (paho v1.5.1 connects with
// protocol level 4): fixed header (1 byte and the remaining length as a 1..4-byte varint), topic (2-byte
// length and the bytes), packet identifier (2 bytes), payload.
func PublishBytes(topic string, payload int) int {
	rem := 2 + len(topic) + 2 + payload
	return 1 + varintLen(rem) + rem
}

// PubackBytes is the size of the PUBACK the broker answers a QoS 1 PUBLISH with: fixed header and
// packet identifier.
const PubackBytes = 4

func varintLen(n int) int {
	l := 1
	for n >= 128 {
		n >>= 7
		l++
	}
	return l
}

// Transport is what carrying one MQTT packet over TLS and TCP/IP adds. The defaults are stated
// assumptions, not measurements of a cellular link.
type Transport struct {
	// TLSRecord is the overhead of one TLS record: 22 bytes for TLS 1.3 with an AEAD cipher (5-byte
	// header, 1-byte inner content type, 16-byte tag; RFC 8446 section 5.2). Each MQTT packet is one
	// record (Go's crypto/tls writes one per Write, paho writes a packet per Write).
	TLSRecord int
	// TLSMaxPlaintext is the most plaintext one record carries (2^14 bytes).
	TLSMaxPlaintext int
	// Header is an IPv4 + TCP header with the timestamps option: 20 + 20 + 12 bytes per segment.
	Header int
	// MSS is the TCP payload per segment on a 1500-byte MTU with timestamps: 1448.
	MSS int
	// AckEvery is how many full segments the receiver acknowledges at once (delayed ACK: 2).
	AckEvery int
}

// DefaultTransport is TLS 1.3 over IPv4 on a 1500-byte MTU, each batch alone on the link (a batch
// every few seconds): the PUBLISH goes out in ceil(len/MSS) segments, the broker acknowledges every
// second one and sends the PUBACK with the acknowledgement of the last, and the gateway acknowledges
// the PUBACK in a segment of its own (nothing else to send before its delayed-ACK timer fires).
// Billed volume is counted as IP bytes in both directions; keep-alive pings, the retained status
// message and the TLS handshake of a new connection are not included.
var DefaultTransport = Transport{TLSRecord: 22, TLSMaxPlaintext: 1 << 14, Header: 52, MSS: 1448, AckEvery: 2}

// Cost is one batch's bytes at each layer, both directions summed.
type Cost struct {
	Payload int // the SenML pack
	MQTT    int // PUBLISH and PUBACK packets
	Wire    int // IP packets: MQTT in TLS records in TCP segments, and the TCP acknowledgements
}

// Batch returns the cost of publishing a payload of n bytes on topic at QoS 1.
func (t Transport) Batch(topic string, payload int) Cost {
	pub := PublishBytes(topic, payload)
	upTLS := pub + t.TLSRecord*ceilDiv(pub, t.TLSMaxPlaintext)
	segs := ceilDiv(upTLS, t.MSS)
	up := upTLS + t.Header*segs + t.Header // the segments, then the gateway's ACK of the PUBACK
	acks := max(ceilDiv(segs, t.AckEvery)-1, 0)
	down := PubackBytes + t.TLSRecord + t.Header + acks*t.Header
	return Cost{Payload: payload, MQTT: pub + PubackBytes, Wire: up + down}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Month is the 30-day month the monthly volumes are given for.
const Month = 30 * 24 * time.Hour

// MonthlyBytes is the volume of a month at readingsPerSecond when each reading costs perReading bytes.
func MonthlyBytes(perReading float64, readingsPerSecond int) float64 {
	return perReading * float64(readingsPerSecond) * Month.Seconds()
}

// FormatBytes prints a byte count with a decimal unit (kB, MB, GB: data plans bill in powers of ten).
func FormatBytes(b float64) string {
	switch {
	case b >= 1e9:
		return fmt.Sprintf("%.2f GB", b/1e9)
	case b >= 1e6:
		return fmt.Sprintf("%.0f MB", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.1f kB", b/1e3)
	}
	return fmt.Sprintf("%.0f B", b)
}
