package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Handler runs one command. args is the request's args object as received (nil when absent):
// decode it with DecodeArgs or wrap the handler with Typed. The result is marshalled as the
// response's "result" and must marshal to a JSON object (or be nil for none). An error made with
// Errorf chooses the answer's code; any other error answers CodeFailed with its text, which goes
// to the cloud: keep secrets out of it. ctx ends after Options.Timeout.
type Handler func(ctx context.Context, args json.RawMessage) (result any, err error)

// Options configures a Dispatcher.
type Options struct {
	// Verifier authorises requests; required.
	Verifier *Verifier
	// Log records accepted commands (info), refusals (warn, rate-limited with the answers) and
	// failures; nil logs nothing.
	Log *zap.Logger
	// Timeout bounds one handler through its ctx (default 10 s).
	Timeout time.Duration
	// ErrorBurst and ErrorEvery shape the token bucket of refusal answers (default 10, one per 2 s):
	// a request the verifier refuses (malformed, unsigned, stale, replayed...) is answered only while
	// the bucket has a token, so garbage or replays on the command topic cannot make the gateway flood
	// the broker. Answers of accepted commands (results, failures, unknown_command) are not limited.
	ErrorBurst int
	ErrorEvery time.Duration
	// Now is the clock of the answers' "at"; nil means time.Now.
	Now func() time.Time
}

// Stats are the dispatcher's counters.
type Stats struct {
	Accepted   uint64 // authorised requests (run, or answered unknown_command)
	Refused    uint64 // requests refused by the verifier
	Suppressed uint64 // refusals not answered (rate limit)
	Failed     uint64 // commands whose handler failed, panicked or timed out
	Panics     uint64
}

// Dispatcher routes authorised commands to their handlers and builds the answers. Register every
// handler before the first Handle; Handle is safe for concurrent use.
type Dispatcher struct {
	o        Options
	v        *Verifier
	log      *zap.Logger
	mu       sync.RWMutex
	handlers map[string]Handler

	bucketMu   sync.Mutex
	tokens     float64
	last       time.Time
	suppressed uint64 // since the last answered refusal; bucketMu

	accepted, refused, dropped, failed, panics atomic.Uint64
}

