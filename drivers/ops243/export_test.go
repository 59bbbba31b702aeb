package ops243

import "time"

// Seams for the tests of package ops243_test, which drive the driver through ops243emu (an import
// of ops243 itself).
var (
	NowSeam   = &now
	SleepSeam = &sleep
)

// Line hands one line to the reader's handler, as the reader goroutine does.
func (d *Dev) Line(b []byte) { d.line(b) }

// Clock is a time seam the tests set.
func SetNow(f func() time.Time) func() { old := now; now = f; return func() { now = old } }
