package testrabbit

import (
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	amqp "github.com/rabbitmq/amqp091-go"
)

func connect(t *testing.T, url, id string, clean bool, got chan string, lost chan error) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(clean).SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second).SetOrderMatters(false).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			if got != nil {
				got <- m.Topic() + "=" + string(m.Payload())
			}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			if lost != nil {
				lost <- err
			}
		})
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", id, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func wait(t *testing.T, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("%v", tok.Error())
	}
}

func within(ch chan string, d time.Duration) []string {
	var out []string
	tm := time.After(d)
	for {
		select {
		case s := <-ch:
			out = append(out, s)
		case <-tm:
			return out
		}
	}
}

// TestCluster starts a 3-node cluster and checks what docs/mqtt.md says of RabbitMQ 3.10's MQTT plugin,
// and that each node's AMQP listener (AMQPURL) is up.
func TestCluster(t *testing.T) {
	c := Start(t, 3)
	out, err := c.Nodes[2].Ctl("cluster_status")
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.Nodes {
		if !strings.Contains(out, nd.Name) {
			t.Errorf("cluster_status on node 3 does not name %s:\n%s", nd.Name, out)
		}
	}
	n1, n2 := c.Nodes[0].MQTTURL, c.Nodes[1].MQTTURL
	pub := connect(t, n1, "pub", true, nil, nil)

	// Retained: an exact-topic subscriber on the same node gets it, a wildcard one does not.
	wait(t, pub.Publish("wayside/v1/gw-1/status", 1, true, "online"))
	time.Sleep(300 * time.Millisecond)
	got := make(chan string, 10)
	s := connect(t, n1, "sub-exact", true, got, nil)
	wait(t, s.Subscribe("wayside/v1/gw-1/status", 1, nil))
	if r := within(got, 2*time.Second); len(r) != 1 {
		t.Errorf("retained, exact topic, same node: got %v, want the status", r)
	}
	w := connect(t, n1, "sub-wild", true, got, nil)
	wait(t, w.Subscribe("wayside/v1/+/status", 1, nil))
	if r := within(got, 2*time.Second); len(r) != 0 {
		t.Errorf("retained, wildcard: got %v; docs/mqtt.md says RabbitMQ 3.10 sends none", r)
	}
	x := connect(t, n2, "sub-other-node", true, got, nil)
	wait(t, x.Subscribe("wayside/v1/gw-1/status", 1, nil))
	if r := within(got, 2*time.Second); len(r) != 0 {
		t.Errorf("retained, exact topic, another node: got %v; docs/mqtt.md says the store is per node", r)
	}

	// QoS 2 is granted as QoS 1.
	tok := x.Subscribe("wayside/v1/gw-1/cmd/+", 2, nil)
	wait(t, tok)
	if q := tok.(*mqtt.SubscribeToken).Result()["wayside/v1/gw-1/cmd/+"]; q != 1 {
		t.Errorf("QoS 2 subscription granted QoS %d; docs/mqtt.md says 1", q)
	}

	// $share: granted, then silent.
	sh := connect(t, n2, "sub-share", true, got, nil)
	wait(t, sh.Subscribe("$share/city/wayside/v1/+/telemetry", 1, nil))
	wait(t, pub.Publish("wayside/v1/gw-1/telemetry", 1, false, "batch"))
	if r := within(got, 2*time.Second); len(r) != 0 {
		t.Errorf("$share subscription got %v; docs/mqtt.md says RabbitMQ 3.10 delivers nothing to it", r)
	}

	// A '.' in a topic stays a '.' in the routing key (only '/' becomes '.'), a word separator for
	// AMQP and for the plugin's own subscriptions: cab.7's telemetry misses wayside/v1/+/telemetry,
	// and an MQTT subscriber gets a/b.c/d as a/b/c/d.
	conn, err := amqp.Dial(c.Nodes[2].AMQPURL)
	if err != nil {
		t.Fatalf("AMQP to node 3: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err == nil {
		err = ch.QueueBind(q.Name, "#", "amq.topic", false, nil)
	}
	deliveries, err2 := ch.Consume(q.Name, "", true, false, false, false, nil)
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	dots := connect(t, n2, "sub-dots", true, got, nil)
	wait(t, dots.Subscribe("wayside/v1/+/telemetry", 1, nil))
	wait(t, dots.Subscribe("a/#", 1, nil))
	wait(t, pub.Publish("wayside/v1/cab.7/telemetry", 1, false, "batch"))
	wait(t, pub.Publish("a/b.c/d", 1, false, "x"))
	if r := within(got, 2*time.Second); len(r) != 1 || r[0] != "a/b/c/d=x" {
		t.Errorf("MQTT subscribers got %v; docs/mqtt.md says a/b/c/d=x only", r)
	}
	var keys []string
	for len(keys) < 2 {
		select {
		case d := <-deliveries:
			keys = append(keys, d.RoutingKey)
		case <-time.After(2 * time.Second):
			t.Fatalf("AMQP routing keys: %v, want two", keys)
		}
	}
	if keys[0] != "wayside.v1.cab.7.telemetry" || keys[1] != "a.b.c.d" {
		t.Errorf("AMQP routing keys %v; docs/mqtt.md says wayside.v1.cab.7.telemetry, a.b.c.d", keys)
	}

	// The same client id on another node takes the session over: the first connection is closed.
	lost := make(chan error, 1)
	connect(t, n1, "wayside-gw-7", false, nil, lost)
	connect(t, n2, "wayside-gw-7", false, nil, nil)
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Error("a second connection with the same client id on another node did not close the first")
	}
}
