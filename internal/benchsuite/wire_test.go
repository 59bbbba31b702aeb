package benchsuite

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/wayside-iot/wayside/internal/testkit/testpki"
)

// TestPublishBytesMatchesPaho writes real PUBLISH and PUBACK packets with paho's packet code and
// compares their sizes, across the remaining-length varint's 1..4-byte steps.
func TestPublishBytesMatchesPaho(t *testing.T) {
	for _, n := range []int{0, 1, 90, 91, 92, 127, 1888, 16383, 16384, 20000, 2_097_100, 2_097_200} {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.Qos, p.TopicName, p.MessageID, p.Payload = 1, CabinetTopic, 4711, make([]byte, n)
		var buf bytes.Buffer
		if err := p.Write(&buf); err != nil {
			t.Fatal(err)
		}
		if got := PublishBytes(CabinetTopic, n); got != buf.Len() {
			t.Errorf("payload %d: PublishBytes %d, paho wrote %d", n, got, buf.Len())
		}
	}
	ack := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
	ack.MessageID = 4711
	var buf bytes.Buffer
	if err := ack.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != PubackBytes {
		t.Errorf("PUBACK: %d bytes, paho wrote %d", PubackBytes, buf.Len())
	}
}

// countConn counts the bytes written through a connection.
type countConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// TestTLSRecordOverhead measures what Go's crypto/tls adds to a write on a TLS 1.3 connection over a
// real loopback socket: DefaultTransport.TLSRecord per record, records of at most TLSMaxPlaintext once
// the connection has sent its first 128 KiB (before that Go sizes records to a TCP segment).
func TestTLSRecordOverhead(t *testing.T) {
	ca := testpki.NewCA(t, "bench-ca")
	srv := ca.Server(t)
	cert, err := tls.X509KeyPair(srv.CertPEM, srv.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	raw, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cc := &countConn{Conn: raw}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	c := tls.Client(cc, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	write := func(n int) int64 {
		before := cc.n.Load()
		if _, err := c.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		return cc.n.Load() - before
	}
	tr := DefaultTransport
	if got := write(100); got != 100+int64(tr.TLSRecord) {
		t.Fatalf("100 bytes: %d on the socket, want %d", got, 100+tr.TLSRecord)
	}
	write(200 << 10) // past Go's dynamic record sizing
	for _, n := range []int{1, 1888, 13234, tr.TLSMaxPlaintext, tr.TLSMaxPlaintext + 1, 40000} {
		want := n + tr.TLSRecord*ceilDiv(n, tr.TLSMaxPlaintext)
		if got := write(n); got != int64(want) {
			t.Errorf("%d bytes: %d on the socket, the model says %d", n, got, want)
		}
	}
}

// TestTransportBatch checks the layer sums and the segment arithmetic at a segment boundary.
func TestTransportBatch(t *testing.T) {
	tr := DefaultTransport
	prev := Cost{}
	for p := 0; p < 40000; p += 97 {
		c := tr.Batch(CabinetTopic, p)
		if c.Payload != p || c.MQTT != PublishBytes(CabinetTopic, p)+PubackBytes || c.Wire <= c.MQTT || c.Wire <= prev.Wire {
			t.Fatalf("payload %d: %+v (previous %+v)", p, c, prev)
		}
		prev = c
	}
	// The largest payload that fits one segment, and one byte more.
	fits := 0
	for p := 0; p < 2000; p++ {
		if pub := PublishBytes(CabinetTopic, p); pub+tr.TLSRecord <= tr.MSS {
			fits = p
		}
	}
	one, two := tr.Batch(CabinetTopic, fits), tr.Batch(CabinetTopic, fits+1)
	if one.Wire != PublishBytes(CabinetTopic, fits)+2*tr.TLSRecord+3*tr.Header+PubackBytes {
		t.Fatalf("one segment: %+v", one)
	}
	if two.Wire-one.Wire != 1+tr.Header {
		t.Fatalf("a second segment adds %d bytes, want %d", two.Wire-one.Wire, 1+tr.Header)
	}
	if got := MonthlyBytes(1, 20); got != 20*30*86400 {
		t.Fatalf("monthly %v", got)
	}
}
