package command

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash child remembers nonces 0, 1, 2... with its clock one second ahead per nonce, and prints
// each one once Remember has returned (when the command would run). The parent kills it with SIGKILL
// at a random moment.
const crashEnv = "WAYSIDE_CMD_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

const (
	crashEntries = 8
	crashLife    = 4 * time.Second // each nonce's expiry after its issue
)

func crashChild(path string) {
	start, _ := strconv.Atoi(os.Getenv("WAYSIDE_CMD_CRASH_START"))
	clk := &clock{t: t0.Add(time.Duration(start) * time.Second)}
	c, err := OpenReplayCache(path, ReplayOptions{MaxEntries: crashEntries, Now: clk.Now})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "READY")
	w.Flush()
	for i := start; i < start+1_000_000; i++ {
		if err := c.Remember("city", nonceN(i), clk.Now(), clk.Now().Add(crashLife)); err != nil {
			fmt.Fprintln(w, "ERR", err)
			w.Flush()
			os.Exit(1)
		}
		fmt.Fprintln(w, i)
		w.Flush()
		clk.Add(time.Second)
	}
}

// TestReplayCacheCrash kills a process that is recording nonces (appending, fsyncing and compacting
// every 2×MaxEntries records) and checks after each kill that the file opens and every unexpired
// nonce the process had accepted is still refused. SIGKILL does not lose written pages, so this
// checks the recovery and the atomic rewrite, not fsync (which only a power cut would).
func TestReplayCacheCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	path := filepath.Join(t.TempDir(), DefaultReplayFile)
	next := 0
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		if q := os.Getenv("WAYSIDE_TEST_EXEC"); q != "" { // under qemu-user (make test-arm)
			cmd = exec.Command(q, os.Args[0], "-test.run=^$")
		}
		cmd.Env = append(os.Environ(), crashEnv+"="+path, "WAYSIDE_CMD_CRASH_START="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1<<16)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		select {
		case l := <-lines:
			if l != "READY" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: child said %q", round, l)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child not ready within 10s", round)
		}
		time.Sleep(time.Duration(20+rand.IntN(150)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		last := -1
		for l := range lines {
			if strings.HasPrefix(l, "ERR") {
				t.Fatalf("round %d: child: %s", round, l)
			}
			if n, err := strconv.Atoi(l); err == nil {
				last = n
			}
		}
		if last < next {
			t.Logf("round %d: killed before the first nonce", round)
			continue
		}
		// The child may have recorded (and compacted at the clock of) one more nonce than it printed:
		// reopen at that clock; the nonces within crashLife of it are unexpired.
		clk := &clock{t: t0.Add(time.Duration(last+1) * time.Second)}
		c, err := OpenReplayCache(path, ReplayOptions{MaxEntries: 1 << 20, Now: clk.Now})
		if err != nil {
			t.Fatalf("round %d: reopen after the kill: %v", round, err)
		}
		s := c.Stats()
		if s.Damaged {
			t.Errorf("round %d: file damaged by a kill: %+v", round, s)
		}
		for i := max(next, last+1-int(crashLife/time.Second)); i <= last; i++ {
			if err := c.Remember("city", nonceN(i), clk.Now(), clk.Now()); !errors.Is(err, ErrReplayed) {
				t.Errorf("round %d: nonce %d accepted before the kill was forgotten: %v", round, i, err)
			}
		}
		c.Close()
		t.Logf("round %d: %d nonces accepted, last %d; %d unexpired kept", round, last-next+1, last, s.Entries)
		next = last + 2 // the nonce after the last printed one may or may not have been recorded
	}
}
