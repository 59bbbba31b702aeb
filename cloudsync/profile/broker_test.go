package profile

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
	"github.com/wayside-iot/wayside/internal/testkit/testpki"
)

// The broker tests play the platform with a real mosquitto: the broker is set up the way the cloud team
// would set up the platform (accounts whose passwords the test computes on its own, an ACL that allows
// exactly the platform's topics for the device), and the gateway side uses nothing but Params. They show
// the parameters are accepted as they are, that every topic the gateway uses is one the platform lets it
// use, and that a command round trip works with the platform's command and reply topics.

const brokerWait = 5 * time.Second

// connectTime is the time the gateway's connect attempts pretend to happen at (credentials depend on it).
var connectTime = time.Unix(1456971697-3600, 0)

type emulation struct {
	name  string
	in    Input             // Brokers is set to the test broker
	users map[string]string // the broker's accounts (none: certificate identities)
	acl   string
	certs bool // the broker requires client certificates and takes the username from the CN
	cloud testbroker.Options
	// upstream are the filters the cloud side reads the gateway's messages with.
	upstream []string
	// cmdTopic is where the cloud publishes a command; wantCmd what ParseCommand must make of it.
	cmdTopic string
	wantCmd  Command
	// badCredentials returns a gateway dial the broker must refuse.
	badCredentials func(p Params) (user, pass string)
}

func emulations(t *testing.T) []emulation {
	azureUser := "myhub.azure-devices.net/gw-7/?api-version=2021-04-12"
	aliyunUser := "gw-north-1&a1B2c3D4e5F"
	aliyunPass := aliyunStepByStep(sha256.New, testSecret, map[string]string{
		"clientId": "a1B2c3D4e5F.gw-north-1", "deviceName": testDN, "productKey": testPK}) // no timestamp (#20)
	cloudACL := "user cloud\ntopic readwrite #\ntopic readwrite $iothub/#\n"
	return []emulation{
		{
			name:  "generic",
			in:    Input{Profile: Generic, GatewayID: "gw-7", Username: "gw-7", Password: "gw-7-password"},
			users: map[string]string{"gw-7": "gw-7-password", "cloud": "cloud-password"},
			acl: "user gw-7\ntopic write wayside/v1/gw-7/telemetry\ntopic write wayside/v1/gw-7/status\n" +
				"topic write wayside/v1/gw-7/events\ntopic write wayside/v1/gw-7/reply/#\ntopic read wayside/v1/gw-7/cmd/#\n\n" + cloudACL,
			upstream: []string{"wayside/v1/gw-7/+", "wayside/v1/gw-7/reply/+"},
			cmdTopic: "wayside/v1/gw-7/cmd/set-interval", wantCmd: Command{Name: "set-interval"},
			badCredentials: func(Params) (string, string) { return "gw-7", "wrong" },
		},
		{
			name:  "aws-iot",
			in:    Input{Profile: AWSIoT, GatewayID: "gw-7"},
			certs: true,
			// An AWS IoT policy for the thing, as mosquitto ACL lines.
			acl: "user gw-7\ntopic write wayside/v1/gw-7/telemetry\ntopic write wayside/v1/gw-7/status\n" +
				"topic write wayside/v1/gw-7/events\ntopic write wayside/v1/gw-7/reply/#\ntopic read wayside/v1/gw-7/cmd/#\n\n" + cloudACL,
			upstream: []string{"wayside/v1/gw-7/+", "wayside/v1/gw-7/reply/+"},
			cmdTopic: "wayside/v1/gw-7/cmd/ping", wantCmd: Command{Name: "ping"},
		},
		{
			name: "azure-iothub",
			in: Input{Profile: AzureIoTHub, GatewayID: "gw-7",
				Azure: Azure{HubHost: "myhub.azure-devices.net", SharedAccessKey: testAzureKey}},
			users: map[string]string{
				azureUser: sasStepByStep(t, "myhub.azure-devices.net%2Fdevices%2Fgw-7", testAzureKey, connectTime.Add(time.Hour).Unix()),
				"cloud":   "cloud-password",
			},
			// The hub's device-facing topics for gw-7.
			acl: "user " + azureUser + "\ntopic write devices/gw-7/messages/events/#\n" +
				"topic write $iothub/twin/PATCH/properties/reported/#\ntopic read $iothub/twin/res/#\n" +
				"topic read $iothub/methods/POST/#\ntopic write $iothub/methods/res/#\n\n" + cloudACL,
			upstream: []string{"devices/gw-7/messages/events/#", "$iothub/twin/PATCH/#", "$iothub/methods/res/#"},
			cmdTopic: "$iothub/methods/POST/flush-spool/?$rid=2a", wantCmd: Command{Name: "flush-spool", RequestID: "2a"},
			// A token made a minute later is valid but different from the one the hub was given.
			badCredentials: func(p Params) (string, string) { return p.Credentials(connectTime.Add(time.Minute)) },
		},
		{
			name: "aliyun-iot",
			in: Input{Profile: AliyunIoT, GatewayID: "gw-7", Now: time.UnixMilli(1700000000000),
				Aliyun: Aliyun{ProductKey: testPK, DeviceName: testDN, DeviceSecret: testSecret}},
			users: map[string]string{aliyunUser: aliyunPass, "cloud": "cloud-password"},
			// The five custom topic categories of the product, for this device.
			acl: "user " + aliyunUser + "\ntopic write /a1B2c3D4e5F/gw-north-1/user/telemetry\n" +
				"topic write /a1B2c3D4e5F/gw-north-1/user/events\ntopic write /a1B2c3D4e5F/gw-north-1/user/status\n" +
				"topic read /a1B2c3D4e5F/gw-north-1/user/cmd/+\ntopic write /a1B2c3D4e5F/gw-north-1/user/reply\n\n" + cloudACL,
			upstream: []string{"/a1B2c3D4e5F/gw-north-1/user/+"},
			cmdTopic: "/a1B2c3D4e5F/gw-north-1/user/cmd/set_log_level", wantCmd: Command{Name: "set-log-level"},
			badCredentials: func(p Params) (string, string) {
				u, pw := p.Credentials(connectTime)
				return u, pw[:len(pw)-1] + "0"
			},
		},
	}
}

