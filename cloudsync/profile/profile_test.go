package profile

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// mustBuild builds in or fails the test.
func mustBuild(t *testing.T, in Input) Params {
	t.Helper()
	p, err := Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return p
}

// buildErrs builds in, which must fail, and returns the field errors.
func buildErrs(t *testing.T, in Input) Errors {
	t.Helper()
	_, err := Build(in)
	if err == nil {
		t.Fatalf("Build(%v) succeeded, want an error", in)
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Build error %T is not profile.Errors: %v", err, err)
	}
	return es
}

// wantFieldErr checks that building in fails with an error on field whose message contains each of
// parts (the fix), and that the message does not leak any of secrets.
func wantFieldErr(t *testing.T, in Input, field string, parts []string, secrets ...string) {
	t.Helper()
	es := buildErrs(t, in)
	var msg string
	for _, e := range es {
		if e.Field == field {
			msg = e.Msg
		}
	}
	if msg == "" {
		t.Fatalf("no error on %s; got:\n%v", field, es)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("%s: %q does not say %q", field, msg, p)
		}
	}
	full := es.Error()
	if !strings.HasPrefix(full, es[0].Field+": ") {
		t.Errorf("error text %q does not start with the field name", full)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(full, s) {
			t.Errorf("error text leaks a secret: %q", full)
		}
	}
}

func TestGenericParams(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want Params // Credentials compared separately
		user string
		pass string
	}{
		{
			name: "defaults",
			in:   Input{GatewayID: "gw-7", Brokers: []string{"tcp://127.0.0.1:1883"}},
			want: Params{
				Profile: Generic, Brokers: []string{"tcp://127.0.0.1:1883"}, ClientID: "wayside-gw-7",
				Topics: Topics{
					Telemetry: "wayside/v1/gw-7/telemetry", Events: "wayside/v1/gw-7/events",
					Status: "wayside/v1/gw-7/status", StatusDelivery: StatusRetained,
					Will: "wayside/v1/gw-7/status", WillRetained: true, CommandFilter: "wayside/v1/gw-7/cmd/+",
					scheme: schemePrefix, cmdPrefix: "wayside/v1/gw-7/cmd/", replyPrefix: "wayside/v1/gw-7/reply/",
				},
				Limits: Limits{MaxQoS: 2, Retain: true, Will: true},
			},
		},
		{
			name: "explicit",
			in: Input{Profile: Generic, GatewayID: "north", TopicPrefix: "city/air", ClientID: "north-1",
				Username: "north", Password: "s3cret", Brokers: []string{"ssl://a.example:8883", "ssl://b.example:8883"}},
			want: Params{
				Profile: Generic, Brokers: []string{"ssl://a.example:8883", "ssl://b.example:8883"}, ClientID: "north-1",
				Topics: Topics{
					Telemetry: "city/air/north/telemetry", Events: "city/air/north/events",
					Status: "city/air/north/status", StatusDelivery: StatusRetained,
					Will: "city/air/north/status", WillRetained: true, CommandFilter: "city/air/north/cmd/+",
					scheme: schemePrefix, cmdPrefix: "city/air/north/cmd/", replyPrefix: "city/air/north/reply/",
				},
				Limits: Limits{MaxQoS: 2, Retain: true, Will: true},
			},
			user: "north", pass: "s3cret",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustBuild(t, tt.in)
			u, pw := p.Credentials(time.Unix(1700000000, 0))
			if u != tt.user || pw != tt.pass {
				t.Errorf("credentials = %q, %q; want %q, %q", u, pw, tt.user, tt.pass)
			}
			p.Credentials = nil
			if !reflect.DeepEqual(p, tt.want) {
				t.Errorf("params:\n got %+v\nwant %+v", p, tt.want)
			}
			if got := p.Topics.Subscriptions(); !slices.Equal(got, []string{tt.want.Topics.CommandFilter}) {
				t.Errorf("subscriptions = %q", got)
			}
		})
	}
}

