package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits bound what the decoder accepts from the cloud. A request beyond a limit is refused with
// CodeTooLarge before it is decoded into Go values.
type Limits struct {
	MaxBytes    int // whole message, COSE envelope included (default 16 KiB)
	MaxDepth    int // nesting of objects and arrays; the request object is depth 1 (default 8)
	MaxElements int // elements of one array, members of one object (default 256)
	MaxString   int // bytes of one string or object key, after unescaping (default 1024)
}

// DefaultLimits are the limits used when VerifierOptions.Limits is zero.
var DefaultLimits = Limits{MaxBytes: 16 << 10, MaxDepth: 8, MaxElements: 256, MaxString: 1024}

const maxNumber = 64 // bytes of one number literal

// Kinds of the top-level values, as the pre-scan saw them.
const (
	kindString = 's'
	kindNumber = 'n'
	kindObject = 'o'
	kindOther  = '?'
)

// topFields are the members a request may have, in the order of the documentation.
var topFields = []string{"id", "gateway", "command", "args", "issued_at", "nonce"}

type frame struct {
	object  bool
	wantKey bool // object: the next token is a key (or the closing brace)
	n       int
	keys    map[string]struct{}
}

// scan walks the JSON tokens of p once and refuses anything beyond lim, any duplicate key at any
// depth, a top level that is not one object, trailing data and unknown top-level members. It returns
// the kind of each top-level member. encoding/json alone would accept nesting up to 10000 levels,
// repeated keys (last wins) and keys differing only in case.
func scan(p []byte, lim Limits) (map[string]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber() // numbers stay text: no float parsing of "1e999"
	top := make(map[string]byte, len(topFields))
	var stack []*frame
	key := "" // the current top-level member
	done := false
	// Each token consumes at least one byte: len(p)+2 iterations bound the loop.
	for range len(p) + 2 {
		tok, err := dec.Token()
		if err == io.EOF {
			if !done {
				return nil, Errorf(CodeBadRequest, "payload ends before the request object does")
			}
			return top, nil
		}
		if err != nil {
			return nil, Errorf(CodeBadRequest, "payload is not valid JSON: %v", err)
		}
		if done {
			return nil, Errorf(CodeBadRequest, "payload has data after the request object")
		}
		if len(stack) == 0 {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return nil, Errorf(CodeBadRequest, "payload must be a JSON object")
			}
			stack = append(stack, &frame{object: true, wantKey: true, keys: map[string]struct{}{}})
			continue
		}
		f := stack[len(stack)-1]
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				done = true
			} else if p := stack[len(stack)-1]; p.object {
				p.wantKey = true
			}
			continue
		}
		if f.object && f.wantKey {
			k, ok := tok.(string) // the decoder yields only strings here; be sure
			if !ok {
				return nil, Errorf(CodeBadRequest, "payload is not valid JSON: an object key is not a string")
			}
			if len(k) > lim.MaxString {
				return nil, Errorf(CodeTooLarge, "an object key is longer than %d bytes", lim.MaxString)
			}
			if _, dup := f.keys[k]; dup {
				return nil, Errorf(CodeBadRequest, "duplicate key %q%s", clip(k), where(len(stack)))
			}
			f.keys[k] = struct{}{}
			if f.n++; f.n > lim.MaxElements {
				return nil, Errorf(CodeTooLarge, "an object has more than %d members", lim.MaxElements)
			}
			if len(stack) == 1 {
				if !known(k) {
					return nil, Errorf(CodeBadRequest, "unknown field %q; a request has %s", clip(k), strings.Join(topFields, ", "))
				}
				key = k
			}
			f.wantKey = false
			continue
		}
		// A value.
		atTop := len(stack) == 1
		if f.object {
			f.wantKey = true
		} else if f.n++; f.n > lim.MaxElements {
			return nil, Errorf(CodeTooLarge, "an array has more than %d elements", lim.MaxElements)
		}
		kind := byte(kindOther)
		switch v := tok.(type) {
		case json.Delim: // '{' or '['
			if len(stack) >= lim.MaxDepth {
				return nil, Errorf(CodeTooLarge, "nested deeper than %d levels", lim.MaxDepth)
			}
			nf := &frame{object: v == '{', wantKey: v == '{'}
			if nf.object {
				nf.keys = map[string]struct{}{}
				kind = kindObject
			}
			stack = append(stack, nf)
		case string:
			if len(v) > lim.MaxString {
				return nil, Errorf(CodeTooLarge, "a string is longer than %d bytes", lim.MaxString)
			}
			kind = kindString
		case json.Number:
			if len(v) > maxNumber {
				return nil, Errorf(CodeTooLarge, "a number is longer than %d characters", maxNumber)
			}
			kind = kindNumber
		}
		if atTop {
			top[key] = kind
		}
	}
	return nil, errors.New("command: scan did not terminate") // unreachable: every token consumes input
}

func known(k string) bool {
	for _, f := range topFields {
		if f == k {
			return true
		}
	}
	return false
}

func where(depth int) string {
	if depth == 1 {
		return " in the request"
	}
	return fmt.Sprintf(" at depth %d", depth)
}
