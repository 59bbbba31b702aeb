// Package client talks to waysided's local API over its unix socket (see package localapi). It is
// what the wayside CLI uses; scripts may use it too.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

// DefaultSocket is where waysided listens unless local_api.socket says otherwise.
const DefaultSocket = "/run/wayside/local.sock"

// Client is a local API client. The zero value uses DefaultSocket.
type Client struct {
	// Socket is the unix socket path.
	Socket string
	// OnAnswer, when set, is handed the body of each 2xx answer a typed method decodes, as the daemon
	// sent it and before it is decoded: wayside --json prints it.
	OnAnswer func(body []byte)

	hc *http.Client
}

// New returns a client for the daemon at socket.
func New(socket string) *Client { return &Client{Socket: socket} }

func (c *Client) socket() string {
	if c.Socket == "" {
		return DefaultSocket
	}
	return c.Socket
}

func (c *Client) http() *http.Client {
	if c.hc == nil {
		sock := c.socket()
		c.hc = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				conn, err := d.DialContext(ctx, "unix", sock)
				if err != nil {
					return nil, dialError(sock, err)
				}
				return conn, nil
			},
			DisableCompression: true,
		}}
	}
	return c.hc
}

// NotRunningError is returned when the socket cannot be dialled because nothing listens on it.
type NotRunningError struct {
	Socket string
	Err    error // the underlying errno, e.g. "no such file or directory", "connection refused"
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("cannot reach waysided at %s (%v); is it running? try: sudo systemctl start waysided", e.Socket, e.Err)
}

func (e *NotRunningError) Unwrap() error { return e.Err }

// AccessDeniedError is a refusal: the socket's permissions kept us out (Status 0), or the daemon
// answered 403 because this user may not use that action or the request looked like a browser's.
type AccessDeniedError struct {
	Socket string
	Status int    // 403, or 0 when connecting to the socket was refused by its file permissions
	Msg    string // the daemon's reason, or the errno
	Group  string // the group whose members may act, when known
}

func (e *AccessDeniedError) Error() string {
	who := "run it with sudo"
	if e.Group != "" {
		who = fmt.Sprintf("join group %s (sudo usermod -aG %s $USER, then log in again) or run it with sudo", e.Group, e.Group)
	}
	if e.Status == 0 {
		return fmt.Sprintf("permission denied on %s (%s); to use wayside, %s", e.Socket, e.Msg, who)
	}
	return fmt.Sprintf("access denied by waysided: %s; to use this command, %s", e.Msg, who)
}

// IsAccessDenied reports whether err is an AccessDeniedError.
func IsAccessDenied(err error) bool {
	var ae *AccessDeniedError
	return errors.As(err, &ae)
}

// APIError is any other non-2xx answer.
type APIError struct {
	Status int
	Msg    string
	Kind   string // sensor error kind, when the daemon gave one
}

func (e *APIError) Error() string { return e.Msg }

// IsNotFound reports whether err is a 404 (unknown sensor, bus or endpoint).
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

func dialError(sock string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EACCES, syscall.EPERM:
			return &AccessDeniedError{Socket: sock, Msg: errno.Error(), Group: socketGroup(sock)}
		}
		return &NotRunningError{Socket: sock, Err: errno}
	}
	return &NotRunningError{Socket: sock, Err: err}
}

// socketGroup names the group that owns the socket when it is not a private one, "" otherwise.
func socketGroup(sock string) string {
	fi, err := os.Stat(sock)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || fi.Mode().Perm()&0o060 == 0 {
		return ""
	}
	g, err := user.LookupGroupId(strconv.FormatUint(uint64(st.Gid), 10))
	if err != nil {
		return ""
	}
	return g.Name
}

// Do sends one request to endpoint name with query q and returns the body of a 2xx answer; other
// answers become *AccessDeniedError or *APIError. For the raw JSON (wayside --json).
func (c *Client) Do(ctx context.Context, method, name string, q url.Values) ([]byte, error) {
	resp, err := c.send(ctx, method, name, q)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read answer from waysided: %w", err)
	}
	return body, nil
}

