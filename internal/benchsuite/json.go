package benchsuite

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/senml"
)

// JSONEncoder writes the SenML-JSON pack (RFC 8428 section 5) that carries exactly what our SenML-CBOR
// pack carries, laid out the same way: records grouped by channel, base name and base unit at the
// start of each group, base time, "seq" and "bid" in the first record, values at the precision the
// CBOR pack keeps (float32, positions float64) printed as the shortest decimal that reads back to it,
// and times relative to the base time in seconds with millisecond decimals. It is what a careful JSON
// producer would send, so the difference to the CBOR pack is the encoding alone. It uses
// encoding/json.
type JSONEncoder struct {
	bootID   string
	channels []senml.Channel
	names    []string
	order    []int
	recs     []jsonRecord
}

// jsonRecord is a SenML-JSON record with the labels of RFC 8428 table 4 and our extensions.
type jsonRecord struct {
	BaseName string    `json:"bn,omitempty"`
	BaseUnit string    `json:"bu,omitempty"`
	BaseTime jsonTime  `json:"bt,omitempty"`
	Seq      uint64    `json:"seq,omitempty"`
	BootID   string    `json:"bid,omitempty"`
	Value    jsonValue `json:"v"`
	Time     jsonTime  `json:"t,omitempty"`
	Flags    uint32    `json:"wf,omitempty"`
}

// jsonValue prints a value as the shortest decimal of its float32 (or, for wide channels, float64).
type jsonValue struct {
	v    float64
	wide bool
}

func (j jsonValue) MarshalJSON() ([]byte, error) {
	bits := 32
	if j.wide {
		bits = 64
	}
	return appendNumber(nil, j.v, bits)
}

// jsonTime is seconds with up to millisecond decimals.
type jsonTime float64

func (t jsonTime) MarshalJSON() ([]byte, error) { return appendNumber(nil, float64(t), 64) }

// appendNumber formats v as encoding/json formats floats (plain decimals, exponent only for very large
// or small magnitudes), with the shortest digits for a float of the given bit size.
func appendNumber(dst []byte, v float64, bits int) ([]byte, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("benchsuite: %v has no JSON number", v)
	}
	f := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		f = 'e'
	}
	return strconv.AppendFloat(dst, v, f, -1, bits), nil
}

// NewJSONEncoder returns an encoder for gatewayID's packs over the channel table channels.
func NewJSONEncoder(gatewayID, bootID string, channels []senml.Channel) *JSONEncoder {
	e := &JSONEncoder{bootID: bootID, channels: channels, names: make([]string, len(channels))}
	for i, c := range channels {
		e.names[i] = gatewayID + c.Name
	}
	return e
}

// Encode returns the SenML-JSON pack of batch seq.
func (e *JSONEncoder) Encode(seq uint64, rs []buffer.Reading) ([]byte, error) {
	if len(rs) == 0 {
		return nil, senml.ErrEmpty
	}
	e.order = e.order[:0]
	base := rs[0].Time
	for i, r := range rs {
		if int(r.Channel) >= len(e.channels) {
			return nil, fmt.Errorf("benchsuite: json: reading for channel %d, table has %d", r.Channel, len(e.channels))
		}
		base = min(base, r.Time)
		e.order = append(e.order, i)
	}
	// The CBOR pack's order: by channel, channels of the same unit together (senml.Encoder).
	slices.SortStableFunc(e.order, func(a, b int) int {
		ca, cb := rs[a].Channel, rs[b].Channel
		if c := strings.Compare(e.channels[ca].Unit, e.channels[cb].Unit); c != 0 {
			return c
		}
		return int(ca) - int(cb)
	})
	e.recs = e.recs[:0]
	prevChan, prevUnit := -1, ""
	for _, i := range e.order {
		r := &rs[i]
		ch := &e.channels[r.Channel]
		// A value at a declared resolution prints as its decimal (13.12); others as before.
		wide := ch.Float64 || ch.Unit == "lat" || ch.Unit == "lon" || ch.Resolution > 0
		rec := jsonRecord{Value: jsonValue{senml.Quantize(ch, r.Value), wide},
			Time: jsonTime(math.Round(float64(r.Time-base)/1e6) / 1e3), Flags: r.Flags}
		if int(r.Channel) != prevChan {
			prevChan = int(r.Channel)
			rec.BaseName = e.names[r.Channel]
			if ch.Unit != prevUnit {
				rec.BaseUnit, prevUnit = ch.Unit, ch.Unit
			}
		}
		e.recs = append(e.recs, rec)
	}
	e.recs[0].BaseTime = jsonTime(math.Round(float64(base)/1e6) / 1e3)
	e.recs[0].Seq = seq
	e.recs[0].BootID = e.bootID
	b, err := json.Marshal(e.recs)
	if err != nil {
		return nil, fmt.Errorf("benchsuite: json: encode batch %d: %w", seq, err)
	}
	return b, nil
}

// NaiveReading is one reading as a naive JSON (or CBOR) producer writes it: the full name, the unit,
// the value as the driver returned it, and the time in Unix milliseconds, with the field names as keys.
type NaiveReading struct {
	Name  string  `json:"name" cbor:"name"`
	Unit  string  `json:"unit" cbor:"unit"`
	Value float64 `json:"value" cbor:"value"`
	Time  int64   `json:"time" cbor:"time"`
}

// NaiveTable holds the full names and units a naive producer writes, made once.
type NaiveTable struct {
	names, units []string
}

// NewNaiveTable returns the table of channels: names are gatewayID + the channel's name.
func NewNaiveTable(gatewayID string, channels []senml.Channel) *NaiveTable {
	t := &NaiveTable{names: make([]string, len(channels)), units: make([]string, len(channels))}
	for i, c := range channels {
		t.names[i], t.units[i] = gatewayID+c.Name, c.Unit
	}
	return t
}

// Append appends rs as NaiveReadings to dst. Every reading's channel must be in the table.
func (t *NaiveTable) Append(dst []NaiveReading, rs []buffer.Reading) []NaiveReading {
	for _, r := range rs {
		dst = append(dst, NaiveReading{Name: t.names[r.Channel], Unit: t.units[r.Channel], Value: r.Value, Time: r.Time / 1e6})
	}
	return dst
}
