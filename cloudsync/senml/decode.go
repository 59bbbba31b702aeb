package senml

import (
	"errors"
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
		MaxNestedLevels:  maxNesting,
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
// decoded once (so it is well formed, definite-length and within the limits); this second pass walks
// its bytes and looks only at each record's keys, skipping the values, where decoding the records into
// generic maps took two thirds of Decode's time.
func mustUnderstand(data []byte) error {
	w := walker{b: data}
	n, err := w.head(4) // the pack: an array of records
	if err != nil {
		return err
	}
	for i := uint64(0); i < n; i++ {
		pairs, err := w.head(5) // a record: a map
		if err != nil {
			return err
		}
		for range pairs {
			major, arg, err := w.next()
			if err != nil {
				return err
			}
			if major == 3 { // a text label
				if uint64(len(w.b)-w.off) < arg {
					return errTruncated
				}
				l := string(w.b[w.off : w.off+int(arg)])
				w.off += int(arg)
				if strings.HasSuffix(l, "_") && l != LabelUntrusted {
					return fmt.Errorf("senml: record %d: must-understand label %q is not known to this decoder (RFC 8428 section 4.4)", i, l)
				}
			} else if err := w.skipBody(major, arg, 0); err != nil {
				return err
			}
			if err := w.skip(0); err != nil { // the value
				return err
			}
		}
	}
	return nil
}

var errTruncated = errors.New("senml: decode: truncated pack")

// walker reads CBOR data items (RFC 8949 section 3) head by head.
type walker struct {
	b   []byte
	off int
}

// next reads one head: the major type and its argument (a length, a count, a tag number or a value).
func (w *walker) next() (major byte, arg uint64, err error) {
	if w.off >= len(w.b) {
		return 0, 0, errTruncated
	}
	ib := w.b[w.off]
	w.off++
	major, ai := ib>>5, ib&0x1f
	switch {
	case ai < 24:
		return major, uint64(ai), nil
	case ai <= 27:
		n := 1 << (ai - 24) // 1, 2, 4 or 8 bytes follow
		if len(w.b)-w.off < n {
			return 0, 0, errTruncated
		}
		for _, c := range w.b[w.off : w.off+n] {
			arg = arg<<8 | uint64(c)
		}
		w.off += n
		return major, arg, nil
	default:
		return 0, 0, fmt.Errorf("senml: decode: CBOR head 0x%02x at byte %d is not one this decoder accepts", ib, w.off-1)
	}
}

// head reads a head that must be of the major type want and returns its argument.
func (w *walker) head(want byte) (uint64, error) {
	major, arg, err := w.next()
	if err != nil {
		return 0, err
	}
	if major != want {
		return 0, fmt.Errorf("senml: decode: major type %d at byte %d, want %d", major, w.off-1, want)
	}
	return arg, nil
}

// skip skips one data item; depth bounds the nesting.
func (w *walker) skip(depth int) error {
	major, arg, err := w.next()
	if err != nil {
		return err
	}
	return w.skipBody(major, arg, depth)
}

// skipBody skips what follows a head: a string's bytes, an array's or map's items, a tag's item.
// Integers and simple values and floats are their head alone.
func (w *walker) skipBody(major byte, arg uint64, depth int) error {
	if depth > maxNesting {
		return fmt.Errorf("senml: decode: nested deeper than %d", maxNesting)
	}
	switch major {
	case 2, 3:
		if uint64(len(w.b)-w.off) < arg {
			return errTruncated
		}
		w.off += int(arg)
	case 4, 5:
		items := arg
		if major == 5 {
			items *= 2
		}
		if items > uint64(len(w.b)-w.off) { // every item takes at least a byte
			return errTruncated
		}
		for range items {
			if err := w.skip(depth + 1); err != nil {
				return err
			}
		}
	case 6:
		return w.skip(depth + 1)
	}
	return nil
}

// maxNesting is how deeply a pack may nest arrays, maps and tags (decMode's limit): the pack, its
// records, and a value's tag or array at most. skip follows no deeper.
const maxNesting = 4