func TestGenericCommandTopics(t *testing.T) {
	top := mustBuild(t, Input{GatewayID: "gw-7", Brokers: []string{"tcp://h:1883"}}).Topics
	tests := []struct {
		topic string
		want  Command
		ok    bool
	}{
		{"wayside/v1/gw-7/cmd/ping", Command{Name: "ping"}, true},
		{"wayside/v1/gw-7/cmd/set-interval", Command{Name: "set-interval"}, true},
		{"wayside/v1/gw-7/cmd/", Command{}, false},
		{"wayside/v1/gw-7/cmd/a/b", Command{}, false},
		{"wayside/v1/gw-8/cmd/ping", Command{}, false},
		{"wayside/v1/gw-7/reply/ping", Command{}, false},
		{"wayside/v1/gw-7/telemetry", Command{}, false},
		{"$iothub/methods/POST/ping/?$rid=1", Command{}, false},
	}
	for _, tt := range tests {
		got, ok := top.ParseCommand(tt.topic)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v, %v", tt.topic, got, ok, tt.want, tt.ok)
		}
	}
	if got := top.Reply(Command{Name: "ping"}, 404); got != "wayside/v1/gw-7/reply/ping" {
		t.Errorf("Reply = %q", got)
	}
	if got := top.StatusTopic("9"); got != "wayside/v1/gw-7/status" {
		t.Errorf("StatusTopic = %q", got)
	}
	if _, _, ok := top.ParseStatusResponse("$iothub/twin/res/204/?$rid=1"); ok {
		t.Error("generic topics parsed an Azure twin response")
	}
}

func TestAWSParams(t *testing.T) {
	tls := TLSFiles{CAFile: "/etc/wayside/AmazonRootCA1.pem", CertFile: "/etc/wayside/gw.crt", KeyFile: "/etc/wayside/gw.key"}
	tests := []struct {
		name        string
		in          Input
		wantBrokers []string
		wantID      string
		wantPrefix  string
	}{
		{
			name:        "endpoint, thing name defaults to the gateway id",
			in:          Input{Profile: AWSIoT, GatewayID: "gw-7", TLS: tls, AWS: AWS{Endpoint: "abc123example-ats.iot.eu-west-1.amazonaws.com"}},
			wantBrokers: []string{"ssl://abc123example-ats.iot.eu-west-1.amazonaws.com:8883"},
			wantID:      "gw-7", wantPrefix: "wayside/v1/gw-7/",
		},
		{
			name: "port 443 and a thing name",
			in: Input{Profile: AWSIoT, GatewayID: "gw-7", TopicPrefix: "city", TLS: tls,
				AWS: AWS{Endpoint: "abc123example-ats.iot.eu-west-1.amazonaws.com", Port: 443, ThingName: "city:gw_7"}},
			wantBrokers: []string{"ssl://abc123example-ats.iot.eu-west-1.amazonaws.com:443"},
			wantID:      "city:gw_7", wantPrefix: "city/gw-7/",
		},
		{
			name:        "explicit brokers",
			in:          Input{Profile: AWSIoT, GatewayID: "gw-7", TLS: tls, Brokers: []string{"mqtts://vpce.example:8883"}},
			wantBrokers: []string{"mqtts://vpce.example:8883"},
			wantID:      "gw-7", wantPrefix: "wayside/v1/gw-7/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustBuild(t, tt.in)
			if !slices.Equal(p.Brokers, tt.wantBrokers) || p.ClientID != tt.wantID || p.Profile != AWSIoT {
				t.Errorf("brokers %q client id %q profile %q; want %q %q", p.Brokers, p.ClientID, p.Profile, tt.wantBrokers, tt.wantID)
			}
			if u, pw := p.Credentials(time.Now()); u != "" || pw != "" {
				t.Errorf("aws-iot sends credentials %q/%q; it must authenticate by certificate only", u, pw)
			}
			if !p.RequireTLS || !p.RequireClientCert || !slices.Equal(p.ALPN, []string{"x-amzn-mqtt-ca"}) || p.CredentialsTTL != 0 {
				t.Errorf("tls %v client cert %v alpn %q ttl %v", p.RequireTLS, p.RequireClientCert, p.ALPN, p.CredentialsTTL)
			}
			want := prefixTopics(strings.TrimSuffix(strings.TrimSuffix(tt.wantPrefix, "gw-7/"), "/"), "gw-7")
			if p.Topics != want || p.Topics.Telemetry != tt.wantPrefix+"telemetry" || p.Topics.CommandFilter != tt.wantPrefix+"cmd/+" {
				t.Errorf("topics %+v", p.Topics)
			}
			wantLimits := Limits{MaxPayload: 131072, MaxTopicLen: 256, MaxTopicLevels: 8, MaxClientIDLen: 128,
				KeepAliveMin: 30 * time.Second, KeepAliveMax: 1200 * time.Second, MaxQoS: 1, Retain: true, Will: true}
			if p.Limits != wantLimits {
				t.Errorf("limits %+v; want %+v", p.Limits, wantLimits)
			}
		})
	}
}

