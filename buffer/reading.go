package buffer

// Reading is one timestamped value of one measurement channel: the fixed-size, pointer-free value the
// ring carries from sensor goroutines to the batcher. The gateway keeps the table that maps Channel to
// a sensor and measurement name and unit.
type Reading struct {
	// Time is the sample time in Unix nanoseconds.
	Time int64
	// Value is the measurement in the channel's SenML unit.
	Value float64
	// Channel indexes the gateway's channel table.
	Channel uint32
	// Flags carries per-reading facts for the encoder (see Flag*).
	Flags uint32
}

// Reading flags, carried to the cloud in the SenML "wf" label, or in "wf_" (must-understand, RFC 8428
// section 4.4) when FlagClockUntrusted is set.
const (
	// FlagClockUntrusted marks a reading stamped before the wall clock was trusted (no RTC, no NTP
	// yet) and never corrected: its time is the untrusted boot-time wall clock plus the monotonic
	// time since boot.
	FlagClockUntrusted uint32 = 1 << 0
	// FlagTimeCorrected marks a reading stamped before the clock was trusted whose time was corrected
	// when a trusted wall time arrived.
	FlagTimeCorrected uint32 = 1 << 1
)
