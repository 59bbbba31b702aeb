package senml

import (
	"fmt"
	"math"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// Decoding: a pack from a broker is untrusted input, resolved as RFC 8428 section 4.6 says.

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