func TestNextProtos(t *testing.T) {
	aws := mustBuild(t, Input{Profile: AWSIoT, GatewayID: "gw", TLS: TLSFiles{CertFile: "c", KeyFile: "k"},
		AWS: AWS{Endpoint: "x-ats.iot.us-east-1.amazonaws.com", Port: 443}})
	gen := mustBuild(t, Input{GatewayID: "gw", Brokers: []string{"ssl://h:443"}})
	for _, tt := range []struct {
		p      Params
		broker string
		want   []string
	}{
		{aws, "ssl://x-ats.iot.us-east-1.amazonaws.com:443", []string{"x-amzn-mqtt-ca"}},
		{aws, "ssl://x-ats.iot.us-east-1.amazonaws.com:8883", nil},
		{gen, "ssl://h:443", nil},
	} {
		u, err := url.Parse(tt.broker)
		if err != nil {
			t.Fatal(err)
		}
		if got := tt.p.NextProtos(u); !slices.Equal(got, tt.want) {
			t.Errorf("%s NextProtos(%s) = %q; want %q", tt.p.Profile, tt.broker, got, tt.want)
		}
	}
	// The returned slice is a copy: changing it must not change the profile.
	got := aws.NextProtos(&url.URL{Scheme: "ssl", Host: "h:443"})
	got[0] = "h2"
	if aws.ALPN[0] != "x-amzn-mqtt-ca" {
		t.Error("NextProtos returned the profile's own slice")
	}
}

func TestAWSTopicLimits(t *testing.T) {
	base := Input{Profile: AWSIoT, GatewayID: "gw-7", TLS: TLSFiles{CertFile: "c", KeyFile: "k"},
		AWS: AWS{Endpoint: "x-ats.iot.us-east-1.amazonaws.com"}}
	// <prefix>/gw-7/reply/<name> has 3 more levels than the prefix: 5 prefix levels is the most (8 levels, 7 '/').
	ok := base
	ok.TopicPrefix = "a/b/c/d/e"
	mustBuild(t, ok)
	deep := base
	deep.TopicPrefix = "a/b/c/d/e/f"
	wantFieldErr(t, deep, "cloud.topic_prefix", []string{"9 levels", "aws-iot", "at most 7"})
	long := base
	long.TopicPrefix = strings.Repeat("p", 220)
	wantFieldErr(t, long, "cloud.topic_prefix", []string{"over aws-iot's 256", "shorten"})
}

