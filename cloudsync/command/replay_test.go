package command

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func nonceN(i int) []byte { return []byte(fmt.Sprintf("nonce-%010d", i)) }

func openCache(t *testing.T, path string, clk *clock, max int) *ReplayCache {
	t.Helper()
	c, err := OpenReplayCache(path, ReplayOptions{MaxEntries: max, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func remember(t *testing.T, c *ReplayCache, i int, issued time.Time) error {
	t.Helper()
	return c.Remember("city", nonceN(i), issued, issued.Add(DefaultMaxAge))
}

func fileSize(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Size())
}

// recordLen is the size of one nonce record of the tests (key "city", 16-byte nonce).
var recordLen = len(appendRecord(nil, nonceBody(entryKey("city", nonceN(0)), 0)))

func TestReplayCacheRestart(t *testing.T) {
	clk := &clock{t: t0}
	path := filepath.Join(t.TempDir(), DefaultReplayFile)
	c := openCache(t, path, clk, 0)
	if fileSize(t, path) != len(replayMagic) {
		t.Fatalf("a new cache file has %d bytes", fileSize(t, path))
	}
	for i := range 3 {
		if err := remember(t, c, i, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := remember(t, c, 1, t0); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second Remember: %v", err)
	}
	if got, want := fileSize(t, path), len(replayMagic)+3*recordLen; got != want {
		t.Errorf("file of %d bytes, want %d (header and 3 records)", got, want)
	}
	c.Close()
	if err := remember(t, c, 9, t0); !errors.Is(err, ErrClosed) {
		t.Errorf("Remember after Close: %v", err)
	}
	c = openCache(t, path, clk, 0)
	for i := range 3 {
		if err := remember(t, c, i, t0); !errors.Is(err, ErrReplayed) {
			t.Errorf("nonce %d after a restart: %v", i, err)
		}
	}
	if s := c.Stats(); s.Entries != 3 || s.Damaged || s.TornBytes != 0 {
		t.Errorf("stats %+v", s)
	}
	c.Close()
	// At expiry the nonces are still remembered; after it they are dropped when the file is opened.
	clk.Add(DefaultMaxAge)
	c = openCache(t, path, clk, 0)
	if n := c.Stats().Entries; n != 3 {
		t.Errorf("%d entries at their expiry, want 3", n)
	}
	c.Close()
	clk.Add(time.Millisecond)
	c = openCache(t, path, clk, 0)
	if n := c.Stats().Entries; n != 0 || fileSize(t, path) != len(replayMagic) {
		t.Errorf("%d entries and %d bytes after expiry", n, fileSize(t, path))
	}
}

func TestReplayCacheTornTail(t *testing.T) {
	clk := &clock{t: t0}
	dir := t.TempDir()
	path := filepath.Join(dir, DefaultReplayFile)
	c := openCache(t, path, clk, 0)
	for i := range 3 {
		remember(t, c, i, t0)
	}
	c.Close()
	good := fileSize(t, path)
	rec := appendRecord(nil, nonceBody(entryKey("city", nonceN(3)), t0.Add(DefaultMaxAge).UnixMilli()))
	for _, tail := range [][]byte{rec[:4], rec[:recHeader], rec[:recHeader+12], rec[:len(rec)-1], make([]byte, 4096)} {
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		f.Write(tail)
		f.Close()
		c = openCache(t, path, clk, 0)
		s := c.Stats()
		if s.Entries != 3 || s.TornBytes != len(tail) || s.Damaged || fileSize(t, path) != good {
			t.Errorf("tail of %d bytes: stats %+v, file %d bytes, want %d", len(tail), s, fileSize(t, path), good)
		}
		// The torn record's command never ran: its nonce is free; the others are not.
		if err := remember(t, c, 1, t0); !errors.Is(err, ErrReplayed) {
			t.Errorf("nonce 1: %v", err)
		}
		c.Close()
	}
	c = openCache(t, path, clk, 0)
	if err := remember(t, c, 3, t0); err != nil {
		t.Errorf("the torn nonce: %v", err)
	}
	c.Close()

	// A header cut short when the file was created is an empty cache.
	os.WriteFile(path, []byte(replayMagic[:3]), 0o600)
	c = openCache(t, path, clk, 0)
	if s := c.Stats(); s.Entries != 0 || s.TornBytes != 3 || s.Damaged {
		t.Errorf("torn header: %+v", s)
	}
}

func TestReplayCacheDamaged(t *testing.T) {
	clk := &clock{t: t0}
	path := filepath.Join(t.TempDir(), DefaultReplayFile)
	for _, tc := range []struct {
		name   string
		damage func(b []byte)
	}{
		{"bad CRC", func(b []byte) { b[len(replayMagic)+recordLen+recHeader+3] ^= 0x40 }}, // record 2's expiry
		{"length too large", func(b []byte) { b[len(replayMagic)+recordLen] = 0xff; b[len(replayMagic)+recordLen+1] = 0xff }},
		{"length a little too large", func(b []byte) { b[len(replayMagic)+recordLen] += 30 }},
		{"length too small", func(b []byte) { b[len(replayMagic)+recordLen] -= 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.t = t0
			os.Remove(path)
			c := openCache(t, path, clk, 0)
			for i := range 3 {
				remember(t, c, i, t0.Add(-time.Minute))
			}
			c.Close()
			b, _ := os.ReadFile(path)
			tc.damage(b)
			os.WriteFile(path, b, 0o600)

			c = openCache(t, path, clk, 0)
			s := c.Stats()
			floor := t0.Add(DefaultMaxSkew)
			if !s.Damaged || s.Entries != 1 || !s.RefuseIssuedBefore.Equal(floor) || !s.RefuseUntil.Equal(floor.Add(DefaultMaxAge)) {
				t.Fatalf("stats %+v", s)
			}
			// Nonce 2 was lost with the damaged record: the floor still refuses it, and any command
			// issued before the floor.
			err := remember(t, c, 2, t0.Add(-time.Minute))
			if !errors.Is(err, ErrReplayed) || !strings.Contains(err.Error(), "damaged") {
				t.Errorf("lost nonce: %v", err)
			}
			if err := remember(t, c, 10, t0.Add(DefaultMaxSkew)); !errors.Is(err, ErrReplayed) {
				t.Errorf("a command issued at the floor: %v", err)
			}
			if err := remember(t, c, 11, t0.Add(DefaultMaxSkew+time.Millisecond)); err != nil {
				t.Errorf("a command issued after the floor: %v", err)
			}
			c.Close()
			// The floor survives a restart (the file is whole again).
			clk.Add(time.Minute)
			c = openCache(t, path, clk, 0)
			if s := c.Stats(); s.Damaged || !s.RefuseIssuedBefore.Equal(floor) {
				t.Errorf("after a second restart: %+v", s)
			}
			if err := remember(t, c, 2, t0.Add(-time.Minute)); !errors.Is(err, ErrReplayed) {
				t.Errorf("lost nonce after a second restart: %v", err)
			}
			// Once every command issued before the floor is stale anyway, the floor ends.
			clk.t = floor.Add(DefaultMaxAge + time.Millisecond)
			if err := remember(t, c, 12, t0); err != nil {
				t.Errorf("after the floor's end: %v", err)
			}
			if s := c.Stats(); !s.RefuseUntil.IsZero() {
				t.Errorf("floor still reported: %+v", s)
			}
		})
	}
}

func TestReplayCacheFull(t *testing.T) {
	clk := &clock{t: t0}
	c := openCache(t, filepath.Join(t.TempDir(), "n"), clk, 3)
	for i := range 3 {
		if err := c.Remember("city", nonceN(i), t0, t0.Add(time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	err := c.Remember("city", nonceN(3), t0, t0.Add(time.Minute))
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "retry in 1m0s") {
		t.Fatalf("full cache: %v", err)
	}
	// The unexpired nonces are all still refused: nothing was forgotten to make room.
	for i := range 3 {
		if err := c.Remember("city", nonceN(i), t0, t0.Add(time.Minute)); !errors.Is(err, ErrReplayed) {
			t.Errorf("nonce %d: %v", i, err)
		}
	}
	clk.Add(time.Minute + time.Millisecond)
	if err := c.Remember("city", nonceN(3), t0, t0.Add(5*time.Minute)); err != nil {
		t.Errorf("after the first expiry: %v", err)
	}
	if n := c.Stats().Entries; n != 3 {
		t.Errorf("%d entries", n)
	}

	// Through the dispatcher: busy, answered (rate-limited like other refusals), the handler not run.
	e := newEnv(t, envConfig{maxEntries: 2})
	e.wantCode(CmdPing, e.sign(e.req(CmdPing, "")), "")
	e.wantCode(CmdPing, e.sign(e.req(CmdPing, "")), "")
	if r := e.wantCode(CmdPing, e.sign(e.req(CmdPing, "")), CodeBusy); r.Error != nil && !strings.Contains(r.Error.Message, "retry in") {
		t.Errorf("busy message %q", r.Error.Message)
	}
	if e.ran(CmdPing) != 2 {
		t.Errorf("ping ran %d times", e.ran(CmdPing))
	}
}

func TestReplayCacheBadFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("garbage that is not a nonce file"), 0o600)
	sub := filepath.Join(dir, "adir")
	os.Mkdir(sub, 0o755)
	for _, path := range []string{bad, sub, filepath.Join(dir, "missing", "n")} {
		_, err := OpenReplayCache(path, ReplayOptions{})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("open %s: %v, want an error naming the path", path, err)
		}
	}
	if b, _ := os.ReadFile(bad); !bytes.HasPrefix(b, []byte("garbage")) {
		t.Error("the unreadable file was overwritten")
	}
	// A missing file in an existing directory is an empty cache, created.
	path := filepath.Join(dir, "new")
	c, err := OpenReplayCache(path, ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("created file: %v %v", fi, err)
	}
}

func TestReplayCacheCompaction(t *testing.T) {
	clk := &clock{t: t0}
	path := filepath.Join(t.TempDir(), "n")
	c := openCache(t, path, clk, 4)
	for i := range 100 {
		if err := c.Remember("city", nonceN(i), clk.Now(), clk.Now().Add(3*time.Second)); err != nil {
			t.Fatalf("nonce %d: %v", i, err)
		}
		clk.Add(time.Second)
		if s := c.Stats(); s.Records > 2*4+1 || fileSize(t, path) > len(replayMagic)+(2*4+1)*recordLen {
			t.Fatalf("after %d nonces: %+v, %d bytes", i+1, s, fileSize(t, path))
		}
	}
	if s := c.Stats(); s.Compactions < 10 {
		t.Errorf("only %d compactions", s.Compactions)
	}
	c.Close()
	c = openCache(t, path, clk, 4)
	for i := 97; i < 100; i++ {
		if err := c.Remember("city", nonceN(i), t0, t0); !errors.Is(err, ErrReplayed) {
			t.Errorf("recent nonce %d after compactions and a restart: %v", i, err)
		}
	}
}

// TestReplayCacheWriteFailure breaks the file under the cache: the failed Remember remembers nothing,
// and the next one rewrites the file before appending.
func TestReplayCacheWriteFailure(t *testing.T) {
	clk := &clock{t: t0}
	path := filepath.Join(t.TempDir(), "n")
	c := openCache(t, path, clk, 0)
	remember(t, c, 1, t0)
	c.f.Close() // the next write fails
	if err := remember(t, c, 2, t0); err == nil || errors.Is(err, ErrReplayed) || !strings.Contains(err.Error(), path) {
		t.Fatalf("write to a broken file: %v", err)
	}
	if err := remember(t, c, 2, t0); err != nil {
		t.Fatalf("after the failure: %v", err)
	}
	c.Close()
	c = openCache(t, path, clk, 0)
	for _, i := range []int{1, 2} {
		if err := remember(t, c, i, t0); !errors.Is(err, ErrReplayed) {
			t.Errorf("nonce %d: %v", i, err)
		}
	}
}

func TestReplayCacheConcurrent(t *testing.T) {
	clk := &clock{t: t0}
	c := openCache(t, filepath.Join(t.TempDir(), "n"), clk, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if remember(t, c, i, t0) == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if ok != 20 {
		t.Errorf("%d nonces accepted by 8 racing goroutines, want each of the 20 once", ok)
	}
}

// TestReplayCacheUntrustedClockKeepsNonces: a board that boots with its clock a day ahead must not
// expire the nonces on disk; once the clock is right again, those commands are still replays.
func TestReplayCacheUntrustedClockKeepsNonces(t *testing.T) {
	clk := &clock{t: t0}
	path := filepath.Join(t.TempDir(), DefaultReplayFile)
	c := openCache(t, path, clk, 0)
	for i := range 3 {
		if err := remember(t, c, i, t0); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	ahead := &clock{t: t0.Add(24 * time.Hour)}
	c2, err := OpenReplayCache(path, ReplayOptions{Now: ahead.Now, ClockTrusted: func() bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	c = openCache(t, path, clk, 0) // NTP has put the clock right
	for i := range 3 {
		if err := remember(t, c, i, t0); !errors.Is(err, ErrReplayed) {
			t.Errorf("nonce %d after a boot with the clock ahead: %v", i, err)
		}
	}
}
