package profile

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testAzureKey is the device key of Microsoft's own SDK test below (a published test value, no real device).
const testAzureKey = "q+DKVojmMz014RjAwpNGZbAkdOocSVWMKPOccLfUmLE="

// TestAzureSignVendorVector reproduces Microsoft's published signature test vector byte for byte:
// https://github.com/Azure/azure-iot-sdks/blob/master/java/device/iothub-java-client/src/test/java/tests/integration/com/microsoft/azure/iothub/net/SignatureIT.java
// (resource URI "sdktesthub.private.azure-devices-int.net/devices/test8", expiry 1462333672, expected
// signature "ZrTYgp6uRmbDl4lzzewxFD9FoaNKIK7G2bdivDbtc9A%3D"). That SDK signed the resource URI as
// passed to it, so the vector pins the signing step: HMAC-SHA256 with the base64-decoded key over
// "<string>\n<expiry>", base64, then percent-encoded.
func TestAzureSignVendorVector(t *testing.T) {
	key, err := base64.StdEncoding.DecodeString(testAzureKey)
	if err != nil {
		t.Fatal(err)
	}
	got := urlEncodeSig(azureSign(key, "sdktesthub.private.azure-devices-int.net/devices/test8\n1462333672"))
	if want := "ZrTYgp6uRmbDl4lzzewxFD9FoaNKIK7G2bdivDbtc9A%3D"; got != want {
		t.Fatalf("signature %q; Microsoft's vector is %q", got, want)
	}
}

// urlEncodeSig percent-encodes the only characters base64 produces that need it.
func urlEncodeSig(s string) string {
	return strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(s)
}

// sasStepByStep computes a device SAS token the way Microsoft's "SAS token structure" describes it,
// written out without the package's helpers.
func sasStepByStep(t *testing.T, srEncoded string, keyB64 string, expiry int64) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(keyB64) // 1. the key is decoded from base64
	if err != nil {
		t.Fatal(err)
	}
	se := strconv.FormatInt(expiry, 10)
	toSign := srEncoded + "\n" + se // 2. "{URL-encoded-resourceURI}\n{expiry}"
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(toSign)) // 3. HMAC-SHA256
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return "SharedAccessSignature sr=" + srEncoded + "&sig=" + urlEncodeSig(sig) + "&se=" + se // 4. URL-encoded
}

func TestAzureParams(t *testing.T) {
	in := Input{Profile: AzureIoTHub, GatewayID: "gw-7",
		Azure: Azure{HubHost: "myhub.azure-devices.net", DeviceID: "device1", SharedAccessKey: testAzureKey}}
	p := mustBuild(t, in)
	if p.Profile != AzureIoTHub || p.ClientID != "device1" || !slices.Equal(p.Brokers, []string{"ssl://myhub.azure-devices.net:8883"}) {
		t.Errorf("profile %q client id %q brokers %q", p.Profile, p.ClientID, p.Brokers)
	}
	if !p.RequireTLS || p.RequireClientCert || p.ALPN != nil || p.CredentialsTTL != time.Hour {
		t.Errorf("tls %v client cert %v alpn %q ttl %v", p.RequireTLS, p.RequireClientCert, p.ALPN, p.CredentialsTTL)
	}
	// Expiry 1456971697 is that of the device token in Microsoft's "Control access to IoT Hub with shared
	// access signatures" (whose key the page does not give): connect one TTL (an hour) before it.
	now := time.Unix(1456971697-3600, 0)
	user, pass := p.Credentials(now)
	if want := "myhub.azure-devices.net/device1/?api-version=2021-04-12"; user != want {
		t.Errorf("user name %q; want %q", user, want)
	}
	want := sasStepByStep(t, "myhub.azure-devices.net%2Fdevices%2Fdevice1", testAzureKey, 1456971697)
	if pass != want {
		t.Errorf("password\n got %q\nwant %q", pass, want)
	}
	// Known good, computed once with openssl:
	//   printf 'myhub.azure-devices.net%%2Fdevices%%2Fdevice1\n1456971697' | openssl dgst -sha256 -mac HMAC \
	//     -macopt hexkey:$(printf %s 'q+DKVojmMz014RjAwpNGZbAkdOocSVWMKPOccLfUmLE=' | base64 -d | xxd -p -c 256) -binary | base64
	//   → uk8K7dYXemXr3wF1xEGl3tTQ0c6jnoTMV2QXEr7dnL8=
	const known = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1&sig=uk8K7dYXemXr3wF1xEGl3tTQ0c6jnoTMV2QXEr7dnL8%3D&se=1456971697"
	if pass != known {
		t.Errorf("password\n got %q\nwant %q (openssl)", pass, known)
	}
	// A later attempt gets a later token: nothing is cached.
	_, later := p.Credentials(now.Add(10 * time.Minute))
	if !strings.HasSuffix(later, "&se=1456972297") || later == pass {
		t.Errorf("token 10 minutes later %q", later)
	}
}

