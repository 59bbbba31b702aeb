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

// wire is a value as the pack carries it: a CBOR integer (neg: the value is -1-u) or a float of the
// width in head.
type wire struct {
	head byte // majUint, majNegInt, or headFloat16/32/64
	u    uint64
	h    uint16 // float16 bits
	f    float64
}

func (w wire) append(b []byte) []byte {
	switch w.head {
	case majUint, majNegInt:
		return appendHead(b, w.head, w.u)
	case headFloat16:
		return appendFloat16(b, w.h)
	case headFloat32:
		return appendFloat32(b, float32(w.f))
	}
	return appendFloat64(b, w.f)
}

// value is what a decoder reads from w.
func (w wire) value() float64 {
	switch w.head {
	case majUint:
		return float64(w.u)
	case majNegInt:
		return -1 - float64(w.u)
	}
	return w.f
}

// twoTo64 is 2^64: integral values below it in magnitude fit a CBOR integer head.
const twoTo64 = 18446744073709551616.0

// wireOf chooses how v travels for ch: rounded to the channel's resolution (Quantize), then an integer
// when integral, else the narrowest float that a decoder rounding to the resolution turns back into
// the same step (float16 often does: 21.4 °C at 0.1 °C travels as 21.40625 in 3 bytes). -0 stays a
// float16 -0; NaN and infinities are refused.
func wireOf(ch *Channel, v float64) (wire, error) { return wireOfInv(ch, invOf(ch.Resolution), v) }

// wireOfInv is wireOf with the channel's invOf precomputed.
func wireOfInv(ch *Channel, inv, v float64) (wire, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return wire{}, ErrNotFinite
	}
	q := quantize(ch, inv, v)
	if q == 0 {
		if math.Signbit(q) {
			return wire{head: headFloat16, h: 0x8000, f: q}, nil
		}
		return wire{head: majUint}, nil
	}
	if q == math.Trunc(q) && math.Abs(q) < twoTo64 {
		if q > 0 {
			return wire{head: majUint, u: uint64(q)}, nil
		}
		return wire{head: majNegInt, u: uint64(-q) - 1}, nil
	}
	holds := func(f float64) bool { return f == q }
	if ch.Resolution > 0 {
		k := stepsInv(ch.Resolution, inv, q)
		holds = func(f float64) bool { return stepsInv(ch.Resolution, inv, f) == k }
	}
	if h, f, ok := toFloat16(q); ok && holds(f) {
		return wire{head: headFloat16, h: h, f: f}, nil
	}
	if f := float64(float32(q)); !math.IsInf(f, 0) && holds(f) {
		return wire{head: headFloat32, f: f}, nil
	}
	return wire{head: headFloat64, f: q}, nil
}

// steps is x in whole steps of res: x * (1/res) when 1/res is an integer (0.01 → 100, exact for
// decimal resolutions), x / res otherwise.
func steps(res, x float64) float64 { return stepsInv(res, invOf(res), x) }

// stepsInv is steps with invOf(res) precomputed.
func stepsInv(res, inv, x float64) float64 {
	if inv > 0 {
		return math.Round(x * inv)
	}
	return math.Round(x / res)
}

// invOf is 1/res when that is an integer (0.01 → 100, 1 → 1), else 0.
func invOf(res float64) float64 {
	if !(res > 0) {
		return 0
	}
	if inv := math.Round(1 / res); inv >= 1 && math.Abs(1/res-inv) <= 1e-9*inv {
		return inv
	}
	return 0
}

// Quantize is v at ch's resolution: the float64 nearest to a whole number of steps (21.374 at 0.01 →
// 21.37). Without a declared resolution it is v at float32 precision, or v itself for a Float64
// channel (or the units "lat" and "lon").
func Quantize(ch *Channel, v float64) float64 { return quantize(ch, invOf(ch.Resolution), v) }

// quantize is Quantize with invOf(ch.Resolution) precomputed.
func quantize(ch *Channel, inv, v float64) float64 {
	switch res := ch.Resolution; {
	case res > 0:
		k := stepsInv(res, inv, v)
		if inv > 0 {
			return k / inv
		}
		return k * res
	case ch.Float64 || ch.Unit == "lat" || ch.Unit == "lon":
		return v
	}
	return float64(float32(v))
}

