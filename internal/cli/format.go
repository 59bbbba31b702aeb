package cli

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// ANSI colours, used only on a terminal and never with NO_COLOR set.
const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

type painter struct{ on bool }

func (p painter) paint(colour, s string) string {
	if !p.on || s == "" {
		return s
	}
	return colour + s + reset
}

// state colours a health or check word.
func (p painter) state(s string) string {
	switch s {
	case "ok", "OK", "connected", "trusted", "writable":
		return p.paint(green, s)
	case "degraded", "unknown":
		return p.paint(yellow, s)
	case "failing", "FAIL", "disconnected", "not writable":
		return p.paint(red, s)
	}
	return s
}

// table lays out rows with text/tabwriter (two spaces between columns). Colour is applied after the
// layout, at each cell's column offset, so escape codes never upset the alignment.
type table struct {
	header []string
	rows   [][]string
	// colour, when set for a column, returns the colour for a cell ("" for none).
	colour map[int]func(cell string) string
}

const tablePad = 2

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, p painter) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, tablePad, ' ', 0)
	all := append([][]string{t.header}, t.rows...)
	for _, r := range all {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Column start offsets, in runes, as tabwriter computed them: every column but the last is as
	// wide as its widest cell plus the padding.
	ncol := len(t.header)
	offs := make([]int, ncol)
	for c := 1; c < ncol; c++ {
		width := 0
		for _, r := range all {
			if c-1 < len(r) {
				width = max(width, utf8.RuneCountInString(r[c-1]))
			}
		}
		offs[c] = offs[c-1] + width + tablePad
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for i, line := range lines {
		switch {
		case i == 0 && p.on:
			line = p.paint(bold, strings.TrimRight(line, " "))
		case i > 0 && p.on && len(t.colour) > 0:
			line = colourCells(line, all[i], offs, t.colour)
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " ")); err != nil {
			return err
		}
	}
	return nil
}

func colourCells(line string, cells []string, offs []int, colour map[int]func(string) string) string {
	runes := []rune(line)
	var out strings.Builder
	pos := 0
	for c, cell := range cells {
		fn := colour[c]
		if fn == nil || c >= len(offs) {
			continue
		}
		code := fn(cell)
		start, end := offs[c], offs[c]+utf8.RuneCountInString(cell)
		if code == "" || end > len(runes) || string(runes[start:end]) != cell {
			continue
		}
		out.WriteString(string(runes[pos:start]))
		out.WriteString(code + cell + reset)
		pos = end
	}
	out.WriteString(string(runes[pos:]))
	return out.String()
}

// stateColour is a table column colour for health words.
func stateColour(cell string) string {
	switch cell {
	case "ok", "OK":
		return green
	case "degraded":
		return yellow
	case "failing", "FAIL":
		return red
	}
	return ""
}

// kv writes "Key  value" lines aligned on the value.
type kv struct {
	rows [][2]string
}

func (k *kv) add(key, format string, a ...any) {
	k.rows = append(k.rows, [2]string{key, fmt.Sprintf(format, a...)})
}

func (k *kv) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, tablePad, ' ', 0)
	for _, r := range k.rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// humanDuration writes d in the largest sensible units: 850ms, 12.3s, 3m12s, 5h03m, 4d05h.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		if d%time.Second == 0 {
			return fmt.Sprintf("%ds", int(d.Seconds()))
		}
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// ago writes how long before now t was, "never" for the zero time.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return humanDuration(now.Sub(t)) + " ago"
}

// humanBytes writes n in binary units: 512 B, 1.5 KiB, 12.3 GiB.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// count writes n with thousands separators: 1,234,567.
func count(n uint64) string {
	s := fmt.Sprint(n)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// number writes a measurement for people: at most six decimals, no float noise (11.1, not
// 11.100000000000001).
func number(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= 1e15 {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
}

// reading writes a measurement at the resolution the cloud receives it: the shortest decimal that
// round-trips to float32 (what a SenML pack carries, cloudsync/senml.WireValue), so 102085.03 Pa and
// not the driver's 102085.03125; latitude and longitude, sent as float64, keep six decimals (0.1 m).
func reading(v float64, unit string) string {
	if unit == "lat" || unit == "lon" || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
		return number(v)
	}
	return strconv.FormatFloat(v, 'f', -1, 32)
}
