package profile

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAliyunVendorExample reproduces the example of Alibaba Cloud's "Establish MQTT connections over
// TCP" (https://www.alibabacloud.com/help/en/iot/user-guide/establish-mqtt-connections-over-tcp, formerly
// doc-detail/73742): clientId=12345, deviceName=device, productKey=pk, timestamp=789,
// signmethod=hmacsha1, deviceSecret=secret over TCP gives
//
//	mqttclientId=12345|securemode=3,signmethod=hmacsha1,timestamp=789|
//	mqttUsername=device&pk
//	mqttPassword=FAFD82A3D602B37FB0FA8B7892F24A477F851A14 ("The string is case-insensitive")
//
// The example's product key and device name are shorter than the console allows, so it is checked on
// the signing function itself; TestAliyunParams checks Build with the same algorithm.
func TestAliyunVendorExample(t *testing.T) {
	id, pass := aliyunSignIn("12345", "pk", "device", "secret", "789", "3", "hmacsha1", sha1.New)
	if want := "12345|securemode=3,signmethod=hmacsha1,timestamp=789|"; id != want {
		t.Errorf("client id %q; Alibaba's example is %q", id, want)
	}
	if want := "FAFD82A3D602B37FB0FA8B7892F24A477F851A14"; pass != strings.ToLower(want) {
		t.Errorf("password %q; Alibaba's example is %q", pass, want)
	}
}

// aliyunStepByStep signs the way Alibaba's page describes it, without the package's helpers.
func aliyunStepByStep(newHash func() hash.Hash, secret string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys) // "Sort the parameters ... alphabetically"
	var content strings.Builder
	for _, k := range keys {
		content.WriteString(k) // "...concatenated without delimiters": name, then value
		content.WriteString(params[k])
	}
	mac := hmac.New(newHash, []byte(secret))
	mac.Write([]byte(content.String()))
	return hex.EncodeToString(mac.Sum(nil)) // binary to hex string
}

const (
	testPK     = "a1B2c3D4e5F"
	testDN     = "gw-north-1"
	testSecret = "ZmFrZV9zZWNyZXRfMzJfY2hhcmFjdGVyc19sb25n" // made up for the tests
)