// baseValue decides whether a channel group's values go relative to a base value (bv, RFC 8428
// section 4.1: a record's value is bv + v): when it makes the group smaller, as for a position whose
// records differ in the last digits, or a pressure near 100000 Pa. bv is the group's first value at
// the channel's resolution; every resolved value must still be the reported one at the resolution
// (else no bv). Only for channels with a declared resolution: an undeclared value's difference is not
// shorter than the value.
// It fills plain and rel, the group's values without and with the base value.
func (e *Encoder) baseValue(ch *Channel, inv float64, rs []buffer.Reading, group []int32, plain, rel []wire) (float64, bool, error) {
	size := 0
	for j, i := range group {
		w, err := wireOfInv(ch, inv, rs[i].Value)
		if err != nil {
			return 0, false, err
		}
		plain[j] = w
		size += w.size()
	}
	if ch.Resolution <= 0 || len(group) < 2 {
		return 0, false, nil
	}
	bv := quantize(ch, inv, rs[group[0]].Value)
	if bv == 0 || math.Signbit(bv) {
		return 0, false, nil
	}
	relSize := 1 + numberOf(bv).size() + 2 // the bv pair, and ending it in the next group
	for j, i := range group {
		if q := quantize(ch, inv, rs[i].Value); q == 0 && math.Signbit(q) {
			return 0, false, nil // -0 cannot be bv + v
		}
		w, ok := wireOfBase(ch, inv, rs[i].Value, bv)
		if !ok {
			return 0, false, nil
		}
		rel[j] = w
		if relSize += w.size(); relSize >= size {
			return 0, false, nil
		}
	}
	return bv, true, nil
}

// wireOfBase is v as the difference from base value bv: an integer or the narrowest float d for
// which bv + d (as every RFC 8428 resolver computes it, in float64) is v at ch's resolution. ok is
// false when no float does.
func wireOfBase(ch *Channel, inv, v, bv float64) (wire, bool) {
	q := quantize(ch, inv, v)
	k := stepsInv(ch.Resolution, inv, q)
	holds := func(f float64) bool { return stepsInv(ch.Resolution, inv, bv+f) == k }
	d := q - bv
	if d == 0 {
		return wire{head: majUint}, holds(0)
	}
	if d == math.Trunc(d) && math.Abs(d) < twoTo64 && holds(d) {
		if d > 0 {
			return wire{head: majUint, u: uint64(d)}, true
		}
		return wire{head: majNegInt, u: uint64(-d) - 1}, true
	}
	if h, f, ok := toFloat16(d); ok && holds(f) {
		return wire{head: headFloat16, h: h, f: f}, true
	}
	if f := float64(float32(d)); !math.IsInf(f, 0) && holds(f) {
		return wire{head: headFloat32, f: f}, true
	}
	return wire{head: headFloat64, f: d}, holds(d)
}

// numberOf is x exactly: an integer when integral, else the narrowest float that holds it.
func numberOf(x float64) wire {
	if x == math.Trunc(x) && math.Abs(x) < twoTo64 && !(x == 0 && math.Signbit(x)) {
		if x >= 0 {
			return wire{head: majUint, u: uint64(x)}
		}
		return wire{head: majNegInt, u: uint64(-x) - 1}
	}
	if h, f, ok := toFloat16(x); ok && f == x && math.Signbit(f) == math.Signbit(x) {
		return wire{head: headFloat16, h: h, f: f}
	}
	if f := float64(float32(x)); f == x {
		return wire{head: headFloat32, f: f}
	}
	return wire{head: headFloat64, f: x}
}

// size is the bytes w takes.
func (w wire) size() int {
	switch w.head {
	case majUint, majNegInt:
		switch {
		case w.u < 24:
			return 1
		case w.u <= math.MaxUint8:
			return 2
		case w.u <= math.MaxUint16:
			return 3
		case w.u <= math.MaxUint32:
			return 5
		}
		return 9
	case headFloat16:
		return 3
	case headFloat32:
		return 5
	}
	return 9
}

