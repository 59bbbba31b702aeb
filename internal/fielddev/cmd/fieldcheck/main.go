// Command fieldcheck is the field bench's broker-side check: it reads the telemetry the broker
// received (mosquitto_sub -F '%t %x': topic, then the payload in hex, one message a line), verifies
// each batch's COSE_Sign1 with the gateway's public key (-gateway-key, as `wayside status --json`
// shows it; cloudsync/cityopen, the city's reference opener), decodes its SenML pack and checks that
// named channels carried values in range. A batch that does not verify counts as undecodable and
// fails the run. Each -want is
// label=channel,min,max[,sum]: the last value (or with sum, the sum of all values) must lie in
// [min, max]. It prints one "label PASS|FAIL detail" line per want and exits 1 if any failed.
package main

import (
	"bufio"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/wayside-iot/wayside/cloudsync/cityopen"
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
	key := flag.String("gateway-key", "", "the gateway's Ed25519 public key, standard base64 (required)")
	var ws wants
	flag.Var(&ws, "want", "label=channel,min,max[,sum] (repeatable)")
	flag.Parse()
	pub, err := base64.StdEncoding.DecodeString(*key)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		fmt.Fprintf(os.Stderr, "fieldcheck: -gateway-key %q is not a base64 Ed25519 public key\n", *key)
		os.Exit(2)
	}
	op, err := cityopen.New(cityopen.Options{Gateways: []ed25519.PublicKey{pub}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fieldcheck:", err)
		os.Exit(2)
	}
	f, err := os.Open(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fieldcheck:", err)
		os.Exit(2)
	}
	defer f.Close()
	lines, ok := check(f, *suffix, op, ws)
	for _, l := range lines {
		fmt.Println(l)
	}
	if !ok {
		os.Exit(1)
	}
}

// check reads the messages from r and returns one line per want, and whether all passed.
func check(r io.Reader, suffix string, op *cityopen.Opener, ws wants) (lines []string, ok bool) {
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
		batch, err := op.Open(b)
		if err != nil || !batch.Verified {
			bad++
			continue
		}
		p := batch.Pack
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
	ok = bad == 0
	if bad > 0 {
		lines = append(lines, fmt.Sprintf("batches-verify FAIL %d of %d telemetry batches did not verify with the gateway key or did not decode", bad, packs+bad))
	} else {
		lines = append(lines, fmt.Sprintf("batches-verify PASS %d telemetry batches verified with the gateway key", packs))
	}
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
