// Package senml owns Wayside's telemetry payload: a SenML pack (RFC 8428) in CBOR with the integer
// labels, laid out to be small on a cellular link while staying plain SenML that any RFC 8428 decoder
// resolves. Encoding a batch into a reused buffer allocates nothing.
//
// Records are grouped by channel. The first record of a group sets the base name to the channel's
// full name (gateway id + "/sensor/measurement") and the base unit, so the group's other records carry
// only a value and a time. The pack's first record also holds the base time and two extension labels
// for de-duplication, "seq" (the batch sequence number) and "bid" (the boot id). In CBOR diagnostic
// notation:
//
//	[{-2: "gw-0001/env1/temperature", -4: "Cel", -3: 1763890000.25, "seq": 17, "bid": "5f0c…", 2: 11.62},
//	 {2: 11.63, 6: 1.0},
//	 {-2: "gw-0001/env1/humidity", -4: "%RH", 2: 74.1},
//	 {2: 74.2, 6: 1.0}]
//
// Each record's time is bt + t in seconds since the Unix epoch (t omitted means 0). Readings carry
// millisecond times; t is sent as the shortest float that rounds back to the same millisecond (a
// float32 for batches spanning less than 2 hours). Values are sent as the shortest float that holds
// them to float32 precision (7 significant digits, finer than any supported sensor resolves), except
// latitude and longitude, which keep float64.
package senml

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wayside-iot/wayside/buffer"
)

// SenML CBOR labels (RFC 8428 table 6) and our extension labels.
const (
	LabelBaseName = -2
	LabelBaseTime = -3
	LabelBaseUnit = -4
	LabelName     = 0
	LabelUnit     = 1
	LabelValue    = 2
	LabelTime     = 6
	LabelSeq      = "seq" // extension: batch sequence number, per gateway, increasing
	LabelBootID   = "bid" // extension: random id of the daemon's boot
	LabelFlags    = "wf"  // extension: reading flags (2 = time corrected), safe to ignore
	// LabelUntrusted carries the flags of a record whose time came from an untrusted clock (bit 1). It
	// ends in "_", RFC 8428's must-understand form (section 4.4): a resolver that does not know it must
	// refuse the record instead of storing a monotonic-clock time as a real one.
	LabelUntrusted = "wf_"
)

