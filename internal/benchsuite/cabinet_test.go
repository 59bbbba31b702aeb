package benchsuite

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/boards/sim"
	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// TestCabinetMatchesSimBoard opens every cabinet sensor on the sim board: its driver reports the
// channels the cabinet lists, and sampling it at a cabinet reading's time gives that reading's values.
func TestCabinetMatchesSimBoard(t *testing.T) {
	rs, err := CabinetReadings(400)
	if err != nil {
		t.Fatal(err)
	}
	chans := CabinetChannels()
	if len(chans) != 20 || CabinetReadingsPerSecond() != 20 {
		t.Fatalf("%d channels, want 20", len(chans))
	}
	first := 0
	for _, cs := range Cabinet {
		lo, hi := uint32(first), uint32(first+len(cs.Channels))
		first += len(cs.Channels)
		t.Run(cs.Name, func(t *testing.T) {
			t.Parallel()
			s, err := sim.NewSensor(CabinetSeed, cs.Name, cs.Driver, CabinetInterval)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Halt()
			// The cabinet keeps some of an aggregating driver's channels, in the driver's order.
			idx := make([]int, len(cs.Channels))
			for j, c := range cs.Channels {
				if idx[j] = slices.Index(s.Channels(), c); idx[j] < 0 || (j > 0 && idx[j] <= idx[j-1]) {
					t.Fatalf("driver channels %v, cabinet %v", s.Channels(), cs.Channels)
				}
			}
			all := make([]float64, len(s.Channels()))
			dst := make([]float64, len(cs.Channels))
			checked := 0
			for i := 0; i < len(rs) && checked < 3; i++ {
				if rs[i].Channel != lo {
					continue
				}
				err := s.Sample(time.Unix(0, rs[i].Time), all)
				for j, k := range idx {
					dst[j] = all[k]
				}
				if err != nil {
					if errors.Is(err, sensor.ErrNoData) {
						continue
					}
					t.Fatal(err)
				}
				for j := range dst {
					checkValue := sim.Checked(cs.Driver, cs.Channels[j].Name) // not the loop's aggregates
					if r := rs[i+j]; r.Channel != lo+uint32(j) || r.Time != rs[i].Time || (checkValue && r.Value != dst[j]) {
						t.Fatalf("reading %d: %+v; the driver sampled %v at that time", i+j, r, dst)
					}
				}
				checked++
			}
			if checked == 0 || hi <= lo {
				t.Fatalf("no sample of %s among the readings", cs.Name)
			}
		})
	}
}

