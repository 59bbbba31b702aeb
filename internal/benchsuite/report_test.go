package benchsuite

import (
	"errors"
	"strings"
	"testing"
)

func TestParseBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/wayside-iot/wayside/buffer
BenchmarkSameGoroutine/chan-2         	64152194	        18.61 ns/op	       0 B/op	       0 allocs/op
BenchmarkSPSC/diodes-2                	 9483506	       126.5 ns/op	         0 dropped	    6 unaccounted	      32 B/op	       1 allocs/op
BenchmarkSPSC/ring-2                  	 1000000	        40 ns/op	         3.000 dropped	       0 B/op	       0 allocs/op
BenchmarkSPSC/ring-2                  	 2000000	        35.5 ns/op	         0 dropped	       0 B/op	       0 allocs/op
BenchmarkSPSC/ring-2                  	 3000000	        90 ns/op	         9 dropped	       0 B/op	       0 allocs/op
BenchmarkSPSC/ring-2                  	 4000000	        20 ns/op	         1 dropped	       0 B/op	       0 allocs/op
BenchmarkOdd	12	3 ns/op extra
BenchmarkNoProcs	7	2.5 ns/op
--- FAIL: BenchmarkBroken
PASS
ok  	github.com/wayside-iot/wayside/buffer	12.3s
`
	rs := ParseBench(out)
	if len(rs) != 4 {
		t.Fatalf("%d results: %+v", len(rs), rs)
	}
	d, ok := Find(rs, "SPSC/diodes")
	if !ok || d.Procs != 2 || d.N != 9483506 || d.Metrics["ns/op"] != 126.5 || d.Metrics["unaccounted"] != 6 || d.Metrics["allocs/op"] != 1 {
		t.Fatalf("diodes: %+v", d)
	}
	r, _ := Find(rs, "SPSC/ring")
	if r.N != 2000000 || r.Metrics["ns/op"] != 35.5 || r.Metrics["dropped"] != 0 || r.Runs != 4 {
		t.Fatalf("a repeated benchmark keeps its (lower) median line: %+v", r)
	}
	if c, _ := Find(rs, "SameGoroutine/chan"); c.Runs != 1 {
		t.Fatalf("one line: %+v", c)
	}
	if rs[1].Name != "SPSC/diodes" || rs[2].Name != "SPSC/ring" {
		t.Fatalf("results not in the order first seen: %+v", rs)
	}
	if p, ok := Find(rs, "NoProcs"); !ok || p.Procs != 1 || p.Metrics["ns/op"] != 2.5 {
		t.Fatalf("no suffix: %+v", p)
	}
	if _, ok := Find(rs, "Odd"); ok {
		t.Fatal("a line with an odd field count parsed")
	}
}

func TestReplaceResults(t *testing.T) {
	doc := "# Title\n\nProse before.\n\n" + ResultsBegin + "\nold table\n" + ResultsEnd + "\n\nProse after.\n"
	got, err := ReplaceResults(doc, "\nnew | table\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Title\n\nProse before.\n\n" + ResultsBegin + "\nnew | table\n" + ResultsEnd + "\n\nProse after.\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	again, _ := ReplaceResults(got, "new | table")
	if again != got {
		t.Fatal("replacing with the same results changed the document")
	}
	if _, err := ReplaceResults("# no markers\n", "x"); !errors.Is(err, ErrNoMarkers) {
		t.Fatalf("no markers: %v", err)
	}
}

func TestTableMarkdown(t *testing.T) {
	var tb Table
	tb.Header = []string{"Measure", "Result"}
	tb.Add("ring ≤ ½ chan", "a|b")
	tb.Add("short")
	lines := strings.Split(strings.TrimSpace(tb.Markdown()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "|---") || !strings.Contains(lines[2], `a\|b`) {
		t.Fatalf("table:\n%s", tb.Markdown())
	}
	for _, l := range lines[1:] {
		if len([]rune(l)) != len([]rune(lines[0])) {
			t.Fatalf("ragged table:\n%s", tb.Markdown())
		}
	}
}
