package tlsconf

import (
	"strings"
	"testing"
)

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		url           string
		tls, loopback bool
	}{
		{"tcp://127.0.0.1:1883", false, true},
		{"mqtt://127.8.9.10:1883", false, true},
		{"tcp://[::1]:1883", false, true},
		{"tcp://localhost:1883", false, true},
		{"tcp://LocalHost.:1883", false, true},
		{"unix:///run/mosquitto.sock", false, true},
		{"ssl://127.0.0.1:8883", true, true},
		{"tcp://mqtt.city.example:1883", false, false},
		{"tcp://localhost.city.example:1883", false, false},
		{"tcp://10.0.0.5:1883", false, false},
		{"tcp://[::ffff:10.0.0.5]:1883", false, false},
		{"ws://127.0.0.1:9001", false, true},
		{"ws://mqtt.city.example:80", false, false},
		{"ssl://mqtt.city.example:8883", true, false},
		{"tls://mqtt.city.example:8883", true, false},
		{"mqtts://mqtt.city.example:8883", true, false},
		{"MQTTS://mqtt.city.example:8883", true, false},
		{"mqtt+ssl://mqtt.city.example:8883", true, false},
		{"tcps://mqtt.city.example:8883", true, false},
		{"wss://mqtt.city.example:443", true, false},
		{"://bad", false, false},
	} {
		if got := IsTLS(tc.url); got != tc.tls {
			t.Errorf("IsTLS(%q) = %v", tc.url, got)
		}
		if got := IsLoopback(tc.url); got != tc.loopback {
			t.Errorf("IsLoopback(%q) = %v", tc.url, got)
		}
		if got := Required(tc.url); got != !tc.loopback {
			t.Errorf("Required(%q) = %v", tc.url, got)
		}
		err := CheckBroker(tc.url, false)
		if wantErr := !tc.tls && !tc.loopback; (err != nil) != wantErr {
			t.Errorf("CheckBroker(%q, false) = %v, want error %v", tc.url, err, wantErr)
		}
		if err := CheckBroker(tc.url, true); err != nil {
			t.Errorf("CheckBroker(%q, true) = %v; allow_plaintext must allow it", tc.url, err)
		}
	}
}

func TestCheckBrokerMessage(t *testing.T) {
	err := CheckBroker("tcp://gw1:hunter2@mqtt.city.example:1883", false)
	if err == nil {
		t.Fatal("plaintext to a remote broker accepted")
	}
	for _, want := range []string{"ssl://mqtt.city.example:8883", "cloud.allow_plaintext: true", "in the clear"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error repeats the password: %q", err)
	}
	if err := CheckBroker("tcp://[2001:db8::1]:1883", false); err == nil || !strings.Contains(err.Error(), "ssl://[2001:db8::1]:8883") {
		t.Errorf("IPv6 suggestion: %v", err)
	}
}