func TestAzureDeviceIDEncoding(t *testing.T) {
	// A device id with characters the hub allows and URLs reserve: each is percent-encoded in sr and
	// the signature covers the encoded form.
	p := mustBuild(t, Input{Profile: AzureIoTHub, GatewayID: "gw",
		Azure: Azure{HubHost: "myhub.azure-devices.net", DeviceID: "dev:1@site", SharedAccessKey: testAzureKey, TokenTTL: 24 * time.Hour}})
	user, pass := p.Credentials(time.Unix(1456971697-24*3600, 0))
	if user != "myhub.azure-devices.net/dev:1@site/?api-version=2021-04-12" || p.ClientID != "dev:1@site" {
		t.Errorf("user %q client id %q", user, p.ClientID)
	}
	// printf 'myhub.azure-devices.net%%2Fdevices%%2Fdev%%3A1%%40site\n1456971697' | openssl dgst -sha256 -mac HMAC \
	//   -macopt hexkey:$(printf %s 'q+DKVojmMz014RjAwpNGZbAkdOocSVWMKPOccLfUmLE=' | base64 -d | xxd -p -c 256) -binary | base64
	//   → Ay2LpXCKu13LIagl0M8IeU/L2lYx9YuCjT9Iyj3LoSE=
	const known = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev%3A1%40site&sig=Ay2LpXCKu13LIagl0M8IeU%2FL2lYx9YuCjT9Iyj3LoSE%3D&se=1456971697"
	if pass != known {
		t.Errorf("password\n got %q\nwant %q", pass, known)
	}
	if step := sasStepByStep(t, "myhub.azure-devices.net%2Fdevices%2Fdev%3A1%40site", testAzureKey, 1456971697); pass != step {
		t.Errorf("password %q; step by step %q", pass, step)
	}
}

func TestAzureTopics(t *testing.T) {
	p := mustBuild(t, Input{Profile: AzureIoTHub, GatewayID: "gw-7",
		Azure: Azure{HubHost: "myhub.azure-devices.net", SharedAccessKey: testAzureKey}})
	top := p.Topics
	want := Topics{
		Telemetry:      "devices/gw-7/messages/events/$.ct=application%2Fsenml%2Bcbor&kind=telemetry",
		Events:         "devices/gw-7/messages/events/$.ct=application%2Fjson&$.ce=utf-8&kind=event",
		StatusDelivery: StatusTwin,
		StatusKey:      "wayside",
		Will:           "devices/gw-7/messages/events/$.ct=application%2Fjson&$.ce=utf-8&kind=status",
		CommandFilter:  "$iothub/methods/POST/#",
		ResponseFilter: "$iothub/twin/res/#",
		scheme:         schemeAzure,
	}
	if top != want {
		t.Errorf("topics\n got %+v\nwant %+v", top, want)
	}
	if p.ClientID != "gw-7" {
		t.Errorf("device id defaults to %q; want the gateway id", p.ClientID)
	}
	if got := top.StatusTopic("42"); got != "$iothub/twin/PATCH/properties/reported/?$rid=42" {
		t.Errorf("StatusTopic = %q", got)
	}
	if got := top.Subscriptions(); !slices.Equal(got, []string{"$iothub/methods/POST/#", "$iothub/twin/res/#"}) {
		t.Errorf("subscriptions %q", got)
	}
	wantLimits := Limits{MaxPayload: 262144, MaxClientIDLen: 128, KeepAliveMax: 1177 * time.Second, MaxQoS: 1, Retain: false, Will: true}
	if p.Limits != wantLimits {
		t.Errorf("limits %+v; want %+v", p.Limits, wantLimits)
	}
	for _, tt := range []struct {
		topic string
		want  Command
		ok    bool
	}{
		{"$iothub/methods/POST/ping/?$rid=1", Command{Name: "ping", RequestID: "1"}, true},
		{"$iothub/methods/POST/set-interval/?$rid=9f2c", Command{Name: "set-interval", RequestID: "9f2c"}, true},
		{"$iothub/methods/POST/ping/?$rid=a%20b&x=1", Command{Name: "ping", RequestID: "a%20b"}, true},
		{"$iothub/methods/POST/ping/", Command{}, false},
		{"$iothub/methods/POST/ping/?$rid=", Command{}, false},
		{"$iothub/methods/POST//?$rid=1", Command{}, false},
		{"$iothub/methods/POST/a/b/?$rid=1", Command{}, false},
		{"$iothub/methods/res/200/?$rid=1", Command{}, false},
		{"$iothub/twin/res/204/?$rid=1", Command{}, false},
		{"wayside/v1/gw-7/cmd/ping", Command{}, false},
	} {
		got, ok := top.ParseCommand(tt.topic)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v, %v", tt.topic, got, ok, tt.want, tt.ok)
		}
	}
	cmd, _ := top.ParseCommand("$iothub/methods/POST/ping/?$rid=a%20b")
	if got := top.Reply(cmd, 200); got != "$iothub/methods/res/200/?$rid=a%20b" {
		t.Errorf("Reply = %q (the request id must be echoed as received)", got)
	}
	if got := top.Reply(Command{Name: "x", RequestID: "7"}, 404); got != "$iothub/methods/res/404/?$rid=7" {
		t.Errorf("Reply = %q", got)
	}
	for _, tt := range []struct {
		topic  string
		status int
		rid    string
		ok     bool
	}{
		{"$iothub/twin/res/204/?$rid=42&$version=6", 204, "42", true},
		{"$iothub/twin/res/429/?$rid=7", 429, "7", true},
		{"$iothub/twin/res/abc/?$rid=7", 0, "", false},
		{"$iothub/twin/res/204/", 0, "", false},
		{"$iothub/twin/res/204/?$version=6", 0, "", false},
		{"$iothub/methods/POST/ping/?$rid=1", 0, "", false},
	} {
		status, rid, ok := top.ParseStatusResponse(tt.topic)
		if status != tt.status || rid != tt.rid || ok != tt.ok {
			t.Errorf("ParseStatusResponse(%q) = %d, %q, %v; want %d, %q, %v", tt.topic, status, rid, ok, tt.status, tt.rid, tt.ok)
		}
	}
}