// TestCabinetReadings: the requested count, in time order, every channel present, about 20 readings
// per second of cabinet time at millisecond stamps.
func TestCabinetReadings(t *testing.T) {
	rs, err := CabinetReadings(1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1000 {
		t.Fatalf("%d readings", len(rs))
	}
	seen := map[uint32]bool{}
	for i, r := range rs {
		if i > 0 && r.Time < rs[i-1].Time {
			t.Fatalf("reading %d at %d before reading %d at %d", i, r.Time, i-1, rs[i-1].Time)
		}
		if r.Time%int64(time.Millisecond) != 0 {
			t.Fatalf("reading %d stamped %d ns: the gateway stamps milliseconds", i, r.Time)
		}
		seen[r.Channel] = true
	}
	if len(seen) != len(CabinetChannels()) {
		t.Fatalf("%d channels seen, want %d", len(seen), len(CabinetChannels()))
	}
	span := time.Duration(rs[len(rs)-1].Time - rs[0].Time).Seconds()
	if rate := float64(len(rs)) / span; rate < 17 || rate > 21 {
		t.Fatalf("%.1f readings per second of cabinet time, want about 20", rate)
	}
}

// TestJSONMatchesCBOR decodes the SenML-JSON pack by RFC 8428's rules and finds exactly the records
// of the SenML-CBOR pack of the same batch: same names, units, times and values.
func TestJSONMatchesCBOR(t *testing.T) {
	for _, n := range []int{1, 10, 100} {
		rs, err := CabinetReadings(n)
		if err != nil {
			t.Fatal(err)
		}
		rs[n/2].Flags = buffer.FlagClockUntrusted
		chans := CabinetChannels()
		e, err := senml.NewEncoder(CabinetGatewayID, CabinetBootID, chans, n)
		if err != nil {
			t.Fatal(err)
		}
		pack, err := e.Encode(CabinetSeq, rs)
		if err != nil {
			t.Fatal(err)
		}
		want, err := senml.Decode(pack)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]senml.Channel{}
		for _, c := range chans {
			byName[c.Name] = c
		}
		js, err := NewJSONEncoder(CabinetGatewayID, CabinetBootID, chans).Encode(CabinetSeq, rs)
		if err != nil {
			t.Fatal(err)
		}
		got := resolveJSON(t, js)
		if len(got) != len(want.Readings) {
			t.Fatalf("batch %d: %d JSON records, %d CBOR", n, len(got), len(want.Readings))
		}
		for i, w := range want.Readings {
			g := got[i]
			same := g.Name == w.Name && g.Unit == w.Unit && g.UnixMilli() == w.UnixMilli() && g.Flags == w.Flags
			// Both give the value at the channel's resolution (JSON prints it as a decimal).
			ch := byName[strings.TrimPrefix(w.Name, CabinetGatewayID)]
			same = same && senml.Quantize(&ch, g.Value) == senml.Quantize(&ch, w.Value)
			if !same {
				t.Fatalf("batch %d record %d: JSON %+v, CBOR %+v\n%s", n, i, g, w, js)
			}
		}
	}
}

// resolveJSON resolves a SenML-JSON pack (RFC 8428 section 4.6) into readings.
func resolveJSON(t *testing.T, js []byte) []senml.Reading {
	t.Helper()
	var recs []map[string]json.RawMessage
	if err := json.Unmarshal(js, &recs); err != nil {
		t.Fatalf("SenML-JSON: %v\n%s", err, js)
	}
	num := func(m map[string]json.RawMessage, k string) float64 {
		v, ok := m[k]
		if !ok {
			return 0
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return f
	}
	str := func(m map[string]json.RawMessage, k string, keep string) string {
		v, ok := m[k]
		if !ok {
			return keep
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return s
	}
	var out []senml.Reading
	var bn, bu string
	var bt float64
	for _, m := range recs {
		bn, bu = str(m, "bn", bn), str(m, "bu", bu)
		if _, ok := m["bt"]; ok {
			bt = num(m, "bt")
		}
		if _, ok := m["v"]; !ok {
			t.Fatalf("record without a value: %v", m)
		}
		out = append(out, senml.Reading{Name: bn, Unit: bu, Value: num(m, "v"), Time: bt + num(m, "t"), Flags: uint32(num(m, "wf"))})
	}
	return out
}

// TestNaiveJSON: the naive objects carry the readings' exact values and millisecond times.
func TestNaiveJSON(t *testing.T) {
	rs, err := CabinetReadings(50)
	if err != nil {
		t.Fatal(err)
	}
	nr := NewNaiveTable(CabinetGatewayID, CabinetChannels()).Append(nil, rs)
	b, err := json.Marshal(nr)
	if err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(b, &back); err != nil || len(back) != len(rs) {
		t.Fatalf("%v, %d objects", err, len(back))
	}
	for i, o := range back {
		ch := CabinetChannels()[rs[i].Channel]
		if o["name"] != CabinetGatewayID+ch.Name || o["unit"] != ch.Unit || o["value"] != rs[i].Value ||
			o["time"] != float64(rs[i].Time/1e6) || len(o) != 4 {
			t.Fatalf("object %d: %v, reading %+v", i, o, rs[i])
		}
	}
	if _, err := appendNumber(nil, math.NaN(), 64); err == nil {
		t.Fatal("NaN formatted as a JSON number")
	}
}
