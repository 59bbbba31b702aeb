package command

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/veraison/go-cose"

	"github.com/wayside-iot/wayside/internal/ident"
)

// Freshness defaults.
const (
	DefaultMaxAge  = 5 * time.Minute
	DefaultMaxSkew = 30 * time.Second
)

// DefaultUntrustedClockCommands are accepted while the gateway's clock is not trusted: read-only
// commands whose replay does no harm.
var DefaultUntrustedClockCommands = []string{CmdPing, CmdGetStatus}

// VerifierOptions configures a Verifier.
type VerifierOptions struct {
	// Gateway is this gateway's id; requests for another are refused (CodeWrongGateway).
	Gateway string
	// Keys are the city's public keys by key id (ParsePublicKey reads the configured forms).
	Keys map[string]ed25519.PublicKey
	// Replay remembers accepted nonces; required. Open it with the same MaxAge and MaxSkew.
	Replay *ReplayCache
	// Limits bound the decoder; zero fields take DefaultLimits'.
	Limits Limits
	// MaxAge is how old a request may be (default 5 min); MaxSkew how far in the future (default 30 s).
	MaxAge, MaxSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ClockTrusted reports whether Now can be trusted (NTP synchronised, or an RTC); nil means always.
	// While it is false, freshness cannot be judged: only UntrustedClockCommands are accepted (still
	// signed, and their nonces still remembered, for at least MaxAge+MaxSkew from now); others are
	// refused with CodeStale.
	ClockTrusted func() bool
	// UntrustedClockCommands defaults to DefaultUntrustedClockCommands; an empty non-nil slice
	// accepts no command while the clock is not trusted.
	UntrustedClockCommands []string
}

// Verifier decides whether a command request is authorised: well-formed within limits, for this
// gateway, signed by a known key, fresh, and not replayed. It is safe for concurrent use.
type Verifier struct {
	o   VerifierOptions
	cvs map[string]cose.Verifier // by key id
}

// freshnessDefaults fills the freshness window and clock that the verifier and the replay cache both
// take: a window of 0 or less means its default, a nil clock time.Now.
func freshnessDefaults(maxAge, maxSkew *time.Duration, now *func() time.Time) {
	if *maxAge <= 0 {
		*maxAge = DefaultMaxAge
	}
	if *maxSkew <= 0 {
		*maxSkew = DefaultMaxSkew
	}
	if *now == nil {
		*now = time.Now
	}
}

// NewVerifier validates o and returns a Verifier.
func NewVerifier(o VerifierOptions) (*Verifier, error) {
	if !ident.Valid(o.Gateway) {
		return nil, fmt.Errorf("command: verifier: gateway id %q is not valid", o.Gateway)
	}
	if len(o.Keys) == 0 {
		return nil, errors.New("command: verifier: no public keys: configure at least one city key (wayside cmd-keygen makes one)")
	}
	for id, k := range o.Keys {
		if !ident.Valid(id) {
			return nil, fmt.Errorf("command: verifier: key id %q is not valid: use letters, digits, '-', '_' or '.' (at most 64)", id)
		}
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("command: verifier: key %q: %d bytes, want a %d-byte Ed25519 public key", id, len(k), ed25519.PublicKeySize)
		}
	}
	if o.Replay == nil {
		return nil, errors.New("command: verifier: no replay cache")
	}
	d := DefaultLimits
	if o.Limits.MaxBytes <= 0 {
		o.Limits.MaxBytes = d.MaxBytes
	}
	if o.Limits.MaxDepth <= 0 {
		o.Limits.MaxDepth = d.MaxDepth
	}
	if o.Limits.MaxElements <= 0 {
		o.Limits.MaxElements = d.MaxElements
	}
	if o.Limits.MaxString <= 0 {
		o.Limits.MaxString = d.MaxString
	}
	freshnessDefaults(&o.MaxAge, &o.MaxSkew, &o.Now)
	if r := o.Replay.o; r.MaxAge != o.MaxAge || r.MaxSkew != o.MaxSkew {
		return nil, fmt.Errorf("command: verifier: the replay cache was opened with max age %s and max skew %s, the verifier has %s and %s: give both the same",
			r.MaxAge, r.MaxSkew, o.MaxAge, o.MaxSkew)
	}
	if o.UntrustedClockCommands == nil {
		o.UntrustedClockCommands = DefaultUntrustedClockCommands
	}
	cvs, err := newVerifiers(o.Keys)
	if err != nil {
		return nil, err
	}
	return &Verifier{o: o, cvs: cvs}, nil
}

// Gateway returns the gateway id the verifier accepts.
func (v *Verifier) Gateway() string { return v.o.Gateway }

