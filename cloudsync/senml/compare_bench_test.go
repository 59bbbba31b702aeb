package senml_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/internal/benchsuite"
)

// BenchmarkCompare encodes the same 100-reading batch of the typical cabinet (internal/benchsuite:
// 20 channels at 1 Hz, values from the sim board's drivers) four ways; bytes/reading is the payload
// divided by 100:
//
//	senml_cbor  our Encoder into its reused buffer: the gateway's path
//	senml_json  the same SenML pack as SenML-JSON (benchsuite.JSONEncoder, encoding/json)
//	json_naive  encoding/json of [{"name","unit","value","time"}] objects, one per reading
//	cbor_naive  fxamacker/cbor Marshal of the same naive structs
//
// The naive variants fill a reused slice of structs from the readings inside the loop, as a producer
// would, with names and units from a table made once.
func BenchmarkCompare(b *testing.B) {
	const n = 100
	rs, err := benchsuite.CabinetReadings(n)
	if err != nil {
		b.Fatal(err)
	}
	chans := benchsuite.CabinetChannels()
	run := func(b *testing.B, encode func(seq uint64) ([]byte, error)) {
		var size int
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			out, err := encode(benchsuite.CabinetSeq + uint64(i))
			if err != nil {
				b.Fatal(err)
			}
			size = len(out)
		}
		b.ReportMetric(float64(size)/n, "bytes/reading")
	}
	b.Run("senml_cbor", func(b *testing.B) {
		e, err := senml.NewEncoder(benchsuite.CabinetGatewayID, benchsuite.CabinetBootID, chans, n)
		if err != nil {
			b.Fatal(err)
		}
		run(b, func(seq uint64) ([]byte, error) { return e.Encode(seq, rs) })
	})
	b.Run("senml_json", func(b *testing.B) {
		e := benchsuite.NewJSONEncoder(benchsuite.CabinetGatewayID, benchsuite.CabinetBootID, chans)
		run(b, func(seq uint64) ([]byte, error) { return e.Encode(seq, rs) })
	})
	table := benchsuite.NewNaiveTable(benchsuite.CabinetGatewayID, chans)
	naive := make([]benchsuite.NaiveReading, 0, n)
	b.Run("json_naive", func(b *testing.B) {
		run(b, func(uint64) ([]byte, error) { naive = table.Append(naive[:0], rs); return json.Marshal(naive) })
	})
	b.Run("cbor_naive", func(b *testing.B) {
		run(b, func(uint64) ([]byte, error) { naive = table.Append(naive[:0], rs); return cbor.Marshal(naive) })
	})
}

// TestCompareEncodingsAgree makes sure the benchmark compares like with like: every encoding of the
// cabinet batch decodes to the same 100 readings.
func TestCompareEncodingsAgree(t *testing.T) {
	const n = 100
	rs, err := benchsuite.CabinetReadings(n)
	if err != nil {
		t.Fatal(err)
	}
	chans := benchsuite.CabinetChannels()
	e, err := senml.NewEncoder(benchsuite.CabinetGatewayID, benchsuite.CabinetBootID, chans, n)
	if err != nil {
		t.Fatal(err)
	}
	pack, err := e.Encode(benchsuite.CabinetSeq, rs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := senml.Decode(pack)
	if err != nil || len(p.Readings) != n {
		t.Fatalf("SenML-CBOR: %v (%d readings)", err, len(p.Readings))
	}
	want := map[string]buffer.Reading{} // by name and millisecond
	key := func(name string, ms int64) string { return fmt.Sprintf("%s@%d", name, ms) }
	for _, r := range rs {
		want[key(benchsuite.CabinetGatewayID+chans[r.Channel].Name, r.Time/1e6)] = r
	}
	for _, got := range p.Readings {
		r, ok := want[key(got.Name, got.UnixMilli())]
		// The decoded value is the reported one at the channel's resolution.
		if !ok || senml.Quantize(&chans[r.Channel], got.Value) != senml.Quantize(&chans[r.Channel], r.Value) {
			t.Fatalf("SenML-CBOR reading %+v: not in the batch (%v) or not its value %v", got, ok, r.Value)
		}
	}
	table := benchsuite.NewNaiveTable(benchsuite.CabinetGatewayID, chans)
	naive := table.Append(nil, rs)
	for name, marshal := range map[string]func(any) ([]byte, error){"json": json.Marshal, "cbor": cbor.Marshal} {
		b, err := marshal(naive)
		if err != nil {
			t.Fatal(err)
		}
		var back []benchsuite.NaiveReading
		if name == "json" {
			err = json.Unmarshal(b, &back)
		} else {
			err = cbor.Unmarshal(b, &back)
		}
		if err != nil || len(back) != n {
			t.Fatalf("naive %s: %v (%d readings)", name, err, len(back))
		}
		for i, r := range back {
			if r != naive[i] || r.Time != rs[i].Time/1e6 || r.Value != rs[i].Value {
				t.Fatalf("naive %s reading %d: %+v, want %+v", name, i, r, rs[i])
			}
		}
	}
}
