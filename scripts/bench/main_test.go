package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wayside-iot/wayside/internal/benchsuite"
)

// TestWirePhase runs the wire phase: four batch sizes over the same 1000 readings, bytes per reading
// falling as batches grow, JSON above CBOR once a batch holds more than one reading.
func TestWirePhase(t *testing.T) {
	r := &results{errs: map[string]error{}}
	if err := r.wirePhase(); err != nil {
		t.Fatal(err)
	}
	if len(r.wire) != len(batchSizes) {
		t.Fatalf("%d rows", len(r.wire))
	}
	prev := 1e9
	for i, w := range r.wire {
		per := float64(w.cbor.Payload) / float64(w.readings)
		if w.n != batchSizes[i] || w.readings != 1000 || per >= prev || w.cbor.Wire < w.cbor.MQTT || w.cbor.MQTT < w.cbor.Payload {
			t.Fatalf("batch %d: %+v (%.1f B/reading after %.1f)", w.n, w, per, prev)
		}
		// Signing adds 120 bytes or so per batch (64 of them the signature), sealing with X25519 about
		// 70 more (32-byte encapsulated key, 16-byte tag), with MLKEM768-X25519 about 1160 (its 1120-byte
		// ciphertext): docs/mqtt.md "Telemetry protection".
		batches := (w.readings + w.n - 1) / w.n
		sig, seal, pq := w.signed.Payload-w.cbor.Payload, w.sealed.Payload-w.signed.Payload, w.sealedPQ.Payload-w.signed.Payload
		if sig < 100*batches || sig > 130*batches || seal < (32+16)*batches || seal > 90*batches || pq < 1120*batches || pq > 1180*batches {
			t.Fatalf("batch %d: signing adds %d, sealing %d (X25519) and %d (MLKEM768-X25519) bytes over %d batches", w.n, sig, seal, pq, batches)
		}
		if w.n > 1 && (w.senmlJSON.Payload <= w.cbor.Payload || w.naive.Payload <= w.cbor.Payload) {
			t.Fatalf("batch %d: JSON %d and naive %d bytes, CBOR %d", w.n, w.senmlJSON.Payload, w.naive.Payload, w.cbor.Payload)
		}
		prev = per
	}
}

