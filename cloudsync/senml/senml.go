// Package senml owns Wayside's telemetry payload: a SenML pack (RFC 8428) in CBOR with the integer
// labels, laid out to be small on a cellular link while staying plain SenML that any RFC 8428 decoder
// resolves. Encoding a batch into a reused buffer allocates nothing.
//
// Records are grouped by channel, channels of the same unit next to each other. The first record of a group sets the base name to the channel's
// full name (gateway id + "/sensor/measurement") and the base unit, so the group's other records carry
// only a value and a time. The pack's first record also holds the base time and two extension labels
// for de-duplication, "seq" (the batch sequence number) and "bid" (the boot id). In CBOR diagnostic
// notation:
//
//	[{-2: "gw-0001/env1/temperature", -4: "Cel", -3: 1763890000, "seq": 17, "bid": "5f0c…", 2: 11.62},
//	 {2: 11.63, 6: 1},
//	 {-2: "gw-0001/env1/humidity", -4: "%RH", 2: 74.1},
//	 {2: 74.2, 6: 1}]
//
// Each record's time is bt + t in seconds since the Unix epoch (t omitted means 0). The gateway samples
// on the wall clock's grid (every sensor at whole multiples of its interval), so bt is usually whole
// seconds and goes out as a CBOR integer, and t is a small integer: 1 byte below 24 s (RFC 8949
// section 3.1). RFC 8428 section 6 lets any number be an integer or a float. Times off the grid (a
// sub-second interval, a time corrected after boot) go out as the shortest float that rounds back to
// the same millisecond.
//
// Values are first rounded to the channel's declared resolution (Channel.Resolution, from the driver's
// datasheet), then sent as an integer when integral (counts, ppm, satellites, a temperature of exactly
// 21 °C), else as the narrowest float (float16, float32, float64) that a receiver rounding to the
// resolution turns back into the same step: 21.4 dB at 0.1 dB travels as the float16 21.40625.
// A group whose values differ only in their last digits (a position, a pressure) goes relative to a
// base value when that is smaller (bv, RFC 8428 section 4.1: each value is bv + v; the next group sets
// bv back to 0). Channels without a declared resolution keep float32 precision, undeclared latitudes
// and longitudes float64. -0 stays -0; NaN and infinities are refused. The pack is plain SenML-CBOR:
// any RFC 8428 decoder reads it.
package senml

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wayside-iot/wayside/buffer"
)

// SenML CBOR labels (RFC 8428 table 6) and our extension labels.
const (
	LabelBaseName  = -2
	LabelBaseTime  = -3
	LabelBaseUnit  = -4
	LabelBaseValue = -5
	LabelName      = 0
	LabelUnit      = 1
	LabelValue     = 2
	LabelTime      = 6
	LabelSeq       = "seq" // extension: batch sequence number, per gateway, increasing
	LabelBootID    = "bid" // extension: random id of the daemon's boot
	LabelFlags     = "wf"  // extension: reading flags (2 = time corrected), safe to ignore
	// LabelUntrusted carries the flags of a record whose time came from an untrusted clock (bit 1). It
	// ends in "_", RFC 8428's must-understand form (section 4.4): a resolver that does not know it must
	// refuse the record instead of storing a monotonic-clock time as a real one.
	LabelUntrusted = "wf_"
)

// record is one SenML record as Restamp re-encodes it: value and time stay the bytes the encoder
// chose (an integer or the narrowest float), only the base time and the flags change.
type record struct {
	BaseName string          `cbor:"-2,keyasint,omitempty"`
	BaseUnit string          `cbor:"-4,keyasint,omitempty"`
	BaseTime float64         `cbor:"-3,keyasint,omitempty"`
	Seq      uint64          `cbor:"seq,omitempty"`
	BootID   string          `cbor:"bid,omitempty"`
	BaseVal  cbor.RawMessage `cbor:"-5,keyasint,omitempty"`
	Value    cbor.RawMessage `cbor:"2,keyasint"`
	Time     cbor.RawMessage `cbor:"6,keyasint,omitempty"`
	Flags    uint32          `cbor:"wf,omitempty"`  // flags without the untrusted bit
	FlagsMU  uint32          `cbor:"wf_,omitempty"` // flags with it: must-understand
}

// setFlags puts f under the label its untrusted bit calls for.
func (r *record) setFlags(f uint32) {
	r.Flags, r.FlagsMU = 0, 0
	if f&buffer.FlagClockUntrusted != 0 {
		r.FlagsMU = f
	} else {
		r.Flags = f
	}
}

// Channel names one measurement: the SenML name suffix after the gateway id, its unit and the
// resolution its values are sent at.
type Channel struct {
	Name string // "/env1/temperature"
	Unit string // "Cel"
	// Resolution is the step, in Unit, the channel's values are rounded to before they are sent (the
	// driver's declared sensor.Channel.Resolution); 0 when not declared: values then keep float32
	// precision. Integral values always travel as CBOR integers.
	Resolution float64
	// Float64 keeps undeclared values at full float64 precision (set for latitude and longitude by
	// NewEncoder: float32 would round a position by up to half a metre).
	Float64 bool
}