func TestKeepAliveRange(t *testing.T) {
	aws := Input{Profile: AWSIoT, GatewayID: "gw", TLS: TLSFiles{CertFile: "c", KeyFile: "k"}, AWS: AWS{Endpoint: "x-ats.iot.us-east-1.amazonaws.com"}}
	for _, tt := range []struct {
		in  Input
		ka  time.Duration
		bad bool
	}{
		{aws, 30 * time.Second, false},
		{aws, 1200 * time.Second, false},
		{aws, 29 * time.Second, true},
		{aws, 1201 * time.Second, true},
		{Input{GatewayID: "gw", Brokers: []string{"tcp://h:1"}}, 5 * time.Second, false},
		{Input{GatewayID: "gw", Brokers: []string{"tcp://h:1"}}, 500 * time.Millisecond, true},
	} {
		in := tt.in
		in.KeepAlive = tt.ka
		_, err := Build(in)
		if (err != nil) != tt.bad {
			t.Errorf("%s keepalive %v: err %v, want error %v", in.Profile, tt.ka, err, tt.bad)
		}
		if err != nil && !strings.Contains(err.Error(), "cloud.keepalive: ") {
			t.Errorf("error does not name cloud.keepalive: %v", err)
		}
	}
}

func TestValidationNamesFields(t *testing.T) {
	okAWS := Input{Profile: AWSIoT, GatewayID: "gw", TLS: TLSFiles{CertFile: "c", KeyFile: "k"}, AWS: AWS{Endpoint: "x-ats.iot.us-east-1.amazonaws.com"}}
	with := func(in Input, f func(*Input)) Input { f(&in); return in }
	tests := []struct {
		name  string
		in    Input
		field string
		parts []string
	}{
		{"unknown profile", Input{Profile: "gcp", GatewayID: "gw"}, "cloud.profile", []string{`"gcp"`, "generic, aws-iot, azure-iothub, aliyun-iot"}},
		{"no gateway id", Input{Brokers: []string{"tcp://h:1"}}, "gateway.id", []string{"missing"}},
		{"gateway id with wildcard", Input{GatewayID: "gw/+", Brokers: []string{"tcp://h:1"}}, "gateway.id", []string{"no '/', '+', '#'"}},
		{"generic without brokers", Input{GatewayID: "gw"}, "cloud.brokers", []string{"at least one broker"}},
		{"bad broker url", Input{GatewayID: "gw", Brokers: []string{"tcp://h:1", "h:1883"}}, "cloud.brokers[1]", []string{"scheme://host:port"}},
		{"bad broker scheme", Input{GatewayID: "gw", Brokers: []string{"http://h:1"}}, "cloud.brokers[0]", []string{`"http"`, "tcp, ssl"}},
		{"bad prefix", Input{GatewayID: "gw", TopicPrefix: "/city/#", Brokers: []string{"tcp://h:1"}}, "cloud.topic_prefix", []string{"no wildcards"}},
		{"password without user", Input{GatewayID: "gw", Password: "pw-9f8e", Brokers: []string{"tcp://h:1"}}, "cloud.password", []string{"set cloud.username"}},
		{"aws without endpoint", with(okAWS, func(in *Input) { in.AWS.Endpoint = "" }), "cloud.aws.endpoint", []string{"missing", "describe-endpoint"}},
		{"aws endpoint with scheme", with(okAWS, func(in *Input) { in.AWS.Endpoint = "ssl://x-ats.iot.us-east-1.amazonaws.com:8883" }), "cloud.aws.endpoint", []string{"host name only"}},
		{"aws endpoint and brokers", with(okAWS, func(in *Input) { in.Brokers = []string{"ssl://h:8883"} }), "cloud.aws.endpoint", []string{"keep one"}},
		{"aws plain broker", with(okAWS, func(in *Input) { in.AWS.Endpoint = ""; in.Brokers = []string{"tcp://h:1883"} }), "cloud.brokers[0]", []string{"needs TLS", "ssl://h:1883"}},
		{"aws websocket broker", with(okAWS, func(in *Input) { in.AWS.Endpoint = ""; in.Brokers = []string{"wss://h:443"} }), "cloud.brokers[0]", []string{"not WebSocket"}},
		{"aws bad port", with(okAWS, func(in *Input) { in.AWS.Port = 1883 }), "cloud.aws.port", []string{"8883", "443"}},
		{"aws bad thing name", with(okAWS, func(in *Input) { in.AWS.ThingName = "gw 7" }), "cloud.aws.thing_name", []string{"thing name"}},
		{"aws gateway id not a thing name", with(okAWS, func(in *Input) { in.GatewayID = "gw.7" }), "gateway.id", []string{"set cloud.aws.thing_name"}},
		{"aws other client id", with(okAWS, func(in *Input) { in.ClientID = "wayside-gw" }), "cloud.client_id", []string{"thing name", "remove cloud.client_id"}},
		{"aws no certificate", with(okAWS, func(in *Input) { in.TLS.CertFile = "" }), "cloud.tls.cert_file", []string{"X.509"}},
		{"aws no key", with(okAWS, func(in *Input) { in.TLS.KeyFile = "" }), "cloud.tls.key_file", []string{"private key"}},
		{"aws username", with(okAWS, func(in *Input) { in.Username = "u" }), "cloud.username", []string{"not used by aws-iot", "remove"}},
		{"azure section on generic", Input{GatewayID: "gw", Brokers: []string{"tcp://h:1"}, Azure: Azure{HubHost: "h.azure-devices.net"}}, "cloud.azure", []string{"cloud.profile is generic", "azure-iothub"}},
		{"aws section on generic", Input{GatewayID: "gw", Brokers: []string{"tcp://h:1"}, AWS: AWS{Port: 443}}, "cloud.aws", []string{"cloud.profile is generic"}},
		{"aliyun section on aws", with(okAWS, func(in *Input) { in.Aliyun.Region = "cn-shanghai" }), "cloud.aliyun", []string{"cloud.profile is aws-iot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFieldErr(t, tt.in, tt.field, tt.parts)
		})
	}
}

