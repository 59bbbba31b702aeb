package testbroker

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Wait bounds every step of a Client: connect, subscribe, publish, the next message.
const Wait = 5 * time.Second

// Client is a paho client for tests that keeps what its subscriptions receive, in arrival order, and
// fails the test when a step does not complete within Wait. Its options should set OrderMatters(true)
// (ClientOptions does) when a test infers a dropped message from its absence before a later one.
type Client struct {
	t   testing.TB
	C   mqtt.Client
	got chan mqtt.Message
}

// ClientOptions are a test client's defaults: id, broker url, user and password, messages in order, a 3 s
// connect timeout and no reconnection.
func ClientOptions(id, url, user, pass string) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(user).SetPassword(pass).
		SetOrderMatters(true).SetConnectTimeout(3 * time.Second).SetAutoReconnect(false)
}

// NewClient makes a client from o without connecting it; Connect does, and the test's end
// disconnects it.
func NewClient(t testing.TB, o *mqtt.ClientOptions) *Client {
	return &Client{t: t, C: mqtt.NewClient(o), got: make(chan mqtt.Message, 16)}
}

// Connect makes one connection attempt; the error is the connect token's.
func (c *Client) Connect() error {
	tok := c.C.Connect()
	if !tok.WaitTimeout(Wait) {
		return fmt.Errorf("connect: no answer within %v", Wait)
	}
	if err := tok.Error(); err != nil {
		return err
	}
	c.t.Cleanup(func() { c.C.Disconnect(0) })
	return nil
}

// Subscribe subscribes at QoS 1; the messages go to Next.
func (c *Client) Subscribe(filter string) {
	c.t.Helper()
	tok := c.C.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { c.got <- m })
	if !tok.WaitTimeout(Wait) || tok.Error() != nil {
		c.t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
}

// Publish publishes payload at QoS 1 and waits for the broker's acknowledgement.
func (c *Client) Publish(topic, payload string) {
	c.t.Helper()
	tok := c.C.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(Wait) || tok.Error() != nil {
		c.t.Fatalf("publish %s: %v (completed: %v)", topic, tok.Error(), tok.WaitTimeout(0))
	}
}

// Next returns the next message received, or fails the test after Wait.
func (c *Client) Next() mqtt.Message {
	c.t.Helper()
	select {
	case m := <-c.got:
		return m
	case <-time.After(Wait):
		c.t.Fatalf("no message within %v", Wait)
		return nil
	}
}