// Encoder turns batches of readings into SenML-CBOR packs. It is not safe for concurrent use: the
// batcher owns one.
type Encoder struct {
	em       cbor.UserBufferEncMode // Restamp's re-encoding
	bootID   string
	channels []Channel
	names    []string  // gateway id + channel name, the base name of each channel's group
	rank     []int32   // per channel, its group's place in the pack: channels sorted by unit
	counts   []int     // per rank, then the start of its group (counting sort by rank)
	order    []int32   // reading indexes grouped by channel, in input order within a channel
	inv      []float64 // per channel, 1/Resolution when that is an integer (see invOf), else 0
	plain    []wire    // per slot of order: the value as it goes without a base value
	rel      []wire    // per slot of order: the value relative to its group's base value
	buf      []byte
}

var encOpts = cbor.EncOptions{
	ShortestFloat: cbor.ShortestFloat16, // lossless: 3 bytes for 0.5, 5 for a float32, 9 only when needed
	NaNConvert:    cbor.NaNConvert7e00,
	InfConvert:    cbor.InfConvertFloat16,
	Sort:          cbor.SortNone,
}

// NewEncoder returns an encoder for a gateway's packs; names are gatewayID + channel name. channels is
// the table buffer.Reading.Channel indexes; it must not change while the encoder is in use. A
// negative, NaN or infinite resolution is refused.
func NewEncoder(gatewayID, bootID string, channels []Channel, maxReadings int) (*Encoder, error) {
	em, err := encOpts.UserBufferEncMode()
	if err != nil {
		return nil, fmt.Errorf("senml: encoder options: %w", err)
	}
	e := &Encoder{em: em, bootID: bootID, channels: make([]Channel, len(channels)),
		names: make([]string, len(channels)), counts: make([]int, len(channels)+1),
		order: make([]int32, 0, maxReadings), rank: make([]int32, len(channels)),
		inv: make([]float64, len(channels)), plain: make([]wire, 0, maxReadings), rel: make([]wire, 0, maxReadings)}
	// Groups of the same unit go together, so the base unit is written once per unit rather than
	// once per channel (it carries over, RFC 8428 section 4.1); otherwise the table's order.
	byUnit := make([]int, len(channels))
	for i := range byUnit {
		byUnit[i] = i
	}
	slices.SortStableFunc(byUnit, func(a, b int) int { return strings.Compare(channels[a].Unit, channels[b].Unit) })
	for r, c := range byUnit {
		e.rank[c] = int32(r)
	}
	for i, ch := range channels {
		if !(ch.Resolution >= 0) || math.IsInf(ch.Resolution, 0) {
			return nil, fmt.Errorf("senml: channel %s: resolution %v is not a positive step (0 for none)", ch.Name, ch.Resolution)
		}
		e.channels[i] = ch
		e.channels[i].Float64 = ch.Float64 || ch.Unit == "lat" || ch.Unit == "lon"
		e.inv[i] = invOf(ch.Resolution)
		e.names[i] = gatewayID + ch.Name
	}
	e.buf = make([]byte, 0, 128+16*maxReadings)
	return e, nil
}

// ErrEmpty is returned for a batch without readings: SenML packs are never empty here.
var ErrEmpty = errors.New("senml: empty batch")

// ErrNotFinite is returned for a NaN or infinite value: SenML-JSON cannot carry them, so a pack never
// does (RFC 8428 section 4.3 and 5: values are JSON numbers).
var ErrNotFinite = errors.New("senml: value is NaN or infinite")