func TestBuildReportsEveryProblem(t *testing.T) {
	es := buildErrs(t, Input{Profile: AWSIoT, GatewayID: "", Username: "u", AWS: AWS{Port: 80}})
	for _, f := range []string{"gateway.id", "cloud.username", "cloud.aws.port", "cloud.aws.endpoint", "cloud.tls.cert_file", "cloud.tls.key_file"} {
		if !es.Has(f) {
			t.Errorf("no error on %s; got:\n%v", f, es)
		}
	}
	if n := strings.Count(es.Error(), "\n") + 1; n != len(es) {
		t.Errorf("Error() has %d lines for %d errors", n, len(es))
	}
}

func TestPrintingInputRedactsSecrets(t *testing.T) {
	in := Input{Profile: AzureIoTHub, GatewayID: "gw", Username: "u", Password: "generic-pass-123",
		Azure:  Azure{HubHost: "h.azure-devices.net", SharedAccessKey: "q+DKVojmMz014RjAwpNGZbAkdOocSVWMKPOccLfUmLE="},
		Aliyun: Aliyun{ProductKey: "pk", DeviceSecret: "aliyun-secret-456"}}
	for _, s := range []string{fmt.Sprint(in), fmt.Sprintf("%v", in), fmt.Sprintf("%+v", in), fmt.Sprintf("%#v", in),
		fmt.Sprintf("%v %+v %#v", in.Azure, in.Azure, in.Azure), fmt.Sprintf("%v %+v %#v", in.Aliyun, in.Aliyun, in.Aliyun)} {
		for _, secret := range []string{"generic-pass-123", "q+DKVojmMz014RjAwpNGZbAkdOocSVWMKPOccLfUmLE=", "aliyun-secret-456"} {
			if strings.Contains(s, secret) {
				t.Errorf("printed input leaks %q: %s", secret, s)
			}
		}
		if !strings.Contains(s, "[redacted]") {
			t.Errorf("printed input does not mark the redaction: %s", s)
		}
	}
	if s := fmt.Sprint(in); !strings.Contains(s, "h.azure-devices.net") || !strings.Contains(s, "GatewayID:gw") {
		t.Errorf("printed input lost its non-secret fields: %s", s)
	}
}

func TestStatusDeliveryString(t *testing.T) {
	for d, want := range map[StatusDelivery]string{StatusRetained: "retained", StatusTwin: "twin", StatusPlain: "plain", 7: "StatusDelivery(7)"} {
		if got := d.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", int(d), got, want)
		}
	}
}