func TestProfilesAgainstEmulatedPlatform(t *testing.T) {
	for _, em := range emulations(t) {
		t.Run(em.name, func(t *testing.T) {
			ca := testpki.NewCA(t, "platform CA")
			srv := ca.Server(t)
			b := testbroker.StartWith(t, testbroker.Options{
				TLS: &testbroker.TLS{CAFile: ca.CertFile, CertFile: srv.CertFile, KeyFile: srv.KeyFile,
					RequireCertificate: em.certs, UseIdentityAsUsername: em.certs},
				Users: em.users,
				ACL:   em.acl,
			})
			roots := x509.NewCertPool()
			roots.AddCert(ca.Cert)

			in := em.in
			in.Brokers = []string{b.TLSURL}
			var gwPair, cloudPair testpki.Pair
			if em.certs {
				gwPair, cloudPair = ca.Client(t, in.GatewayID), ca.Client(t, "cloud")
				in.TLS = TLSFiles{CAFile: ca.CertFile, CertFile: gwPair.CertFile, KeyFile: gwPair.KeyFile}
			}
			p := mustBuild(t, in)
			if p.RequireClientCert != em.certs {
				t.Fatalf("RequireClientCert = %v", p.RequireClientCert)
			}

			cloud := dialPlatform(t, b.TLSURL, "cloud", roots, cloudPair, func() (string, string) { return "cloud", "cloud-password" }, nil)
			for _, f := range em.upstream {
				cloud.subscribe(t, f)
			}

			gw := dialGateway(t, p, roots, gwPair)
			for _, f := range p.Topics.Subscriptions() {
				gw.subscribe(t, f)
			}
			gw.publish(t, p.Topics.Telemetry, false, "batch-1")
			gw.publish(t, p.Topics.StatusTopic("1"), p.Topics.StatusDelivery == StatusRetained, `{"state":"online"}`)
			gw.publish(t, p.Topics.Events, false, `{"event":"sensor-fault"}`)
			// The broker forwards one client's QoS 1 messages in order; a publish the ACL refused would be
			// missing here.
			for _, want := range []string{p.Topics.Telemetry, p.Topics.StatusTopic("1"), p.Topics.Events} {
				if m := cloud.next(t); m.Topic() != want {
					t.Fatalf("cloud got %q on %q; want the gateway's message on %q", m.Payload(), m.Topic(), want)
				}
			}

			cloud.publish(t, em.cmdTopic, false, `{"id":"r1"}`)
			m := gw.next(t)
			cmd, ok := p.Topics.ParseCommand(m.Topic())
			if !ok || cmd != em.wantCmd {
				t.Fatalf("ParseCommand(%q) = %+v, %v; want %+v", m.Topic(), cmd, ok, em.wantCmd)
			}
			reply := p.Topics.Reply(cmd, 200)
			gw.publish(t, reply, false, `{"id":"r1","ok":true}`)
			if m := cloud.next(t); m.Topic() != reply {
				t.Fatalf("cloud got %q on %q; want the answer on %q", m.Payload(), m.Topic(), reply)
			}

			// The platform really checks what the gateway sends: other credentials are refused.
			if em.badCredentials != nil {
				user, pass := em.badCredentials(p)
				if _, err := tryDial(t, b.TLSURL, p.ClientID+"-bad", roots, gwPair, func() (string, string) { return user, pass }, nil); err == nil {
					t.Fatal("the broker accepted wrong credentials; the test would not notice a wrong password")
				}
			} else if _, err := tryDial(t, b.TLSURL, p.ClientID+"-nocert", roots, testpki.Pair{}, func() (string, string) { return "", "" }, nil); err == nil {
				t.Fatal("the broker accepted a client without certificate")
			}
		})
	}
}