// WireValue is v as a decoder reads it from a pack for channel ch: Quantize's value, or the float16
// or float32 that stands for it at the channel's resolution. NaN and infinities are returned as they
// are (Encode refuses them).
func WireValue(ch *Channel, v float64) float64 {
	w, err := wireOf(ch, v)
	if err != nil {
		return v
	}
	return w.value()
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

// Reading is one decoded, resolved record.
type Reading struct {
	Name  string  // full name: base name + name
	Unit  string  // unit, or the base unit when the record has none
	Value float64 // value, plus the base value when given
	Time  float64 // absolute time, seconds since the Unix epoch
	Flags uint32
}

// UnixMilli returns the reading's time rounded to the millisecond.
func (r Reading) UnixMilli() int64 { return int64(math.Round(r.Time * 1000)) }

// Pack is a decoded batch.
type Pack struct {
	BaseName string // the first record's base name
	Seq      uint64
	BootID   string
	Readings []Reading
}

// decRecord accepts every RFC 8428 label we resolve; unknown labels are ignored as the RFC allows for
// labels not ending in "_", and rejected when they do (must-understand, see mustUnderstand).
type decRecord struct {
	BaseName  *string  `cbor:"-2,keyasint"`
	BaseTime  *float64 `cbor:"-3,keyasint"`
	BaseUnit  *string  `cbor:"-4,keyasint"`
	BaseValue *float64 `cbor:"-5,keyasint"`
	Version   *int     `cbor:"-1,keyasint"`
	Name      string   `cbor:"0,keyasint"`
	Unit      string   `cbor:"1,keyasint"`
	Value     *float64 `cbor:"2,keyasint"`
	Time      float64  `cbor:"6,keyasint"`
	Seq       *uint64  `cbor:"seq"`
	BootID    *string  `cbor:"bid"`
	Flags     uint32   `cbor:"wf"`
	FlagsMU   uint32   `cbor:"wf_"`
}

// Limits on what Decode accepts: a pack from a broker is untrusted input.
const (
	MaxPackBytes   = 1 << 20
	MaxPackRecords = 10000
)

var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  4,
		MaxArrayElements: MaxPackRecords,
		MaxMapPairs:      32,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// Decode parses and resolves a pack (RFC 8428 section 4.6). It accepts any SenML-CBOR pack with
// numeric values; the seq and bid labels are optional for packs from other producers.
func Decode(data []byte) (*Pack, error) {
	if len(data) > MaxPackBytes {
		return nil, fmt.Errorf("senml: pack of %d bytes exceeds the %d byte limit", len(data), MaxPackBytes)
	}
	var recs []decRecord
	if err := decMode.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("senml: decode: %w", err)
	}
	if len(recs) == 0 {
		return nil, ErrEmpty
	}
	if err := mustUnderstand(data); err != nil {
		return nil, err
	}
	p := &Pack{Readings: make([]Reading, 0, len(recs))}
	var bt, bv float64
	var bn, bu string
	for i, r := range recs {
		if r.BaseName != nil {
			bn = *r.BaseName
			if i == 0 {
				p.BaseName = bn
			}
		}
		if r.BaseTime != nil {
			bt = *r.BaseTime
		}
		if r.BaseUnit != nil {
			bu = *r.BaseUnit
		}
		if r.BaseValue != nil {
			bv = *r.BaseValue
		}
		if r.Version != nil && *r.Version > 10 {
			return nil, fmt.Errorf("senml: record %d: unsupported version %d", i, *r.Version)
		}
		if r.Seq != nil {
			p.Seq = *r.Seq
		}
		if r.BootID != nil {
			p.BootID = *r.BootID
		}
		if r.Value == nil {
			return nil, fmt.Errorf("senml: record %d (%q): no numeric value", i, r.Name)
		}
		unit := r.Unit
		if unit == "" {
			unit = bu
		}
		name := bn + r.Name
		if name == "" {
			return nil, fmt.Errorf("senml: record %d: no name and no base name", i)
		}
		v := *r.Value
		if bv != 0 {
			v += bv // without a base value, -0 stays -0
		}
		p.Readings = append(p.Readings, Reading{Name: name, Unit: unit, Value: v, Time: bt + r.Time, Flags: r.Flags | r.FlagsMU})
	}
	return p, nil
}

// mustUnderstand refuses a pack with a text label ending in "_" that Decode does not resolve: RFC 8428
// section 4.4 forbids processing a record whose must-understand label is unknown. The pack was already
// decoded once, so this second pass only looks at the keys.
func mustUnderstand(data []byte) error {
	var recs []map[any]cbor.RawMessage
	if err := decMode.Unmarshal(data, &recs); err != nil {
		return fmt.Errorf("senml: decode: %w", err)
	}
	for i, r := range recs {
		for k := range r {
			if l, ok := k.(string); ok && strings.HasSuffix(l, "_") && l != LabelUntrusted {
				return fmt.Errorf("senml: record %d: must-understand label %q is not known to this decoder (RFC 8428 section 4.4)", i, l)
			}
		}
	}
	return nil
}