// Verify checks msg, received on the command topic of topicCommand, in this order: size, the
// COSE_Sign1 envelope (tag, alg, kid, no crit), decoding of its JSON payload within the limits,
// field syntax, gateway, topic against the command field, key id, signature, freshness, and last
// the nonce, which it then remembers. msg is the COSE_Sign1 bytes, or a JSON string holding their
// base64 (for platforms whose command payload must be JSON). The error is an *Error with the code
// of the first failed check. The request is returned once its JSON could be decoded, also with an
// error (its ID may then be invalid: check it before echoing it). A payload that is one JSON object
// within the limits, without duplicate or unknown members, but is refused for another member's
// shape returns a Request with only its ID (when "id" is a string), so the answer can echo it.
func (v *Verifier) Verify(topicCommand string, msg []byte) (*Request, error) {
	lim := v.o.Limits
	if len(msg) > lim.MaxBytes {
		return nil, Errorf(CodeTooLarge, "payload is %d bytes, more than %d", len(msg), lim.MaxBytes)
	}
	if len(msg) > 0 && msg[0] == '"' {
		var err error
		if msg, err = unwrapJSONString(msg); err != nil {
			return nil, err
		}
	}
	env, err := openEnvelope(msg)
	if err != nil {
		return nil, err
	}
	payload := env.msg.Payload
	if !utf8.Valid(payload) {
		return nil, Errorf(CodeBadRequest, "request JSON is not valid UTF-8")
	}
	kinds, err := scan(payload, lim)
	if err != nil {
		return nil, err
	}
	// The scan passed: the payload is one JSON object within the limits, each member once. Refusals
	// from here on echo the id when it can be read.
	idOnly := func() *Request {
		if kinds["id"] != kindString {
			return nil
		}
		var r struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(payload, &r) != nil {
			return nil
		}
		return &Request{ID: r.ID}
	}
	for _, f := range topFields {
		want := byte(kindString)
		switch f {
		case "args":
			if k, ok := kinds[f]; ok && k != kindObject {
				return idOnly(), Errorf(CodeBadRequest, "args: want a JSON object or no args field")
			}
			continue
		case "issued_at":
			want = kindNumber
		}
		k, ok := kinds[f]
		if !ok {
			return idOnly(), Errorf(CodeBadRequest, "%s: missing", f)
		}
		if k != want {
			kind := map[byte]string{kindString: "a string", kindNumber: "a number (unix milliseconds)"}[want]
			return idOnly(), Errorf(CodeBadRequest, "%s: want %s", f, kind)
		}
	}
	req := new(Request)
	if err := json.Unmarshal(payload, req); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field == "issued_at" {
			return idOnly(), Errorf(CodeBadRequest, "issued_at: want an integer (unix milliseconds)")
		}
		return idOnly(), Errorf(CodeBadRequest, "payload: %v", err)
	}
	req.KeyID = env.keyID
	nonce, err := checkFields(req)
	if err != nil {
		return req, err
	}
	if req.Gateway != v.o.Gateway {
		return req, Errorf(CodeWrongGateway, "request is for gateway %q; this is %q", req.Gateway, v.o.Gateway)
	}
	if req.Command != topicCommand {
		return req, Errorf(CodeBadRequest, "command %q does not match the topic's command %q", req.Command, clip(topicCommand))
	}
	cv, ok := v.cvs[req.KeyID]
	if !ok {
		return req, Errorf(CodeUnauthorized, "unknown kid %q", req.KeyID)
	}
	if env.msg.Verify(nil, cv) != nil {
		return req, Errorf(CodeUnauthorized, "signature does not verify with key %q", req.KeyID)
	}

	now := v.o.Now()
	issued := req.Issued()
	expires := issued.Add(v.o.MaxAge)
	if v.o.ClockTrusted == nil || v.o.ClockTrusted() {
		if age := now.Sub(issued); age > v.o.MaxAge {
			return req, Errorf(CodeStale, "issued %s ago, more than the %s allowed; issue a new request",
				age.Round(time.Millisecond), v.o.MaxAge)
		} else if -age > v.o.MaxSkew {
			return req, Errorf(CodeStale, "issued %s in the future of the gateway's clock, more than the %s allowed; check the clocks",
				(-age).Round(time.Millisecond), v.o.MaxSkew)
		}
	} else {
		if !slices.Contains(v.o.UntrustedClockCommands, req.Command) {
			return req, Errorf(CodeStale, "the gateway's clock is not trusted yet, so freshness cannot be checked; until it is, only %s are accepted",
				strings.Join(v.o.UntrustedClockCommands, ", "))
		}
		// issued_at cannot be compared with a clock that may be years off: remember the nonce at
		// least one freshness window from now.
		expires = maxTime(expires, now.Add(v.o.MaxAge+v.o.MaxSkew))
	}

	if err := v.o.Replay.Remember(req.KeyID, nonce, issued, expires); err != nil {
		switch {
		case errors.Is(err, ErrReplayed):
			msg := "nonce already used by an accepted command; issue a new request"
			if err != ErrReplayed {
				msg = strings.TrimPrefix(err.Error(), ErrReplayed.Error()+": ")
			}
			return req, Errorf(CodeReplayed, "%s", msg)
		case errors.Is(err, ErrBusy):
			return req, Errorf(CodeBusy, "%s", strings.TrimPrefix(err.Error(), ErrBusy.Error()+": "))
		}
		return req, &replayError{&Error{Code: CodeFailed, Message: "the gateway could not record the nonce; see its log"}, err}
	}
	return req, nil
}

// replayError is a failure of the replay cache's file: the answer says little, the log says why.
type replayError struct {
	answer *Error
	cause  error
}

func (e *replayError) Error() string   { return e.answer.Error() + ": " + e.cause.Error() }
func (e *replayError) Unwrap() []error { return []error{e.answer, e.cause} }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
