package ingest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
)

// The MQTT side: the subscription, the client options, and noticing a subscription that delivers nothing.

// TelemetryFilter is the subscription: shared unless mqtt.shared is false.
func (in *Ingest) TelemetryFilter() string {
	f := in.cfg.MQTT.TopicPrefix + "/+/telemetry"
	if *in.cfg.MQTT.Shared {
		f = "$share/" + in.cfg.MQTT.Group + "/" + f
	}
	return f
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
	o.SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
		if u.Scheme != "tcp" && u.Scheme != "mqtt" {
			return nil, fmt.Errorf("ingest: mqtt.broker scheme %q: this reference ingest speaks plain tcp:// (put it beside the broker, or terminate TLS in front)", u.Scheme)
		}
		return in.dial("tcp", u.Host)
	})
	return o
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

// watchSilence logs once when no telemetry has arrived for silentAfter, and once when it flows again.
// A whole city falling silent is rare; a subscription that a broker grants and never serves is not
// (RabbitMQ 3.10 does that with $share/...).
func (in *Ingest) watchSilence(ctx context.Context, filter string) {
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
			hint := "check the gateways and the broker"
			if *in.cfg.MQTT.Shared {
				hint = "on RabbitMQ set mqtt.shared: false (it grants $share subscriptions and delivers nothing to them)"
			}
			in.log.Warn("no telemetry", zap.Duration("for", quiet.Round(time.Second)), zap.String("filter", filter), zap.String("hint", hint))
		case silent && quiet < silentAfter:
			silent = false
			in.log.Info("telemetry flowing again", zap.String("filter", filter))
		}
	}
}
