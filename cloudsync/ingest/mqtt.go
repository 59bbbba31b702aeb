package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/cloudsync/tlsconf"
)

// The MQTT side: the subscription, the client options, and noticing a subscription that delivers nothing.

// TelemetryFilter is the subscription: shared unless mqtt.shared is false (or amqp.url replaces it).
func (in *Ingest) TelemetryFilter() string {
	f := in.cfg.MQTT.TopicPrefix + "/+/telemetry"
	if in.cfg.MQTT.Shared != nil && *in.cfg.MQTT.Shared {
		f = "$share/" + in.cfg.MQTT.Group + "/" + f
	}
	return f
}

// startMQTT connects the telemetry client, retrying until the broker accepts it or ctx ends, and
// subscribes; its handler hands each message to work, or leaves it unacknowledged once stop is closed.
// It returns the function that disconnects (to call once the workers are done, so that their
// acknowledgements go out), or nil when ctx ended first or the broker refused the subscription (err).
func (in *Ingest) startMQTT(ctx context.Context, work chan<- message, stop <-chan struct{}) (closeFn func(), err error) {
	handler := func(_ mqtt.Client, m mqtt.Message) {
		in.lastMsg.Store(time.Now().UnixNano())
		select {
		case work <- m:
		case <-stop: // not acknowledged: the persistent session redelivers it
		}
	}
	// The default handler only, with no route per subscription: the session delivers messages before
	// Subscribe returns, and paho routes a shared subscription under its topic without "$share/GROUP/"
	// (a route added under the full filter would be a second route, each message handled and
	// acknowledged twice, and a second PUBACK can acknowledge the next message that reuses the id).
	//
	// The subscription is made again on every reconnection: a persistent session should keep it, but
	// mosquitto 2.0.11 restarted with persistence delivers nothing to a restored $share subscription
	// until it is made again (a plain one survives; TestBrokerRestart), and a broker without
	// persistence keeps no session at all.
	filter := in.TelemetryFilter()
	var connectedOnce atomic.Bool
	c := mqtt.NewClient(in.mqttOptions(in.cfg.MQTT.ClientID).
		SetCleanSession(false).SetAutoAckDisabled(true).SetOrderMatters(false).SetDefaultPublishHandler(handler).
		SetOnConnectHandler(func(c mqtt.Client) {
			in.log.Info("connected", zap.String("broker", in.cfg.MQTT.Broker))
			if connectedOnce.Swap(true) { // the first subscription is startMQTT's, below
				go func() {
					if err := wait(c.Subscribe(filter, 1, nil), "subscribe again "+filter); err != nil {
						in.log.Error("subscription not renewed after a reconnection", zap.Error(err))
						return
					}
					in.resubscribed.Add(1)
					in.log.Info("subscribed again", zap.String("filter", filter))
				}()
			}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { in.log.Warn("connection lost", zap.Error(err)) }))
	if err := in.connect(ctx, c); err != nil { // ctx ended first: stopped before it started
		c.Disconnect(0)
		return nil, nil
	}
	if err := wait(c.Subscribe(filter, 1, nil), "subscribe "+filter); err != nil {
		c.Disconnect(0)
		return nil, err
	}
	in.log.Info("consuming", zap.String("filter", filter), zap.Int("workers", in.cfg.Workers))
	return func() { c.Disconnect(250) }, nil
}

func (in *Ingest) mqttOptions(clientID string) *mqtt.ClientOptions {
	o := mqtt.NewClientOptions().AddBroker(in.cfg.MQTT.Broker).SetClientID(clientID).
		SetConnectTimeout(10 * time.Second).SetAutoReconnect(true).SetMaxReconnectInterval(10 * time.Second).
		SetKeepAlive(30 * time.Second)
	if in.cfg.MQTT.Username != "" {
		o.SetUsername(in.cfg.MQTT.Username)
	}
	if in.cfg.MQTT.PasswordFile != "" {
		o.SetCredentialsProvider(func() (string, string) {
			b, err := os.ReadFile(in.cfg.MQTT.PasswordFile)
			if err != nil {
				in.log.Error("mqtt.password_file", zap.Error(err))
			}
			return in.cfg.MQTT.Username, strings.TrimSpace(string(b))
		})
	}
	o.SetCustomOpenConnectionFn(in.openConnection)
	return o
}

// plainSchemes are the broker URL schemes the ingest dials without TLS; tlsconf.IsTLS says which take
// TLS, of which it dials all but websockets (wss).
var plainSchemes = map[string]bool{"tcp": true, "mqtt": true}

// checkBroker is the config rule for mqtt.broker and mqtt.tls: a scheme the ingest dials, and TLS
// files only for a TLS broker.
func checkBroker(broker string, t TLSConfig) error {
	u, err := url.Parse(broker)
	if err != nil {
		return errors.New("mqtt.broker is not a URL: give e.g. ssl://mqtt.city.example:8883 or tcp://127.0.0.1:1883 (flag -broker)")
	}
	secure := tlsconf.IsTLS(broker) && u.Scheme != "wss"
	if !secure && !plainSchemes[u.Scheme] {
		return fmt.Errorf("mqtt.broker %s: scheme %q: use ssl:// (or tls://, mqtts://) for TLS, or tcp:// for a broker beside the ingest", u.Redacted(), u.Scheme)
	}
	if field := t.firstSet(tlsFieldPrefix); field != "" && !secure {
		flag := "-tls-" + strings.ReplaceAll(strings.TrimPrefix(field, tlsFieldPrefix+"."), "_", "-")
		return fmt.Errorf("%s is set but mqtt.broker %s is plain %s://: use ssl://%s for TLS (flag -broker), or remove %s (flag %s) for a broker beside the ingest",
			field, u.Redacted(), u.Scheme, net.JoinHostPort(u.Hostname(), "8883"), field, flag)
	}
	return nil
}

// openConnection is paho's dialler: TCP through the dial seam, then, for a TLS broker, the handshake
// with the current TLS config (the files are re-read on every attempt), bounded by the connect timeout.
func (in *Ingest) openConnection(u *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	conn, err := in.dial("tcp", u.Host)
	if err != nil || in.tls == nil {
		return conn, err
	}
	tc := tls.Client(conn, in.tls.ForBroker(u))
	ctx, cancel := context.WithTimeout(context.Background(), o.ConnectTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ingest: tls handshake with %s: %w", u.Host, err)
	}
	return tc, nil
}

// connectBackoff is the pause after the first failed connection; it doubles up to connectBackoffMax.
var connectBackoff, connectBackoffMax = time.Second, 10 * time.Second

// connect connects c, trying again until it succeeds or ctx ends (then it returns ctx's error): a
// broker that is down, or refuses the ingest's certificate or credentials, is logged at every attempt
// and may be fixed without restarting the ingest (paho reconnects on its own once connected).
func (in *Ingest) connect(ctx context.Context, c mqtt.Client) error {
	delay := connectBackoff
	for attempt := 1; ; attempt++ {
		tok := c.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
		err := tok.Error()
		if err == nil {
			return nil
		}
		in.log.Warn("cannot connect to the broker, retrying", zap.String("broker", in.cfg.MQTT.Broker),
			zap.Int("attempt", attempt), zap.Duration("retry_in", delay), zap.Error(err))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		delay = min(2*delay, connectBackoffMax)
	}
}

// wait waits for a paho token, bounded.
func wait(tok mqtt.Token, what string) error {
	if !tok.WaitTimeout(15 * time.Second) {
		return fmt.Errorf("ingest: %s: no answer within 15s", what)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("ingest: %s: %w", what, err)
	}
	return nil
}

// gatewayOf returns the gateway id in <prefix>/<gw>/<kind>, or "".
func (in *Ingest) gatewayOf(topic, kind string) string {
	rest, ok := strings.CutPrefix(topic, in.cfg.MQTT.TopicPrefix+"/")
	if !ok {
		return ""
	}
	gw, ok := strings.CutSuffix(rest, "/"+kind)
	if !ok || strings.Contains(gw, "/") {
		return ""
	}
	return gw
}

// silentAfter is how long without telemetry makes the ingest say so.
var silentAfter = 5 * time.Minute

// silenceHintMQTT is what to check when the MQTT subscription delivers nothing: a shared subscription
// that a broker grants and never serves is not rare (RabbitMQ 3.10 does that with $share/...).
func (in *Ingest) silenceHintMQTT() string {
	if in.cfg.MQTT.Shared != nil && *in.cfg.MQTT.Shared {
		return "on RabbitMQ set mqtt.shared: false (it grants $share subscriptions and delivers nothing to them), or use amqp.url"
	}
	return "check the gateways and the broker"
}

// watchSilence logs once when no telemetry has arrived for silentAfter, and once when it flows again,
// naming where it comes from and what to check. A whole city falling silent is rare; a source that
// is in place and delivers nothing is not.
func (in *Ingest) watchSilence(ctx context.Context, from zap.Field, hint string) {
	t := time.NewTicker(silentAfter / 5)
	defer t.Stop()
	silent := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		quiet := time.Since(time.Unix(0, in.lastMsg.Load()))
		switch {
		case !silent && quiet >= silentAfter:
			silent = true
			in.log.Warn("no telemetry", zap.Duration("for", quiet.Round(time.Second)), from, zap.String("hint", hint))
		case silent && quiet < silentAfter:
			silent = false
			in.log.Info("telemetry flowing again", from)
		}
	}
}