func TestAliyunParams(t *testing.T) {
	now := time.UnixMilli(1700000000000)
	tests := []struct {
		name       string
		aliyun     Aliyun
		now        time.Time
		wantID     string
		wantBroker string
		wantTLS    bool
		newHash    func() hash.Hash
		params     map[string]string
		// known good, computed once with openssl (command in the comment of each value)
		known string
	}{
		{
			name:       "defaults: tls, hmacsha256, instance endpoint",
			aliyun:     Aliyun{ProductKey: testPK, DeviceName: testDN, DeviceSecret: testSecret, InstanceID: "iot-06z00ab12cd34ef"},
			now:        now,
			wantID:     "a1B2c3D4e5F.gw-north-1|securemode=2,signmethod=hmacsha256|",
			wantBroker: "ssl://iot-06z00ab12cd34ef.mqtt.iothub.aliyuncs.com:1883",
			wantTLS:    true,
			newHash:    sha256.New,
			params:     map[string]string{"clientId": "a1B2c3D4e5F.gw-north-1", "deviceName": testDN, "productKey": testPK},
			// printf 'clientIda1B2c3D4e5F.gw-north-1deviceNamegw-north-1productKeya1B2c3D4e5F' | openssl dgst -sha256 -hmac 'ZmFrZV9zZWNyZXRfMzJfY2hhcmFjdGVyc19sb25n'
			known: "631045677d87c9da6ff774cac0aa612d043c7eba8e0fd4d576290e59f8222574",
		},
		{
			name:       "region endpoint",
			aliyun:     Aliyun{ProductKey: testPK, DeviceName: testDN, DeviceSecret: testSecret, Region: "cn-shanghai"},
			wantID:     "a1B2c3D4e5F.gw-north-1|securemode=2,signmethod=hmacsha256|",
			wantBroker: "ssl://a1B2c3D4e5F.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883",
			wantTLS:    true,
			newHash:    sha256.New,
			params:     map[string]string{"clientId": "a1B2c3D4e5F.gw-north-1", "deviceName": testDN, "productKey": testPK},
			// printf 'clientIda1B2c3D4e5F.gw-north-1deviceNamegw-north-1productKeya1B2c3D4e5F' | openssl dgst -sha256 -hmac 'ZmFrZV9zZWNyZXRfMzJfY2hhcmFjdGVyc19sb25n'
			known: "631045677d87c9da6ff774cac0aa612d043c7eba8e0fd4d576290e59f8222574",
		},
		{
			name: "tcp, hmacsha1, own client id",
			aliyun: Aliyun{ProductKey: testPK, DeviceName: testDN, DeviceSecret: testSecret, Region: "eu-central-1",
				SecureMode: "tcp", SignMethod: "hmacsha1", ClientID: "b8:27:eb:12:34:56"},
			now:        now,
			wantID:     "b8:27:eb:12:34:56|securemode=3,signmethod=hmacsha1|",
			wantBroker: "tcp://a1B2c3D4e5F.iot-as-mqtt.eu-central-1.aliyuncs.com:1883",
			newHash:    sha1.New,
			params:     map[string]string{"clientId": "b8:27:eb:12:34:56", "deviceName": testDN, "productKey": testPK},
			// printf 'clientIdb8:27:eb:12:34:56deviceNamegw-north-1productKeya1B2c3D4e5F' | openssl dgst -sha1 -hmac 'ZmFrZV9zZWNyZXRfMzJfY2hhcmFjdGVyc19sb25n'
			known: "70aa269faa3b641a3efc5efa9e71947ac8e7d44c",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustBuild(t, Input{Profile: AliyunIoT, GatewayID: "gw-7", Now: tt.now, Aliyun: tt.aliyun})
			if p.ClientID != tt.wantID || !slices.Equal(p.Brokers, []string{tt.wantBroker}) || p.RequireTLS != tt.wantTLS {
				t.Errorf("client id %q brokers %q tls %v; want %q %q %v", p.ClientID, p.Brokers, p.RequireTLS, tt.wantID, tt.wantBroker, tt.wantTLS)
			}
			// Credentials do not depend on the connect time: no timestamp is signed.
			u1, p1 := p.Credentials(time.Unix(0, 0))
			u2, p2 := p.Credentials(time.Now())
			if u1 != u2 || p1 != p2 {
				t.Errorf("credentials changed with the connect time: %q/%q then %q/%q", u1, p1, u2, p2)
			}
			if u1 != "gw-north-1&a1B2c3D4e5F" {
				t.Errorf("user name %q", u1)
			}
			if step := aliyunStepByStep(tt.newHash, testSecret, tt.params); p1 != step {
				t.Errorf("password %q; step by step %q", p1, step)
			}
			if p1 != tt.known {
				t.Errorf("password %q; openssl gave %q", p1, tt.known)
			}
			if p.RequireClientCert || p.ALPN != nil || p.CredentialsTTL != 0 || p.Profile != AliyunIoT {
				t.Errorf("client cert %v alpn %q ttl %v profile %q", p.RequireClientCert, p.ALPN, p.CredentialsTTL, p.Profile)
			}
		})
	}
}