func (c *Client) send(ctx context.Context, method, name string, q url.Values) (*http.Response, error) {
	u := "http://local" + apitype.Prefix + name
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		var nr *NotRunningError
		var ad *AccessDeniedError
		switch {
		case errors.As(err, &nr):
			return nil, nr
		case errors.As(err, &ad):
			return nil, ad
		}
		return nil, fmt.Errorf("waysided at %s: %w", c.socket(), err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e apitype.Error
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		e.Error = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	if resp.StatusCode == http.StatusForbidden {
		return nil, &AccessDeniedError{Socket: c.socket(), Status: resp.StatusCode, Msg: e.Error, Group: e.Group}
	}
	return nil, &APIError{Status: resp.StatusCode, Msg: e.Error, Kind: e.Kind}
}

func (c *Client) get(ctx context.Context, method, name string, q url.Values, v any) error {
	body, err := c.Do(ctx, method, name, q)
	if err != nil {
		return err
	}
	if c.OnAnswer != nil {
		c.OnAnswer(body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode %s answer from waysided: %w", name, err)
	}
	return nil
}

// call asks the daemon for endpoint name and decodes its JSON answer into a new T.
func call[T any](ctx context.Context, c *Client, method, name string, q url.Values) (*T, error) {
	v := new(T)
	return v, c.get(ctx, method, name, q, v)
}

// Status returns GET status.
func (c *Client) Status(ctx context.Context) (*apitype.Status, error) {
	return call[apitype.Status](ctx, c, http.MethodGet, apitype.EndpointStatus, nil)
}

// Sensors returns GET sensors.
func (c *Client) Sensors(ctx context.Context) ([]apitype.Sensor, error) {
	var v []apitype.Sensor
	err := c.get(ctx, http.MethodGet, apitype.EndpointSensors, nil, &v) // before v is read: the return's order is unspecified
	return v, err
}

// Cloud returns GET cloud.
func (c *Client) Cloud(ctx context.Context) (*apitype.Cloud, error) {
	return call[apitype.Cloud](ctx, c, http.MethodGet, apitype.EndpointCloud, nil)
}

// Spool returns GET spool.
func (c *Client) Spool(ctx context.Context) (*apitype.Spool, error) {
	return call[apitype.Spool](ctx, c, http.MethodGet, apitype.EndpointSpool, nil)
}

// Version returns GET version.
func (c *Client) Version(ctx context.Context) (*apitype.Version, error) {
	return call[apitype.Version](ctx, c, http.MethodGet, apitype.EndpointVersion, nil)
}

// LogLevel returns GET log-level.
func (c *Client) LogLevel(ctx context.Context) (*apitype.LogLevel, error) {
	return call[apitype.LogLevel](ctx, c, http.MethodGet, apitype.EndpointLogLevel, nil)
}

// SetLogLevel sets the daemon's log level (POST log-level).
func (c *Client) SetLogLevel(ctx context.Context, level string) (*apitype.LogLevel, error) {
	return call[apitype.LogLevel](ctx, c, http.MethodPost, apitype.EndpointLogLevel, url.Values{"level": {level}})
}

// Read reads one sensor now (POST read).
func (c *Client) Read(ctx context.Context, sensor string) (*apitype.Read, error) {
	return call[apitype.Read](ctx, c, http.MethodPost, apitype.EndpointRead, url.Values{"sensor": {sensor}})
}

// SelfTest runs POST selftest.
func (c *Client) SelfTest(ctx context.Context) (*apitype.SelfTest, error) {
	return call[apitype.SelfTest](ctx, c, http.MethodPost, apitype.EndpointSelfTest, nil)
}

// ScanI2C runs POST scan-i2c; bus "" scans every I2C bus of the board.
func (c *Client) ScanI2C(ctx context.Context, bus string) (*apitype.ScanI2C, error) {
	var q url.Values
	if bus != "" {
		q = url.Values{"bus": {bus}}
	}
	return call[apitype.ScanI2C](ctx, c, http.MethodPost, apitype.EndpointScanI2C, q)
}

// ScanModbus runs POST scan-modbus on bus for slave addresses first..last (0, 0: all of 1..247).
func (c *Client) ScanModbus(ctx context.Context, bus string, first, last int) (*apitype.ScanModbus, error) {
	return call[apitype.ScanModbus](ctx, c, http.MethodPost, apitype.EndpointScanModbus, ScanModbusQuery(bus, first, last))
}

// ScanModbusQuery is the query of POST scan-modbus.
func ScanModbusQuery(bus string, first, last int) url.Values {
	q := url.Values{"bus": {bus}}
	if first > 0 {
		q.Set("first", strconv.Itoa(first))
	}
	if last > 0 {
		q.Set("last", strconv.Itoa(last))
	}
	return q
}

// TailQuery is the query of GET tail for sensors (all when empty).
func TailQuery(sensors []string) url.Values {
	if len(sensors) == 0 {
		return nil
	}
	return url.Values{"sensor": sensors}
}

// Tail streams readings of sensors (all when empty) to fn, one NDJSON line at a time, until ctx ends
// (then it returns nil), fn returns an error (returned, except ErrStop which ends the tail with nil),
// or the daemon closes the stream. raw is the line as received, for --json.
func (c *Client) Tail(ctx context.Context, sensors []string, fn func(line apitype.TailLine, raw []byte) error) error {
	resp, err := c.send(ctx, http.MethodGet, apitype.EndpointTail, TailQuery(sensors))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line apitype.TailLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("tail: bad line from waysided %q: %w", sc.Bytes(), err)
		}
		if err := fn(line, sc.Bytes()); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	return errors.New("tail: waysided closed the stream (stopping or restarting?)")
}

// ErrStop, returned by a Tail callback, ends the tail without an error.
var ErrStop = errors.New("stop")
