package codepages

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Mapping is one line of /proc/PID/maps that Trim acts on: a read-only, private mapping of the
// executable.
type Mapping struct {
	Start, End uint64
	Perms      string
}

// Len is the mapping's length in bytes.
func (m Mapping) Len() uint64 { return m.End - m.Start }

// Result says what Trim did.
type Result struct {
	Mappings int    // read-only mappings of the executable advised
	Bytes    uint64 // their length
	// RSSFileBefore and RSSFileAfter are the process's RssFile (bytes) around the trim, from
	// /proc/self/status; zero where the kernel does not report it.
	RSSFileBefore, RSSFileAfter uint64
}

// ExecMappings reads maps (the text of /proc/PID/maps) and returns the mappings of the file exe that
// are private and not writable: text, read-only data and the runtime's tables. Anonymous mappings,
// other files and anything writable are left out.
func ExecMappings(maps io.Reader, exe string) ([]Mapping, error) {
	var out []Mapping
	sc := bufio.NewScanner(maps)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// 00400000-00b9a000 r-xp 00000000 fd:01 1234    /usr/bin/waysided
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			continue // anonymous: no path
		}
		path := strings.Join(f[5:], " ")
		if path != exe {
			continue
		}
		perms := f[1]
		if len(perms) != 4 || perms[1] == 'w' || perms[3] != 'p' {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("codepages: maps line %q: no address range", sc.Text())
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("codepages: maps line %q: bad address range", sc.Text())
		}
		out = append(out, Mapping{Start: start, End: end, Perms: perms})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("codepages: read maps: %w", err)
	}
	return out, nil
}

// rssFile returns RssFile from /proc/self/status in bytes, or 0.
func rssFile() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "RssFile:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}