// New returns a Dispatcher without handlers.
func New(o Options) (*Dispatcher, error) {
	if o.Verifier == nil {
		return nil, errors.New("command: dispatcher: no verifier")
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.ErrorBurst <= 0 {
		o.ErrorBurst = 10
	}
	if o.ErrorEvery <= 0 {
		o.ErrorEvery = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Dispatcher{o: o, v: o.Verifier, log: o.Log.Named("cmd"), handlers: map[string]Handler{},
		tokens: float64(o.ErrorBurst)}, nil
}

// Register adds the handler of command name (^[a-z][a-z0-9-]{0,31}$).
func (d *Dispatcher) Register(name string, h Handler) error {
	if !ValidName(name) {
		return fmt.Errorf("command: register %q: not a valid command name (^[a-z][a-z0-9-]{0,31}$)", name)
	}
	if h == nil {
		return fmt.Errorf("command: register %q: nil handler", name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, dup := d.handlers[name]; dup {
		return fmt.Errorf("command: register %q: already registered", name)
	}
	d.handlers[name] = h
	return nil
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	return Stats{Accepted: d.accepted.Load(), Refused: d.refused.Load(), Suppressed: d.dropped.Load(),
		Failed: d.failed.Load(), Panics: d.panics.Load()}
}

// Handle verifies payload, received on the command topic of name, runs its handler and returns the
// answer; send is false when the answer is a refusal held back by the rate limit. It never panics:
// a panicking handler answers CodeFailed.
func (d *Dispatcher) Handle(ctx context.Context, name string, payload []byte) (resp Response, send bool) {
	resp = Response{Gateway: d.v.Gateway()}
	if ValidName(name) {
		resp.Command = name
	}
	defer func() {
		if r := recover(); r != nil { // a bug outside the handler: still answer
			d.panics.Add(1)
			d.log.Error("command dispatch panicked", zap.String("command", resp.Command), zap.Any("panic", r),
				zap.ByteString("stack", debug.Stack()))
			resp.OK, resp.Result, resp.Error = false, nil, &Error{Code: CodeFailed, Message: "internal error; see the gateway's log"}
			send = true
		}
		resp.At = d.o.Now().UnixMilli()
	}()

	req, err := d.v.Verify(name, payload)
	if req != nil && validRequestID(req.ID) {
		resp.ID = req.ID
	}
	if err != nil {
		d.refused.Add(1)
		resp.Error = asError(err)
		send = d.refusal(resp, err)
		return resp, send
	}
	d.accepted.Add(1)
	d.mu.RLock()
	h := d.handlers[req.Command]
	d.mu.RUnlock()
	if h == nil {
		d.log.Warn("unknown command", zap.String("id", resp.ID), zap.String("command", req.Command), zap.String("key_id", req.KeyID))
		resp.Error = &Error{Code: CodeUnknownCommand, Message: fmt.Sprintf("no command %q on this gateway", req.Command)}
		return resp, true
	}
	d.log.Info("command", zap.String("id", resp.ID), zap.String("command", req.Command), zap.String("key_id", req.KeyID))
	start := time.Now()
	result, err := d.run(ctx, h, req)
	if err == nil {
		resp.Result, err = encodeResult(result)
	}
	if err != nil {
		d.failed.Add(1)
		resp.Error = asError(err)
		d.log.Warn("command failed", zap.String("id", resp.ID), zap.String("command", req.Command),
			zap.String("code", string(resp.Error.Code)), zap.Error(err), zap.Duration("took", time.Since(start)))
		return resp, true
	}
	resp.OK = true
	return resp, true
}

// Reply is Handle for the link's command hook: the answer's JSON and its HTTP-like status
// (Response.Status), or nil when the answer is held back by the rate limit.
func (d *Dispatcher) Reply(ctx context.Context, name string, payload []byte) (reply []byte, status int) {
	resp, send := d.Handle(ctx, name, payload)
	if !send {
		return nil, 0
	}
	return resp.Encode(), resp.Status()
}

// run calls h with the timeout, turning a panic into a failure.
func (d *Dispatcher) run(ctx context.Context, h Handler, req *Request) (result any, err error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			d.panics.Add(1)
			d.log.Error("command handler panicked", zap.String("id", req.ID), zap.String("command", req.Command),
				zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			result, err = nil, Errorf(CodeFailed, "the command crashed; see the gateway's log")
		}
	}()
	result, err = h(ctx, req.Args)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		if errors.Is(err, context.DeadlineExceeded) {
			err = Errorf(CodeFailed, "timed out after %s", d.o.Timeout)
		} else {
			err = Errorf(CodeFailed, "cancelled: the gateway is stopping")
		}
	}
	return result, err
}

const maxMessage = 512

// asError turns err into the answer's error object, its message bounded.
func asError(err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeFailed, Message: err.Error()}
	}
	out := *e
	if len(out.Message) > maxMessage {
		out.Message = out.Message[:maxMessage] + "..."
	}
	return &out
}

func encodeResult(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, Errorf(CodeFailed, "the gateway could not encode the result")
	}
	if bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	if b[0] != '{' {
		return nil, Errorf(CodeFailed, "the command's result is not a JSON object")
	}
	return b, nil
}

// refusal logs a refused request and decides, from the token bucket, whether to answer it.
func (d *Dispatcher) refusal(resp Response, err error) bool {
	d.bucketMu.Lock()
	now := d.o.Now()
	if elapsed := now.Sub(d.last); !d.last.IsZero() && elapsed > 0 { // a clock stepped back refills nothing
		d.tokens = min(float64(d.o.ErrorBurst), d.tokens+float64(elapsed)/float64(d.o.ErrorEvery))
	}
	d.last = now
	allow := d.tokens >= 1
	var skipped uint64
	if allow {
		d.tokens--
		skipped, d.suppressed = d.suppressed, 0
	} else {
		d.suppressed++
	}
	d.bucketMu.Unlock()
	if !allow {
		d.dropped.Add(1)
		return false
	}
	fields := []zap.Field{zap.String("id", resp.ID), zap.String("command", resp.Command),
		zap.String("code", string(resp.Error.Code)), zap.String("reason", resp.Error.Message)}
	if skipped > 0 {
		fields = append(fields, zap.Uint64("suppressed_before", skipped))
	}
	var re *replayError
	if errors.As(err, &re) {
		d.log.Error("command refused: replay cache", append(fields, zap.Error(re.cause))...)
	} else {
		d.log.Warn("command refused", fields...)
	}
	return true
}