// TestReportVerdicts renders a report from given results: the verdicts follow the targets, and a
// failed phase shows as such.
func TestReportVerdicts(t *testing.T) {
	ring := benchsuite.ParseBench(`
BenchmarkSameGoroutine/chan-2  1000  25 ns/op  0 B/op  0 allocs/op
BenchmarkSameGoroutine/ring-2  1000  10 ns/op  0 B/op  0 allocs/op
BenchmarkSameGoroutine/diodes-2  1000  50 ns/op  32 B/op  2 allocs/op
BenchmarkSPSC/chan-2  1000  40 ns/op  0 dropped  0 B/op  0 allocs/op
BenchmarkSPSC/ring-2  1000  15 ns/op  7 dropped  0 B/op  1 allocs/op
BenchmarkMPSC4/chan-2  1000  25 ns/op  0 dropped  0 B/op  0 allocs/op
BenchmarkMPSC4/ring-2  1000  30 ns/op  0 dropped  0 B/op  0 allocs/op
BenchmarkMPSC4/ring_lossless-2  1000  20 ns/op  0 dropped  12 full  0 B/op  0 allocs/op
BenchmarkMPSC4/ring_lossless-2  1000  24 ns/op  0 dropped  10 full  0 B/op  0 allocs/op
BenchmarkMPSC4/ring_lossless-2  1000  99 ns/op  0 dropped  10 full  0 B/op  0 allocs/op
`)
	encode := benchsuite.ParseBench("BenchmarkCompare/senml_cbor-2  100  11000 ns/op  18.2 bytes/reading  0 B/op  0 allocs/op\n")
	r := &results{
		opts:   options{phases: map[string]bool{"size": true, "micro": true, "wire": true, "e2e": true}, batches: []int{1000}, replay: 10000},
		errs:   map[string]error{"e2e": errors.New("mosquitto is not installed\nmore detail")},
		ring:   ring,
		encode: encode,
		sizes:  []binarySize{{"linux/amd64", 9 << 20}, {"linux/arm64", 16 << 20}},
	}
	if err := r.wirePhase(); err != nil {
		t.Fatal(err)
	}
	out := r.report()
	for _, want := range []string{
		"| yes (0.40× chan)",                      // same goroutine: 10 of 25 ns, 0 allocs
		"| no (0.38× chan)",                       // SPSC: fast enough but allocates
		"| yes (lossless 0.96× chan; ring 1.20×)", // MPSC4: median of 20, 24, 99
		"found full 10 times",
		"7 dropped of 1000",
		"failed: mosquitto is not installed ",
		"- e2e: mosquitto is not installed\n",
		"16.0 MiB (16777216 bytes)",
		"0 allocs, 18.2 B/reading",
		"Bytes per reading, cabinet batches of 100",
		"Bytes per reading added by signing and sealing, cabinet batches of 100",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "linux/arm64") && !strings.HasSuffix(strings.TrimRight(l, " |"), "| no") {
			t.Errorf("a 16 MiB arm64 binary meets the 15 MiB target: %s", l)
		}
		if strings.Contains(l, "added by signing and sealing, cabinet batches of 100 ") {
			w := r.wire[2]
			per := float64(w.sealed.Payload-w.cbor.Payload) / float64(w.readings)
			want := fmt.Sprintf("| %s (%.2f B)", map[bool]string{true: "yes", false: "no"}[per <= targetSealBytes], per)
			if !strings.Contains(l, want) {
				t.Errorf("%.2f bytes per reading against the %v-byte target: want %q in %s", per, targetSealBytes, want, l)
			}
		}
		if strings.Contains(l, "| Bytes per reading, cabinet batches of 100 ") {
			w := r.wire[2]
			per := float64(w.cbor.Payload) / float64(w.readings)
			want := fmt.Sprintf("| %s (%.1f B)", map[bool]string{true: "yes", false: "no"}[per <= targetBytes], per)
			if !strings.Contains(l, want) {
				t.Errorf("%.1f bytes per reading against the %v-byte target: want %q in %s", per, targetBytes, want, l)
			}
		}
	}
	if strings.Contains(out, "Heap allocations") {
		t.Errorf("a phase that did not run has rows:\n%s", out)
	}
}

// TestWriteDoc replaces only the results section, refuses a document without markers, and the
// repository's BENCHMARKS.md has the markers -write needs.
func TestWriteDoc(t *testing.T) {
	path := filepath.Join(t.TempDir(), "B.md")
	doc := "# B\n\nprose\n\n" + benchsuite.ResultsBegin + "\nold\n" + benchsuite.ResultsEnd + "\n\nmore prose\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeDoc(path, "| new |\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := strings.Replace(doc, "\nold\n", "\n| new |\n", 1); string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if err := os.WriteFile(path, []byte("# no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeDoc(path, "x"); !errors.Is(err, benchsuite.ErrNoMarkers) {
		t.Fatalf("no markers: %v", err)
	}
	real, err := os.ReadFile(filepath.Join("..", "..", "BENCHMARKS.md"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := benchsuite.ReplaceResults(string(real), "x"); err != nil {
		t.Fatalf("BENCHMARKS.md: %v", err)
	}
}

func TestHelpers(t *testing.T) {
	for rate, want := range map[float64]string{1.2e6: "1.2M", 1e6: "1M", 1e4: "10k", 472317: "472.3k", 950: "950"} {
		if got := si(rate); got != want {
			t.Errorf("si(%v) = %q, want %q", rate, got, want)
		}
	}
	for _, rate := range []float64{1e4, 1.2e6, 5e6} {
		c := ringFor(rate)
		if c&(c-1) != 0 || float64(c) < rate/10 || c < 16384 {
			t.Errorf("ringFor(%v) = %d", rate, c)
		}
	}
}

// TestFlags: bad flags end the run before any work, with status 2.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-phases", "size,bogus"}, {"-batches", "0"}, {"-batches", "1000,x"}, {"-rate", "10"}, {"-replay-rate", "0"}} {
		if code := run(args); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
