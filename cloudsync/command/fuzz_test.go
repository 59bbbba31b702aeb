package command

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus in testdata/fuzz/FuzzHandle")

const corpusDir = "testdata/fuzz/FuzzHandle"

// verifierCodes can be held back by the rate limit; the others are always answered.
var verifierCodes = []Code{CodeBadRequest, CodeTooLarge, CodeWrongGateway, CodeUnauthorized, CodeStale,
	CodeReplayed, CodeBusy, CodeFailed}

// FuzzHandle feeds arbitrary topic names and payloads to a dispatcher over a real replay cache: it
// must never panic, and every answer must be well-formed JSON with a known code. The seeds (valid
// requests signed with testKey(1) at t0, and broken ones) are in testdata/fuzz/FuzzHandle;
// -update-corpus rewrites them.
func FuzzHandle(f *testing.F) {
	e := newEnv(f, envConfig{burst: 10})
	f.Fuzz(func(t *testing.T, name string, payload []byte) {
		resp, send := e.d.Handle(context.Background(), name, payload)
		if err := checkAnswer(resp.Encode(), testGateway); err != nil {
			t.Fatalf("answer to %q %q: %v\n%s", name, payload, err, resp.Encode())
		}
		if !send && (resp.Error == nil || !slices.Contains(verifierCodes, resp.Error.Code)) {
			t.Fatalf("answer held back: %s", resp.Encode())
		}
		if resp.OK && (len(payload) > DefaultLimits.MaxBytes || !ValidName(name)) {
			t.Fatalf("accepted %q %q", name, payload)
		}
		if n := e.logs.FilterMessage("command dispatch panicked").Len(); n > 0 {
			t.Fatalf("the dispatcher panicked on %q %q: %v", name, payload, e.logs.FilterMessage("command dispatch panicked").All())
		}
	})
}

// corpusSeed is one seed: valid ones must stay valid (TestFuzzCorpus).
type corpusSeed struct {
	file    string
	name    string
	payload []byte
	want    Code // the answer when sent first to a fresh env
}

func corpusSeeds(t *testing.T) []corpusSeed {
	e := newEnv(t, envConfig{})
	at := func(r Request, d time.Duration) Request { r.IssuedAt = t0.Add(d).UnixMilli(); return r }
	sign := func(r Request, nonce byte) []byte {
		r.Nonce = base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{nonce + 1}, 16))
		return e.sign(r)
	}
	valid := sign(at(e.req(CmdSetInterval, `{"sensor":"env1","interval":"5s"}`), -time.Minute), 1)
	return []corpusSeed{
		{"valid-ping", CmdPing, sign(at(e.req(CmdPing, ""), -time.Minute), 0), ""},
		{"valid-set-interval", CmdSetInterval, valid, ""},
		{"valid-set-log-level", CmdSetLogLevel, sign(at(e.req(CmdSetLogLevel, `{"level":"debug"}`), 0), 2), ""},
		{"valid-echo-nested", "echo", sign(at(e.req("echo", `{"a":[{"b":[1,2,{"c":null}]},"x"],"d":{"e":true}}`), 0), 3), ""},
		{"unknown-command", "reboot", sign(at(e.req("reboot", `{}`), 0), 4), CodeUnknownCommand},
		{"handler-panics", "panic", sign(at(e.req("panic", ""), 0), 5), CodeFailed},
		{"bad-args", CmdSetInterval, sign(at(e.req(CmdSetInterval, `{"sensor":"env1","interval":"1ms"}`), 0), 6), CodeBadRequest},
		{"stale", CmdPing, sign(at(e.req(CmdPing, ""), -time.Hour), 7), CodeStale},
		{"wrong-gateway", CmdPing, bytes.Replace(sign(at(e.req(CmdPing, ""), 0), 8), []byte(`"gw-1"`), []byte(`"gw-2"`), 1), CodeWrongGateway},
		{"not-cose-json", CmdPing, []byte(`{"id":"x","gateway":"gw-1"}`), CodeBadRequest},
		{"json-string-base64", CmdGetStatus, []byte(`"` + base64.StdEncoding.EncodeToString(sign(at(e.req(CmdGetStatus, ""), 0), 9)) + `"`), ""},
		{"tampered-args", CmdSetInterval, bytes.Replace(valid, []byte(`"5s"`), []byte(`"6s"`), 1), CodeUnauthorized},
		{"topic-mismatch", CmdPing, valid, CodeBadRequest},
		{"duplicate-key", CmdSetInterval, bytes.Replace(valid, []byte(`"sensor":"env1"`), []byte(`"sensor":"env1","sensor":"x"`), 1), CodeBadRequest},
		{"deep", "echo", e.signRaw("city", []byte(`{"id":"d","args":{"a":[[[[[[[[[[[[1]]]]]]]]]]]}}`)), CodeTooLarge},
		{"truncated", CmdSetInterval, valid[:len(valid)/2], CodeBadRequest},
		{"not-utf8", CmdPing, e.signRaw("city", []byte("{\"id\":\"\xff\xfe\"}")), CodeBadRequest},
		{"empty", "", nil, CodeBadRequest},
		{"number-id", CmdPing, e.signRaw("city", []byte(`{"id":1e999,"gateway":"gw-1"}`)), CodeBadRequest},
		{"cose-deep-cbor", CmdPing, append([]byte{0xd2, 0x84}, bytes.Repeat([]byte{0x81}, 200)...), CodeBadRequest},
	}
}

// TestFuzzCorpus checks that the seed corpus on disk is the one corpusSeeds makes and that each
// seed still gets its answer, so the valid seeds keep reaching the handlers.
func TestFuzzCorpus(t *testing.T) {
	seeds := corpusSeeds(t)
	if *updateCorpus {
		os.RemoveAll(corpusDir)
		os.MkdirAll(corpusDir, 0o755)
		for _, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\nstring(%q)\n[]byte(%q)\n", s.name, s.payload)
			if err := os.WriteFile(filepath.Join(corpusDir, s.file), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	e := newEnv(t, envConfig{})
	for _, s := range seeds {
		name, payload, err := readSeed(filepath.Join(corpusDir, s.file))
		if err != nil {
			t.Errorf("%s: %v (go test -run TestFuzzCorpus -update-corpus rewrites the corpus)", s.file, err)
			continue
		}
		if name != s.name || !bytes.Equal(payload, s.payload) {
			t.Errorf("%s differs from its generator (go test -run TestFuzzCorpus -update-corpus rewrites the corpus)", s.file)
		}
		e.wantCode(name, payload, s.want)
	}
}

// readSeed reads a two-value seed file of the go fuzzing corpus format.
func readSeed(path string) (string, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 3 || lines[0] != "go test fuzz v1" {
		return "", nil, fmt.Errorf("not a two-value seed file")
	}
	unq := func(line, prefix string) (string, error) {
		if !strings.HasPrefix(line, prefix+"(") || !strings.HasSuffix(line, ")") {
			return "", fmt.Errorf("line %q is not %s(...)", line, prefix)
		}
		return strconv.Unquote(line[len(prefix)+1 : len(line)-1])
	}
	name, err := unq(lines[1], "string")
	if err != nil {
		return "", nil, err
	}
	payload, err := unq(lines[2], "[]byte")
	return name, []byte(payload), err
}