// TestAliyunSignInIgnoresBootClock: a board whose clock was wrong when the daemon started (no RTC,
// NTP not yet synchronised: 1970) signs in exactly like one whose clock was right, and the sign-in is
// the same on every connection: no timestamp in the client id or the signature (#20). Before, the
// start time was signed and kept in the client id for the life of the process.
func TestAliyunSignInIgnoresBootClock(t *testing.T) {
	a := Aliyun{ProductKey: testPK, DeviceName: testDN, DeviceSecret: testSecret, InstanceID: "iot-06z00ab12cd34ef"}
	wrong := mustBuild(t, Input{Profile: AliyunIoT, GatewayID: "gw-7", Now: time.Unix(12, 0), Aliyun: a})
	right := mustBuild(t, Input{Profile: AliyunIoT, GatewayID: "gw-7", Now: time.UnixMilli(1795430000000), Aliyun: a})
	if wrong.ClientID != right.ClientID || strings.Contains(wrong.ClientID, "timestamp") {
		t.Errorf("client id %q with a 1970 boot clock, %q with a right one; want the same, without timestamp", wrong.ClientID, right.ClientID)
	}
	for _, at := range []time.Time{time.Unix(12, 0), time.UnixMilli(1795430000000), time.UnixMilli(1795430000000).Add(time.Hour)} {
		u1, p1 := wrong.Credentials(at)
		u2, p2 := right.Credentials(at)
		if u1 != u2 || p1 != p2 {
			t.Errorf("connect at %v: credentials %q/%q with a 1970 boot clock, %q/%q with a right one", at, u1, p1, u2, p2)
		}
	}
}

func TestAliyunTopics(t *testing.T) {
	p := mustBuild(t, Input{Profile: AliyunIoT, GatewayID: "gw-7",
		Aliyun: Aliyun{ProductKey: testPK, DeviceName: testDN, DeviceSecret: testSecret, InstanceID: "iot-06z00ab12cd34ef"}})
	top := p.Topics
	want := Topics{
		Telemetry:      "/a1B2c3D4e5F/gw-north-1/user/telemetry",
		Events:         "/a1B2c3D4e5F/gw-north-1/user/events",
		Status:         "/a1B2c3D4e5F/gw-north-1/user/status",
		StatusDelivery: StatusPlain,
		CommandFilter:  "/a1B2c3D4e5F/gw-north-1/user/cmd/+",
		scheme:         schemeAliyun,
		cmdPrefix:      "/a1B2c3D4e5F/gw-north-1/user/cmd/",
		replyPrefix:    "/a1B2c3D4e5F/gw-north-1/user/reply",
	}
	if top != want {
		t.Errorf("topics\n got %+v\nwant %+v", top, want)
	}
	if top.Will != "" || top.WillRetained {
		t.Error("aliyun-iot must not set a last will: the platform does not support one")
	}
	wantLimits := Limits{MaxPayload: 262144, MaxClientIDLen: 64, KeepAliveMin: 30 * time.Second,
		KeepAliveMax: 1200 * time.Second, MaxQoS: 1, Retain: false, Will: false}
	if p.Limits != wantLimits {
		t.Errorf("limits %+v; want %+v", p.Limits, wantLimits)
	}
	for _, tt := range []struct {
		topic string
		want  Command
		ok    bool
	}{
		{"/a1B2c3D4e5F/gw-north-1/user/cmd/ping", Command{Name: "ping"}, true},
		{"/a1B2c3D4e5F/gw-north-1/user/cmd/set_interval", Command{Name: "set-interval"}, true},
		{"/a1B2c3D4e5F/gw-north-1/user/cmd/flush_spool", Command{Name: "flush-spool"}, true},
		{"/a1B2c3D4e5F/gw-north-1/user/cmd/", Command{}, false},
		{"/a1B2c3D4e5F/gw-north-2/user/cmd/ping", Command{}, false},
		{"/sys/a1B2c3D4e5F/gw-north-1/rrpc/request/1", Command{}, false},
	} {
		got, ok := top.ParseCommand(tt.topic)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v, %v", tt.topic, got, ok, tt.want, tt.ok)
		}
	}
	if got := top.Reply(Command{Name: "set-interval"}, 200); got != "/a1B2c3D4e5F/gw-north-1/user/reply" {
		t.Errorf("Reply = %q", got)
	}
	if got := top.StatusTopic("1"); got != want.Status {
		t.Errorf("StatusTopic = %q", got)
	}
}

