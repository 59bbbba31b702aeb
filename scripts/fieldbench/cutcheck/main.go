// Command cutcheck is the field bench's power-cut accounting (scripts/fieldbench/cuts.sh): from the
// console logs of a gateway's cut cycles, in boot order, and the telemetry the broker received after
// the last boot, it checks that every batch the spool reported durable before a cut was delivered,
// and totals the cuts, starts, torn tails and cut bytes.
//
//	cutcheck -gw ID -messages FILE [-json FILE] CONSOLE...
//
// A console log holds "WB-RUN ... first=N" (the first sequence number of that run, read from the lease
// file before the daemon starts) and "WB-SPOOL <json>" lines (wayside --json spool, every 0.3 s); a
// line the cut tore is ignored. A batch counts as reported durable when its sequence number is at
// least the run's first and at most the largest durable_seq printed in that run: the spool had
// fsync'd it and said so before the plug was pulled. The messages file holds "TOPIC HEX" lines
// (mosquitto_sub -F '%t %x'); payloads are decoded as plain CBOR here, not with the gateway's own
// decoder: a SenML pack (RFC 8428), or a COSE_Sign1 (RFC 9052, tag 18) whose payload is one.
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// spoolLine is the part of wayside --json spool (gateway/localapi/apitype.Spool) the check reads.
type spoolLine struct {
	DurableSeq  uint64 `json:"durable_seq"`
	LastSeq     uint64 `json:"last_seq"`
	Recovered   int    `json:"recovered"`
	TornRecords uint64 `json:"torn_records"`
	CutBytes    int64  `json:"cut_bytes"`
	Evicted     uint64 `json:"evicted"`
	Lost        uint64 `json:"lost"`
	FsyncErrors uint64 `json:"fsync_errors"`
}

// run is what one boot's console showed.
type run struct {
	file      string
	first     uint64 // 0: the run never printed WB-RUN
	started   bool   // the local API answered at least once
	last      spoolLine
	durable   uint64 // the largest durable_seq printed
	recovered spoolLine
}

var (
	runRE   = regexp.MustCompile(`WB-RUN .*first=(\d+)`)
	spoolRE = regexp.MustCompile(`WB-SPOOL (\{.*\})\s*$`)
)

func readRun(path string) (*run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cutcheck: %w", err)
	}
	defer f.Close()
	r := &run{file: path}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if m := runRE.FindStringSubmatch(line); m != nil {
			r.first, _ = strconv.ParseUint(m[1], 10, 64)
			continue
		}
		m := spoolRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var s spoolLine
		if json.Unmarshal([]byte(m[1]), &s) != nil {
			continue // torn by the cut
		}
		if !r.started {
			r.recovered = s
		}
		r.started = true
		r.last = s
		r.durable = max(r.durable, s.DurableSeq)
	}
	return r, sc.Err()
}

// seqOf returns the "seq" label of a telemetry payload.
func seqOf(payload []byte) (uint64, error) {
	var v any
	if err := cbor.Unmarshal(payload, &v); err != nil {
		return 0, err
	}
	if t, ok := v.(cbor.Tag); ok && t.Number == 18 { // COSE_Sign1
		v = t.Content
	}
	if a, ok := v.([]any); ok && len(a) == 4 {
		if b, ok := a[2].([]byte); ok { // COSE_Sign1 [protected, unprotected, payload, signature]
			if err := cbor.Unmarshal(b, &v); err != nil {
				return 0, fmt.Errorf("COSE payload: %w", err)
			}
		}
	}
	recs, ok := v.([]any)
	if !ok || len(recs) == 0 {
		return 0, errors.New("not a SenML pack")
	}
	first, ok := recs[0].(map[any]any)
	if !ok {
		return 0, errors.New("first record is not a map")
	}
	switch s := first["seq"].(type) {
	case uint64:
		return s, nil
	case int64:
		return uint64(s), nil
	}
	return 0, errors.New(`no "seq" label in the first record`)
}