func TestAzureValidation(t *testing.T) {
	ok := Input{Profile: AzureIoTHub, GatewayID: "gw", Azure: Azure{HubHost: "myhub.azure-devices.net", SharedAccessKey: testAzureKey}}
	with := func(f func(*Input)) Input { in := ok; f(&in); return in }
	mustBuild(t, ok)
	mustBuild(t, with(func(in *Input) {
		in.Brokers = []string{"ssl://edge.local:8883", "wss://myhub.azure-devices.net:443/$iothub/websocket"}
	}))
	badKey := "not*base64*key!"
	for _, tt := range []struct {
		name    string
		in      Input
		field   string
		parts   []string
		secrets []string
	}{
		{"no hub", with(func(in *Input) { in.Azure.HubHost = "" }), "cloud.azure.hub_host", []string{"missing", "myhub.azure-devices.net"}, nil},
		{"hub is a name", with(func(in *Input) { in.Azure.HubHost = "myhub" }), "cloud.azure.hub_host", []string{"not a host name"}, nil},
		{"hub with scheme", with(func(in *Input) { in.Azure.HubHost = "https://myhub.azure-devices.net" }), "cloud.azure.hub_host", []string{"host name only"}, nil},
		{"no key", with(func(in *Input) { in.Azure.SharedAccessKey = "" }), "cloud.azure.shared_access_key", []string{"missing", "primary key"}, nil},
		{"key not base64", with(func(in *Input) { in.Azure.SharedAccessKey = badKey }), "cloud.azure.shared_access_key", []string{"not base64", "44 characters"}, []string{badKey}},
		{"key too short", with(func(in *Input) { in.Azure.SharedAccessKey = "c2hvcnQ=" }), "cloud.azure.shared_access_key", []string{"5 bytes", "too short"}, []string{"c2hvcnQ="}},
		{"device id with '#'", with(func(in *Input) { in.Azure.DeviceID = "dev#1" }), "cloud.azure.device_id", []string{"not an IoT Hub device id"}, nil},
		{"gateway id not a device id", with(func(in *Input) { in.GatewayID = "gw 1" }), "gateway.id", []string{"set cloud.azure.device_id"}, nil},
		{"ttl too short", with(func(in *Input) { in.Azure.TokenTTL = time.Minute }), "cloud.azure.token_ttl", []string{"5m"}, nil},
		{"ttl too long", with(func(in *Input) { in.Azure.TokenTTL = 400 * 24 * time.Hour }), "cloud.azure.token_ttl", []string{"8760h"}, nil},
		{"plain broker", with(func(in *Input) { in.Brokers = []string{"tcp://myhub.azure-devices.net:1883"} }), "cloud.brokers[0]", []string{"needs TLS"}, nil},
		{"client id", with(func(in *Input) { in.ClientID = "wayside-gw" }), "cloud.client_id", []string{"device id", "remove"}, nil},
		{"password", with(func(in *Input) { in.Password = "hunter2-x" }), "cloud.password", []string{"SAS token"}, []string{"hunter2-x"}},
		{"keepalive", with(func(in *Input) { in.KeepAlive = 30 * time.Minute }), "cloud.keepalive", []string{"19m37s"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantFieldErr(t, tt.in, tt.field, tt.parts, tt.secrets...)
		})
	}
}