// record is one SenML record as the encoder writes it. Strings point into the channel table, so
// filling a record allocates nothing.
type record struct {
	BaseName string  `cbor:"-2,keyasint,omitempty"`
	BaseUnit string  `cbor:"-4,keyasint,omitempty"`
	BaseTime float64 `cbor:"-3,keyasint,omitempty"`
	Seq      uint64  `cbor:"seq,omitempty"`
	BootID   string  `cbor:"bid,omitempty"`
	Value    float64 `cbor:"2,keyasint"`
	Time     float64 `cbor:"6,keyasint,omitempty"`
	Flags    uint32  `cbor:"wf,omitempty"`  // flags without the untrusted bit
	FlagsMU  uint32  `cbor:"wf_,omitempty"` // flags with it: must-understand
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

// Channel names one measurement: the SenML name suffix after the gateway id, and its unit.
type Channel struct {
	Name string // "/env1/temperature"
	Unit string // "Cel"
	// Float64 keeps the channel's values at full float64 precision (set for latitude and longitude
	// by NewEncoder: float32 would round a position by up to half a metre).
	Float64 bool
}

// Encoder turns batches of readings into SenML-CBOR packs. It is not safe for concurrent use: the
// batcher owns one.
type Encoder struct {
	em       cbor.UserBufferEncMode
	bootID   string
	channels []Channel
	names    []string // gateway id + channel name, the base name of each channel's group
	counts   []int    // per channel, then the start of its group (counting sort by channel)
	order    []int32  // reading indexes grouped by channel, in input order within a channel
	recs     []record
	buf      bytes.Buffer
}

var encOpts = cbor.EncOptions{
	ShortestFloat: cbor.ShortestFloat16, // lossless: 3 bytes for 0.5, 5 for a float32, 9 only when needed
	NaNConvert:    cbor.NaNConvert7e00,
	InfConvert:    cbor.InfConvertFloat16,
	Sort:          cbor.SortNone,
}

// NewEncoder returns an encoder for a gateway's packs; names are gatewayID + channel name. channels is
// the table buffer.Reading.Channel indexes; it must not change while the encoder is in use.
func NewEncoder(gatewayID, bootID string, channels []Channel, maxReadings int) (*Encoder, error) {
	em, err := encOpts.UserBufferEncMode()
	if err != nil {
		return nil, fmt.Errorf("senml: encoder options: %w", err)
	}
	e := &Encoder{em: em, bootID: bootID, channels: make([]Channel, len(channels)),
		names: make([]string, len(channels)), counts: make([]int, len(channels)+1),
		order: make([]int32, 0, maxReadings), recs: make([]record, 0, maxReadings)}
	for i, ch := range channels {
		e.channels[i] = ch
		e.channels[i].Float64 = ch.Float64 || ch.Unit == "lat" || ch.Unit == "lon"
		e.names[i] = gatewayID + ch.Name
	}
	e.buf.Grow(64 + 24*maxReadings)
	return e, nil
}

// ErrEmpty is returned for a batch without readings: SenML packs are never empty here.
var ErrEmpty = errors.New("senml: empty batch")

// Encode writes the pack for batch seq holding rs. The returned bytes are valid until the next call.
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
		e.counts[r.Channel+1]++
	}
	// Counting sort: counts[c] becomes the first slot of channel c's group.
	for c := 1; c < len(e.counts); c++ {
		e.counts[c] += e.counts[c-1]
	}
	e.order = e.order[:len(rs)]
	for i, r := range rs {
		e.order[e.counts[r.Channel]] = int32(i)
		e.counts[r.Channel]++
	}
	e.recs = e.recs[:0]
	prevChan, prevUnit := -1, ""
	for _, i := range e.order {
		r := &rs[i]
		ch := &e.channels[r.Channel]
		rec := record{Value: WireValue(ch, r.Value), Time: relTime(r.Time - base)}
		rec.setFlags(r.Flags)
		if int(r.Channel) != prevChan {
			prevChan = int(r.Channel)
			rec.BaseName = e.names[r.Channel]
			if ch.Unit != prevUnit {
				rec.BaseUnit, prevUnit = ch.Unit, ch.Unit
			}
		}
		e.recs = append(e.recs, rec)
	}
	e.recs[0].BaseTime = float64(base) / 1e9
	e.recs[0].Seq = seq
	e.recs[0].BootID = e.bootID
	e.buf.Reset()
	if err := e.em.MarshalToBuffer(&e.recs, &e.buf); err != nil {
		return nil, fmt.Errorf("senml: encode batch %d: %w", seq, err)
	}
	return e.buf.Bytes(), nil
}

// WireValue is v as a pack carries it for channel ch: rounded to float32 precision, unless the
// channel keeps float64 (Channel.Float64, or the units "lat" and "lon").
func WireValue(ch *Channel, v float64) float64 {
	if ch.Float64 || ch.Unit == "lat" || ch.Unit == "lon" {
		return v
	}
	return float64(float32(v))
}

// relTime is a reading's time relative to the base time, in seconds, as the shortest float that rounds
// back to the same millisecond: float32 has 24 significant bits, so below 2^13 s its spacing is at most
// 2^-11 s, under half a millisecond.
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
// clock was trusted. Relative times stay as they were: they came from the monotonic clock.
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
		p.Readings = append(p.Readings, Reading{Name: name, Unit: unit, Value: bv + *r.Value, Time: bt + r.Time, Flags: r.Flags | r.FlagsMU})
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