func TestAliyunValidation(t *testing.T) {
	ok := Input{Profile: AliyunIoT, GatewayID: "gw", Aliyun: Aliyun{ProductKey: testPK, DeviceName: testDN, DeviceSecret: testSecret, Region: "cn-shanghai"}}
	with := func(f func(*Input)) Input { in := ok; f(&in); return in }
	mustBuild(t, ok)
	mustBuild(t, with(func(in *Input) { in.Aliyun.Region = ""; in.Brokers = []string{"ssl://10.0.0.5:1883"} }))
	for _, tt := range []struct {
		name  string
		in    Input
		field string
		parts []string
	}{
		{"no product key", with(func(in *Input) { in.Aliyun.ProductKey = "" }), "cloud.aliyun.product_key", []string{"missing", "ProductKey"}},
		{"bad product key", with(func(in *Input) { in.Aliyun.ProductKey = "a1/b" }), "cloud.aliyun.product_key", []string{"not a ProductKey"}},
		{"no device name", with(func(in *Input) { in.Aliyun.DeviceName = "" }), "cloud.aliyun.device_name", []string{"missing"}},
		{"short device name", with(func(in *Input) { in.Aliyun.DeviceName = "gw" }), "cloud.aliyun.device_name", []string{"4-32"}},
		{"no secret", with(func(in *Input) { in.Aliyun.DeviceSecret = "" }), "cloud.aliyun.device_secret", []string{"missing", "DeviceSecret"}},
		{"secret with newline", with(func(in *Input) { in.Aliyun.DeviceSecret = testSecret + "\n" }), "cloud.aliyun.device_secret", []string{"copy the DeviceSecret exactly"}},
		{"no endpoint", with(func(in *Input) { in.Aliyun.Region = "" }), "cloud.aliyun.instance_id", []string{"missing", "region"}},
		{"region and instance", with(func(in *Input) { in.Aliyun.InstanceID = "iot-06z00ab12cd34ef" }), "cloud.aliyun.region", []string{"keep instance_id"}},
		{"bad region", with(func(in *Input) { in.Aliyun.Region = "Shanghai" }), "cloud.aliyun.region", []string{"cn-shanghai"}},
		{"bad instance", with(func(in *Input) { in.Aliyun.Region = ""; in.Aliyun.InstanceID = "06z00" }), "cloud.aliyun.instance_id", []string{"iot-"}},
		{"endpoint and brokers", with(func(in *Input) { in.Brokers = []string{"ssl://h:1883"} }), "cloud.aliyun.instance_id", []string{"keep one"}},
		{"plain broker with tls", with(func(in *Input) { in.Aliyun.Region = ""; in.Brokers = []string{"tcp://h:1883"} }), "cloud.brokers[0]", []string{"needs TLS"}},
		{"tls broker with tcp", with(func(in *Input) {
			in.Aliyun.Region = ""
			in.Aliyun.SecureMode = "tcp"
			in.Brokers = []string{"ssl://h:1883"}
		}), "cloud.brokers[0]", []string{"secure_mode is tcp"}},
		{"bad secure mode", with(func(in *Input) { in.Aliyun.SecureMode = "ssl" }), "cloud.aliyun.secure_mode", []string{"tls", "tcp"}},
		{"md5", with(func(in *Input) { in.Aliyun.SignMethod = "hmacmd5" }), "cloud.aliyun.sign_method", []string{"hmacsha256"}},
		{"client id with '|'", with(func(in *Input) { in.Aliyun.ClientID = "a|b" }), "cloud.aliyun.client_id", []string{"1-64"}},
		{"client id too long", with(func(in *Input) { in.Aliyun.ClientID = strings.Repeat("c", 65) }), "cloud.aliyun.client_id", []string{"1-64"}},
		{"mqtt client id", with(func(in *Input) { in.ClientID = "wayside-gw" }), "cloud.client_id", []string{"cloud.aliyun.client_id"}},
		{"username", with(func(in *Input) { in.Username = "u" }), "cloud.username", []string{"device_secret"}},
		{"keepalive", with(func(in *Input) { in.KeepAlive = 10 * time.Second }), "cloud.keepalive", []string{"30s..20m0s"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantFieldErr(t, tt.in, tt.field, tt.parts, testSecret)
		})
	}
}