type mqttClient struct {
	c   mqtt.Client
	got chan mqtt.Message
}

func tryDial(t *testing.T, broker, id string, roots *x509.CertPool, pair testpki.Pair, creds func() (string, string),
	nextProtos []string) (*mqttClient, error) {
	t.Helper()
	tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12, NextProtos: nextProtos}
	if pair.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(pair.CertFile, pair.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).SetTLSConfig(tc).
		SetCredentialsProvider(creds).SetOrderMatters(true).SetConnectTimeout(3 * time.Second).SetAutoReconnect(false)
	c := &mqttClient{c: mqtt.NewClient(o), got: make(chan mqtt.Message, 16)}
	tok := c.c.Connect()
	if !tok.WaitTimeout(brokerWait) {
		return nil, errors.New("no CONNACK within the wait")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.c.Disconnect(0) })
	return c, nil
}

func dialPlatform(t *testing.T, broker, id string, roots *x509.CertPool, pair testpki.Pair, creds func() (string, string),
	nextProtos []string) *mqttClient {
	t.Helper()
	c, err := tryDial(t, broker, id, roots, pair, creds, nextProtos)
	if err != nil {
		t.Fatalf("connect %s as %s: %v", broker, id, err)
	}
	return c
}

// dialGateway connects as the link would: only from Params (and the certificate files of cloud.tls).
func dialGateway(t *testing.T, p Params, roots *x509.CertPool, pair testpki.Pair) *mqttClient {
	t.Helper()
	u, err := url.Parse(p.Brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	return dialPlatform(t, p.Brokers[0], p.ClientID, roots, pair,
		func() (string, string) { return p.Credentials(connectTime) }, p.NextProtos(u))
}

func (c *mqttClient) subscribe(t *testing.T, filter string) {
	t.Helper()
	tok := c.c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { c.got <- m })
	if !tok.WaitTimeout(brokerWait) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	// mosquitto grants 0x80 (failure) in SUBACK when the ACL refuses the filter.
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		for f, q := range st.Result() {
			if q == 0x80 {
				t.Fatalf("subscription to %s refused", f)
			}
		}
	}
}

func (c *mqttClient) publish(t *testing.T, topic string, retained bool, payload string) {
	t.Helper()
	tok := c.c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(brokerWait) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func (c *mqttClient) next(t *testing.T) mqtt.Message {
	t.Helper()
	select {
	case m := <-c.got:
		return m
	case <-time.After(brokerWait):
		t.Fatalf("no message within %v", brokerWait)
		return nil
	}
}