func delivered(path, gw string) (map[uint64]bool, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("cutcheck: %w", err)
	}
	defer f.Close()
	got := map[uint64]bool{}
	bad := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		topic, hx, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasSuffix(topic, "/"+gw+"/telemetry") {
			continue
		}
		b, err := hex.DecodeString(strings.TrimSpace(hx))
		if err != nil {
			bad++
			continue
		}
		s, err := seqOf(b)
		if err != nil {
			bad++
			continue
		}
		got[s] = true
	}
	return got, bad, sc.Err()
}

// Result is the accounting, also written as JSON for BENCHMARKS.md.
type Result struct {
	Gateway        string   `json:"gateway"`
	Boots          int      `json:"boots"`
	Cuts           int      `json:"cuts"`
	Started        int      `json:"started"`
	Recovered      int      `json:"recovered_batches"` // the backlog the delivering boot recovered
	TornRecords    uint64   `json:"torn_records"`
	CutBytes       int64    `json:"cut_bytes"`
	ReportedSynced int      `json:"reported_durable"`
	Delivered      int      `json:"delivered"`
	Undecodable    int      `json:"undecodable"`
	Missing        []uint64 `json:"missing,omitempty"`
	Problems       []string `json:"problems,omitempty"`
}

func main() {
	gw := flag.String("gw", "", "gateway id")
	msgs := flag.String("messages", "", "mosquitto_sub -F '%t %x' output")
	out := flag.String("json", "", "write the result as JSON to this file")
	flag.Parse()
	if *gw == "" || *msgs == "" || flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: cutcheck -gw ID -messages FILE [-json FILE] CONSOLE... (the cycles, then the delivering boot)")
		os.Exit(2)
	}
	res, err := check(*gw, *msgs, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	fmt.Printf("%s: %d cuts, %d of %d boots reached the local API, %d torn records cut (%d bytes), %d batches reported durable before a cut, %d recovered after the last, %d delivered, %d missing\n",
		res.Gateway, res.Cuts, res.Started, res.Boots, res.TornRecords, res.CutBytes, res.ReportedSynced, res.Recovered, res.Delivered, len(res.Missing))
	for _, p := range res.Problems {
		fmt.Println("  problem:", p)
	}
	if len(res.Problems) > 0 {
		os.Exit(1)
	}
}

// check reads the cycles' consoles (all but the last file) and the delivering boot's (the last).
func check(gw, msgs string, consoles []string) (*Result, error) {
	res := &Result{Gateway: gw, Boots: len(consoles), Cuts: len(consoles) - 1}
	need := map[uint64]bool{}
	for i, c := range consoles {
		r, err := readRun(c)
		if err != nil {
			return nil, err
		}
		if r.started {
			res.Started++
			if i == len(consoles)-1 {
				res.Recovered = r.recovered.Recovered
			}
			res.TornRecords += r.recovered.TornRecords
			res.CutBytes += r.recovered.CutBytes
			if r.last.Lost > 0 || r.last.Evicted > 0 || r.last.FsyncErrors > 0 {
				res.Problems = append(res.Problems, fmt.Sprintf("%s: %d lost, %d evicted, %d fsync errors", c, r.last.Lost, r.last.Evicted, r.last.FsyncErrors))
			}
		}
		if i == len(consoles)-1 {
			if !r.started {
				res.Problems = append(res.Problems, c+": the delivering boot never answered on the local API")
			}
			continue
		}
		if r.first == 0 {
			continue // cut before the spool disk was mounted
		}
		for s := r.first; s <= r.durable; s++ {
			need[s] = true
		}
	}
	got, bad, err := delivered(msgs, gw)
	if err != nil {
		return nil, err
	}
	res.Delivered, res.Undecodable, res.ReportedSynced = len(got), bad, len(need)
	for s := range need {
		if !got[s] {
			res.Missing = append(res.Missing, s)
		}
	}
	sort.Slice(res.Missing, func(i, j int) bool { return res.Missing[i] < res.Missing[j] })
	if len(res.Missing) > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d batches reported durable were never delivered: %v", len(res.Missing), head(res.Missing)))
	}
	if bad > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d telemetry payloads did not decode as SenML-CBOR", bad))
	}
	if len(need) == 0 {
		res.Problems = append(res.Problems, "no batch was reported durable before any cut: the cycles proved nothing")
	}
	return res, nil
}

func head(s []uint64) []uint64 {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}
