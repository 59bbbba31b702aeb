package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
)

// daemonLog reads the daemon's JSON log: it keeps the "gateway stopped" line and the last lines for
// error messages.
type daemonLog struct {
	mu    sync.Mutex
	last  []string
	stop  *Stopped
	lines int
}

const tailLines = 30

func (l *daemonLog) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		l.mu.Lock()
		l.lines++
		l.last = append(l.last, line)
		if len(l.last) > tailLines {
			l.last = l.last[1:]
		}
		if strings.Contains(line, `"gateway stopped"`) {
			var st Stopped
			if json.Unmarshal([]byte(line), &st) == nil {
				l.stop = &st
			}
		}
		l.mu.Unlock()
	}
	io.Copy(io.Discard, r) // a line over 1 MiB ends the scan; keep the pipe drained
}

func (l *daemonLog) stopped() (Stopped, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stop == nil {
		return Stopped{}, false
	}
	return *l.stop, true
}

func (l *daemonLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("daemon log (last %d of %d lines):\n%s", len(l.last), l.lines, strings.Join(l.last, "\n"))
}
