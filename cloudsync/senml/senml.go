// Package senml owns Wayside's telemetry payload: a SenML pack (RFC 8428) in CBOR with the integer
// labels, whose base record carries the base name (the gateway id), the base time and two extension
// labels for de-duplication, "seq" (the batch sequence number) and "bid" (the boot id). Encoding a batch
// into a reused buffer allocates nothing.
//
// A pack looks like this in CBOR diagnostic notation:
//
//	[{-2: "gw-0001", -3: 1763890000.25, "seq": 17, "bid": "5f0c…", 0: "/env1/temperature", 1: "Cel", 2: 11.62},
//	 {0: "/env1/humidity", 1: "%RH", 2: 74.1},
//	 {0: "/traffic1/vehicles", 1: "count", 2: 3, 6: 0.5}]
//
// Each record's time is bt + t in seconds since the Unix epoch (t omitted means 0); its name is bn + n.
package senml

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wayside-iot/wayside/buffer"
)

// SenML CBOR labels (RFC 8428 table 6) and our extension labels.
const (
	LabelBaseName = -2
	LabelBaseTime = -3
	LabelName     = 0
	LabelUnit     = 1
	LabelValue    = 2
	LabelTime     = 6
	LabelSeq      = "seq" // extension: batch sequence number, per gateway, increasing
	LabelBootID   = "bid" // extension: random id of the daemon's boot
	LabelFlags    = "wf"  // extension: reading flags (1 = time from an untrusted clock, 2 = time corrected)
)

// record is one SenML record as the encoder writes it. Strings point into the channel table, so
// filling a record allocates nothing.
type record struct {
	BaseName string  `cbor:"-2,keyasint,omitempty"`
	BaseTime float64 `cbor:"-3,keyasint,omitempty"`
	Seq      uint64  `cbor:"seq,omitempty"`
	BootID   string  `cbor:"bid,omitempty"`
	Name     string  `cbor:"0,keyasint,omitempty"`
	Unit     string  `cbor:"1,keyasint,omitempty"`
	Value    float64 `cbor:"2,keyasint"`
	Time     float64 `cbor:"6,keyasint,omitempty"`
	Flags    uint32  `cbor:"wf,omitempty"`
}

// Channel names one measurement: the SenML name suffix after the base name, and its unit.
type Channel struct {
	Name string // "/env1/temperature"
	Unit string // "Cel"
}

// Encoder turns batches of readings into SenML-CBOR packs. It is not safe for concurrent use: the
// batcher owns one.
type Encoder struct {
	em       cbor.UserBufferEncMode
	baseName string
	bootID   string
	channels []Channel
	recs     []record
	buf      bytes.Buffer
}

var encOpts = cbor.EncOptions{
	ShortestFloat: cbor.ShortestFloat16, // lossless: 3 bytes for 0.5, 5 for 21.5, 9 only when needed
	NaNConvert:    cbor.NaNConvert7e00,
	InfConvert:    cbor.InfConvertFloat16,
	Sort:          cbor.SortNone,
}

// NewEncoder returns an encoder for a gateway's packs. channels is the table buffer.Reading.Channel
// indexes; it must not change while the encoder is in use.
func NewEncoder(baseName, bootID string, channels []Channel, maxReadings int) (*Encoder, error) {
	em, err := encOpts.UserBufferEncMode()
	if err != nil {
		return nil, fmt.Errorf("senml: encoder options: %w", err)
	}
	e := &Encoder{em: em, baseName: baseName, bootID: bootID, channels: channels,
		recs: make([]record, 0, maxReadings)}
	e.buf.Grow(64 + 48*maxReadings)
	return e, nil
}

// ErrEmpty is returned for a batch without readings: SenML packs are never empty here.
var ErrEmpty = errors.New("senml: empty batch")

// Encode writes the pack for batch seq holding rs. The returned bytes are valid until the next call.
func (e *Encoder) Encode(seq uint64, rs []buffer.Reading) ([]byte, error) {
	if len(rs) == 0 {
		return nil, ErrEmpty
	}
	base := rs[0].Time
	for _, r := range rs[1:] {
		base = min(base, r.Time)
	}
	e.recs = e.recs[:0]
	for _, r := range rs {
		if int(r.Channel) >= len(e.channels) {
			return nil, fmt.Errorf("senml: reading for channel %d, table has %d", r.Channel, len(e.channels))
		}
		ch := &e.channels[r.Channel]
		e.recs = append(e.recs, record{
			Name:  ch.Name,
			Unit:  ch.Unit,
			Value: r.Value,
			Time:  float64(r.Time-base) / 1e9,
			Flags: r.Flags,
		})
	}
	e.recs[0].BaseName = e.baseName
	e.recs[0].BaseTime = float64(base) / 1e9
	e.recs[0].Seq = seq
	e.recs[0].BootID = e.bootID
	e.buf.Reset()
	if err := e.em.MarshalToBuffer(&e.recs, &e.buf); err != nil {
		return nil, fmt.Errorf("senml: encode batch %d: %w", seq, err)
	}
	return e.buf.Bytes(), nil
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
		if recs[i].Flags&buffer.FlagClockUntrusted != 0 {
			recs[i].Flags = recs[i].Flags&^buffer.FlagClockUntrusted | buffer.FlagTimeCorrected
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
	BaseName string
	Seq      uint64
	BootID   string
	Readings []Reading
}

// decRecord accepts every RFC 8428 label we resolve; unknown labels are ignored as the RFC allows for
// labels not ending in "_", and rejected when they do (must-understand).
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
	p := &Pack{Readings: make([]Reading, 0, len(recs))}
	var bt, bv float64
	var bu string
	for i, r := range recs {
		if r.BaseName != nil {
			p.BaseName = *r.BaseName
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
		name := p.BaseName + r.Name
		if name == "" {
			return nil, fmt.Errorf("senml: record %d: no name and no base name", i)
		}
		p.Readings = append(p.Readings, Reading{Name: name, Unit: unit, Value: bv + *r.Value, Time: bt + r.Time, Flags: r.Flags})
	}
	return p, nil
}