// Encode writes the pack for batch seq holding rs. The returned bytes are valid until the next call.
// A NaN or infinite value fails the batch with ErrNotFinite (the samplers drop such samples first).
func (e *Encoder) Encode(seq uint64, rs []buffer.Reading) ([]byte, error) {
	if len(rs) == 0 {
		return nil, ErrEmpty
	}
	if len(rs) > math.MaxInt32 {
		return nil, fmt.Errorf("senml: batch of %d readings", len(rs))
	}
	base := rs[0].Time
	clear(e.counts)
	for _, r := range rs {
		if int(r.Channel) >= len(e.channels) {
			return nil, fmt.Errorf("senml: reading for channel %d, table has %d", r.Channel, len(e.channels))
		}
		base = min(base, r.Time)
		e.counts[e.rank[r.Channel]+1]++
	}
	// Counting sort: counts[k] becomes the first slot of the group ranked k.
	for c := 1; c < len(e.counts); c++ {
		e.counts[c] += e.counts[c-1]
	}
	e.order = e.order[:len(rs)]
	e.plain, e.rel = slices.Grow(e.plain[:0], len(rs))[:len(rs)], slices.Grow(e.rel[:0], len(rs))[:len(rs)]
	for i, r := range rs {
		k := e.rank[r.Channel]
		e.order[e.counts[k]] = int32(i)
		e.counts[k]++
	}
	b := appendHead(e.buf[:0], majArray, uint64(len(rs)))
	prevChan, prevUnit := -1, ""
	var bv float64   // the base value in force (RFC 8428 section 4.1: it carries over)
	var bvw wire     // bv as written
	var groupBV bool // the current group's values are relative to bv
	for n, i := range e.order {
		r := &rs[i]
		ch := &e.channels[r.Channel]
		var bn, bu string
		setBV := false // this record writes bv (a group's own, or 0 to end the previous group's)
		if int(r.Channel) != prevChan {
			prevChan = int(r.Channel)
			bn = e.names[r.Channel]
			if ch.Unit != prevUnit {
				bu, prevUnit = ch.Unit, ch.Unit
			}
			end := n + 1
			for end < len(e.order) && rs[e.order[end]].Channel == r.Channel {
				end++
			}
			nbv, ok, err := e.baseValue(ch, e.inv[r.Channel], rs, e.order[n:end], e.plain[n:end], e.rel[n:end])
			if err != nil {
				return nil, fmt.Errorf("senml: batch %d, %s: %w", seq, e.names[r.Channel], err)
			}
			groupBV = ok
			if ok || bv != 0 {
				setBV = true
				bv, bvw = 0, wire{head: majUint}
				if ok {
					bv, bvw = nbv, numberOf(nbv)
				}
			}
		}
		w := e.plain[n]
		if groupBV {
			w = e.rel[n]
		}
		d := r.Time - base
		pairs := 1 // the value
		if setBV {
			pairs++
		}
		if bn != "" {
			pairs++
		}
		if bu != "" {
			pairs++
		}
		if d != 0 {
			pairs++
		}
		if r.Flags != 0 {
			pairs++
		}
		if n == 0 {
			pairs += 3 // bt, seq, bid
		}
		b = appendHead(b, majMap, uint64(pairs))
		if bn != "" {
			b = appendText(appendInt(b, LabelBaseName), bn)
		}
		if bu != "" {
			b = appendText(appendInt(b, LabelBaseUnit), bu)
		}
		if n == 0 {
			b = appendTime(appendInt(b, LabelBaseTime), base)
			b = appendHead(appendText(b, LabelSeq), majUint, seq)
			b = appendText(appendText(b, LabelBootID), e.bootID)
		}
		if setBV {
			b = bvw.append(appendInt(b, LabelBaseValue))
		}
		b = w.append(appendInt(b, LabelValue))
		if d != 0 {
			b = appendTime(appendInt(b, LabelTime), d)
		}
		if r.Flags != 0 {
			label := LabelFlags
			if r.Flags&buffer.FlagClockUntrusted != 0 {
				label = LabelUntrusted
			}
			b = appendHead(appendText(b, label), majUint, uint64(r.Flags))
		}
	}
	e.buf = b
	return b, nil
}

// appendTime appends a time in seconds given in Unix ns (a base time) or ns relative to it: whole
// seconds as a CBOR integer (RFC 8428 section 6 lets a number be an integer or a float), anything
// else as the shortest float that rounds back to the same millisecond (see relTime).
func appendTime(b []byte, ns int64) []byte {
	if ns%1e9 == 0 {
		return appendInt(b, ns/1e9)
	}
	return appendShortestFloat(b, relTime(ns))
}

// relTime is a time in seconds as the shortest float that rounds back to the same millisecond:
// float32 has 24 significant bits, so below 2^13 s its spacing is at most 2^-11 s, under half a
// millisecond. Larger times (a base time) keep float64.
func relTime(d int64) float64 {
	ms := math.Round(float64(d) / 1e6)
	t := ms / 1e3
	if ms < 1<<23 && ms > -(1<<23) {
		if f := float64(float32(t)); math.Round(f*1e3) == ms {
			return f
		}
	}
	return t
}

// Restamp returns a copy of pack with its base time moved by offset and every reading flagged
// FlagClockUntrusted re-flagged FlagTimeCorrected: the correction of a batch encoded before the wall
// clock was trusted. Relative times and values stay the bytes they were: times came from the
// monotonic clock.
func (e *Encoder) Restamp(pack []byte, offset time.Duration) ([]byte, error) {
	var recs []record
	if err := decMode.Unmarshal(pack, &recs); err != nil {
		return nil, fmt.Errorf("senml: restamp: %w", err)
	}
	if len(recs) == 0 {
		return nil, ErrEmpty
	}
	recs[0].BaseTime += offset.Seconds()
	for i := range recs {
		if f := recs[i].Flags | recs[i].FlagsMU; f&buffer.FlagClockUntrusted != 0 {
			recs[i].setFlags(f&^buffer.FlagClockUntrusted | buffer.FlagTimeCorrected)
		}
	}
	var out bytes.Buffer
	if err := e.em.MarshalToBuffer(&recs, &out); err != nil {
		return nil, fmt.Errorf("senml: restamp: %w", err)
	}
	return out.Bytes(), nil
}
