package spool

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash child appends batches, acknowledges the oldest it has sent, and after each explicit Sync
// prints what is now durable. The parent kills it with SIGKILL at a random moment.
const childEnv = "WAYSIDE_SPOOL_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

func crashChild(dir string) {
	start, _ := strconv.ParseUint(os.Getenv("WAYSIDE_SPOOL_START"), 10, 64)
	s, err := Open(Options{Dir: dir, SegmentBytes: 8192, SyncEvery: 8, SyncInterval: 20 * time.Millisecond})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "READY")
	w.Flush()
	for seq := start; seq < start+1_000_000; seq++ {
		if err := s.Append(seq, payload(seq)); err != nil {
			fmt.Fprintln(w, "ERR", err)
		}
		fmt.Fprintln(w, "A", seq)
		if seq%3 == 0 { // the broker acknowledges the oldest batch we sent
			if r, ok, _ := s.Next(false); ok {
				// Announce before acknowledging: the spool's own policy may make the ack durable
				// before the next explicit Sync, so the parent must know it may be gone.
				fmt.Fprintln(w, "K", r.Seq)
				w.Flush()
				s.Ack(r.Seq)
			}
		}
		if seq%10 == 0 {
			if err := s.Sync(); err == nil {
				fmt.Fprintln(w, "SYNC")
			}
		}
		w.Flush()
	}
}

// TestCrashRecovery kills a writing spool with SIGKILL at random moments, reopens it, and checks
// that every batch made durable and not durably acknowledged is present exactly once and intact, and
// that no durably acknowledged batch comes back.
func TestCrashRecovery(t *testing.T) {
	cycles := 100
	if testing.Short() || os.Getenv("WAYSIDE_TEST_EXEC") != "" { // qemu: each child start is slow
		cycles = 10
	}
	if v, err := strconv.Atoi(os.Getenv("WAYSIDE_CRASH_CYCLES")); err == nil {
		cycles = v
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	mustHave := map[uint64]bool{} // durable, not durably acknowledged
	mustNot := map[uint64]bool{}  // durably acknowledged
	next := uint64(1)
	var totalDurable, totalAcked, tornSeen int
	deadline := time.Now().Add(2 * time.Minute)
	for cycle := 0; cycle < cycles && time.Now().Before(deadline); cycle++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		if q := os.Getenv("WAYSIDE_TEST_EXEC"); q != "" { // under qemu-user (make test-arm)
			cmd = exec.Command(q, os.Args[0], "-test.run=^$")
		}
		cmd.Env = append(os.Environ(), childEnv+"="+dir, "WAYSIDE_SPOOL_START="+strconv.FormatUint(next, 10))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		ready := make(chan struct{})
		copied := make(chan struct{})
		go func() {
			defer close(copied)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "READY" {
					close(ready)
					continue
				}
				out.Write(sc.Bytes())
				out.WriteByte('\n')
			}
		}()
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("cycle %d: child did not start", cycle)
		}
		time.Sleep(time.Duration(1+rng.IntN(30)) * time.Millisecond) // kill mid-write, at a random moment
		cmd.Process.Kill()
		<-copied
		cmd.Wait()

		var appended, acked []uint64
		for _, line := range strings.Split(out.String(), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case "A", "K":
				v, _ := strconv.ParseUint(f[1], 10, 64)
				if f[0] == "A" {
					appended = append(appended, v)
					next = max(next, v+1)
				} else {
					acked = append(acked, v)
				}
			case "SYNC":
				for _, v := range appended {
					mustHave[v] = true
					totalDurable++
				}
				for _, v := range acked {
					delete(mustHave, v)
					mustNot[v] = true
					totalAcked++
				}
				appended, acked = nil, nil
			case "ERR":
				t.Fatalf("cycle %d: child: %s", cycle, line)
			}
		}
		// batches appended after the last SYNC may or may not have survived; acks after it too
		for _, v := range acked {
			delete(mustHave, v) // acknowledged: may be gone, may come back
		}
		next += 10 // like the daemon's sequence lease: never reuse a number a killed run may have written

		s, err := Open(Options{Dir: dir, SegmentBytes: 8192})
		if err != nil {
			t.Fatalf("cycle %d: reopen: %v", cycle, err)
		}
		tornSeen += int(s.Stats().TornRecords)
		present := map[uint64]int{}
		for _, seq := range drain(t, s) {
			present[seq]++
		}
		s.Close()
		for seq, n := range present {
			if n != 1 {
				t.Fatalf("cycle %d: batch %d present %d times", cycle, seq, n)
			}
			if mustNot[seq] {
				t.Fatalf("cycle %d: batch %d came back after a durable acknowledgement", cycle, seq)
			}
		}
		for seq := range mustHave {
			if present[seq] == 0 {
				t.Fatalf("cycle %d: durable batch %d lost", cycle, seq)
			}
		}
		if cycle == cycles-1 {
			t.Logf("crash cycles=%d durable_batches=%d durably_acked=%d torn_tails_cut=%d lost=0 backlog_now=%d",
				cycles, totalDurable, totalAcked, tornSeen, len(present))
		}
	}
}
