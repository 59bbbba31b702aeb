package tlsconf

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// tlsSchemes are the broker URL schemes paho v1.5.1 dials with TLS (netconn.go: ssl, tls, mqtts,
// mqtt+ssl, tcps; wss for websockets).
var tlsSchemes = map[string]bool{"ssl": true, "tls": true, "mqtts": true, "mqtt+ssl": true, "tcps": true, "wss": true}

// IsTLS reports whether paho connects to brokerURL with TLS.
func IsTLS(brokerURL string) bool {
	u, err := url.Parse(brokerURL)
	return err == nil && tlsSchemes[strings.ToLower(u.Scheme)]
}

// IsLoopback reports whether brokerURL's broker is on this machine: a loopback address (127.0.0.0/8,
// ::1), the name localhost, or a unix socket. Other names are not resolved: a name that happens to
// resolve to a loopback address today is still treated as remote.
func IsLoopback(brokerURL string) bool {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Scheme, "unix") {
		return true
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Required reports whether the link to brokerURL must use TLS: it must unless the broker is on this
// machine (IsLoopback). An URL that does not parse requires TLS.
func Required(brokerURL string) bool { return !IsLoopback(brokerURL) }

// CheckBroker is the config rule: a broker that is not on this machine must be reached with TLS unless
// allowPlaintext (cloud.allow_plaintext) is set. The error says how to fix it and never repeats a
// password given in the URL; the caller prefixes the field path (cloud.brokers[i]).
func CheckBroker(brokerURL string, allowPlaintext bool) error {
	if IsTLS(brokerURL) || !Required(brokerURL) || allowPlaintext {
		return nil
	}
	u, err := url.Parse(brokerURL)
	if err != nil {
		return fmt.Errorf("not a broker URL; use ssl://host:8883")
	}
	return fmt.Errorf("%s is not on this machine and %s:// sends telemetry and passwords in the clear; use ssl://%s (with cloud.tls.ca if the broker's certificate is not signed by a public CA), or set cloud.allow_plaintext: true for a network you trust",
		u.Redacted(), u.Scheme, net.JoinHostPort(u.Hostname(), "8883"))
}
