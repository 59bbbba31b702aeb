// Command fieldcheck is the field bench's broker-side check: it reads the telemetry the broker
// received (mosquitto_sub -F '%t %x': topic, then the payload in hex, one message a line), decodes
// each SenML pack and checks that named channels carried values in range. Each -want is
// label=channel,min,max[,sum]: the last value (or with sum, the sum of all values) must lie in
// [min, max]. It prints one "label PASS|FAIL detail" line per want and exits 1 if any failed.
package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/wayside-iot/wayside/cloudsync/senml"
)

type want struct {
	label, channel string
	lo, hi         float64
	sum            bool
}

type wants []want

func (w *wants) String() string { return fmt.Sprint(*w) }

func (w *wants) Set(s string) error {
	label, spec, ok := strings.Cut(s, "=")
	f := strings.Split(spec, ",")
	if !ok || len(f) < 3 || len(f) > 4 || (len(f) == 4 && f[3] != "sum") {
		return fmt.Errorf("want %q: use label=channel,min,max[,sum]", s)
	}
	lo, err1 := strconv.ParseFloat(f[1], 64)
	hi, err2 := strconv.ParseFloat(f[2], 64)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("want %q: min and max must be numbers", s)
	}
	*w = append(*w, want{label: label, channel: f[0], lo: lo, hi: hi, sum: len(f) == 4})
	return nil
}

func main() {
	file := flag.String("f", "", "messages, one '<topic> <hex payload>' a line")
	suffix := flag.String("topic-suffix", "/telemetry", "only topics ending so are telemetry")
	var ws wants
	flag.Var(&ws, "want", "label=channel,min,max[,sum] (repeatable)")
	flag.Parse()
	f, err := os.Open(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fieldcheck:", err)
		os.Exit(2)
	}
	defer f.Close()
	lines, ok := check(f, *suffix, ws)
	for _, l := range lines {
		fmt.Println(l)
	}
	if !ok {
		os.Exit(1)
	}
}

// check reads the messages from r and returns one line per want, and whether all passed.
func check(r io.Reader, suffix string, ws wants) (lines []string, ok bool) {
	type agg struct {
		n         int
		last, sum float64
	}
	seen := map[string]*agg{}
	packs, bad := 0, 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		topic, payload, found := strings.Cut(sc.Text(), " ")
		if !found || !strings.HasSuffix(topic, suffix) {
			continue
		}
		b, err := hex.DecodeString(strings.TrimSpace(payload))
		if err != nil {
			bad++
			continue
		}
		p, err := senml.Decode(b)
		if err != nil {
			bad++
			continue
		}
		packs++
		for _, r := range p.Readings {
			a := seen[r.Name]
			if a == nil {
				a = &agg{}
				seen[r.Name] = a
			}
			a.n++
			a.last = r.Value
			a.sum += r.Value
		}
	}
	ok = true
	for _, w := range ws {
		a := seen[w.channel]
		if a == nil {
			lines = append(lines, fmt.Sprintf("%s FAIL no %s in %d packs (%d undecodable)", w.label, w.channel, packs, bad))
			ok = false
			continue
		}
		v, what := a.last, "last"
		if w.sum {
			v, what = a.sum, "sum"
		}
		status := "PASS"
		if v < w.lo || v > w.hi {
			status, ok = "FAIL", false
		}
		lines = append(lines, fmt.Sprintf("%s %s %s: %d readings, %s %.6g (want %g..%g)", w.label, status, w.channel, a.n, what, v, w.lo, w.hi))
	}
	return lines, ok
}
