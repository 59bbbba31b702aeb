// Package apitype holds the JSON shapes of waysided's local API (/localapi/v0/...), shared by the
// server (package localapi) and its clients (package client, the wayside CLI). Durations are numbers
// with their unit in the field name (uptime_s, last_ack_rtt_ms) so curl output reads plainly.
package apitype

import "time"

// Prefix is the path every endpoint lives under: Prefix + name.
const Prefix = "/localapi/v0/"

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
	// Group, on a 403 for a non-member, names the group whose members may act.
	Group string `json:"group,omitempty"`
	// Kind classifies a sensor error: one of drivers/sensor's ErrorKindNames, or no-data (KindName).
	Kind string `json:"kind,omitempty"`
}

// Status is GET status: everything a technician looks at first.
type Status struct {
	Gateway string `json:"gateway"`
	// GatewayIDFrom is the machine id file an auto gateway id came from; empty for a configured id.
	GatewayIDFrom string `json:"gateway_id_from,omitempty"`
	Version       string `json:"version"`
	Board         string `json:"board"`
	BoardModel    string `json:"board_model"`
	BootID        string `json:"boot_id"`
	// Key is the public half of the gateway key that signs every batch: register it with the city.
	Key *GatewayKey `json:"gateway_key,omitempty"`
	// SealKID is the city key id new batches are sealed to (cloud.seal); absent when not sealing.
	SealKID    string    `json:"seal_kid,omitempty"`
	ConfigHash string    `json:"config_hash"`
	Started    time.Time `json:"started"`
	UptimeS    float64   `json:"uptime_s"`
	LogLevel   string    `json:"log_level"`
	Clock      Clock     `json:"clock"`
	Pipeline   Pipeline  `json:"pipeline"`
	Cloud      Cloud     `json:"cloud"`
	Ring       Ring      `json:"ring"`
	Spool      Spool     `json:"spool"`
	Sensors    []Sensor  `json:"sensors"`
	// Problems lists, in plain words, everything above that needs attention; empty when all is well.
	Problems []string `json:"problems"`
}

// GatewayKey is the gateway's batch-signing key as the city registers it.
type GatewayKey struct {
	PublicKey string `json:"public_key"` // standard base64 of the 32-byte Ed25519 public key
	KeyID     string `json:"kid"`        // hex of the COSE kid its batches carry
}

// Clock is the gateway's wall clock as the gateway itself judges it: the same trust the retained
// MQTT status carries (cloudsync.ClockSummary), never guessed from the date.
type Clock struct {
	// Trusted is false until the trust policy accepts the wall clock; until then readings are stamped
	// from the monotonic clock and flagged untrusted.
	Trusted bool `json:"trusted"`
	// Trust is the policy: "ntp" (trusted once the kernel reports the clock synchronised) or "always".
	Trust string `json:"trust"`
	// CorrectionMs is what readings stamped before trust arrived were corrected by; absent until the
	// clock is trusted, and 0 when it was trusted from the start. Whole milliseconds, the resolution
	// readings are stamped at.
	CorrectionMs float64 `json:"correction_ms,omitempty"`
	// Now is the gateway's wall time when it answered (wrong while not trusted, on a board without RTC).
	Now time.Time `json:"now"`
}

// Pipeline counts readings since the daemon started.
type Pipeline struct {
	Readings uint64 `json:"readings"` // taken by the samplers
	Spooled  uint64 `json:"spooled"`  // in batches appended to the spool
	Batches  uint64 `json:"batches"`
}

// Cloud is GET cloud: the MQTT link.
type Cloud struct {
	Broker         string   `json:"broker"` // current or last broker
	Brokers        []string `json:"brokers"`
	ClientID       string   `json:"client_id"`
	TelemetryTopic string   `json:"telemetry_topic"`
	StatusTopic    string   `json:"status_topic"`
	EventsTopic    string   `json:"events_topic,omitempty"`
	// CommandFilter is what the gateway subscribes to for commands; ReplyTopic where it answers one,
	// with {name} (and azure-iothub's {rid}) standing for the command's.
	CommandFilter string  `json:"command_filter,omitempty"`
	ReplyTopic    string  `json:"reply_topic,omitempty"`
	Connected     bool    `json:"connected"`
	Connects      uint64  `json:"connects"`
	Published     uint64  `json:"published"` // batches
	Acked         uint64  `json:"acked"`
	Failed        uint64  `json:"failed"`
	Inflight      int     `json:"inflight"`
	MaxInflight   int     `json:"max_inflight"`
	LastAckRTTMs  float64 `json:"last_ack_rtt_ms"`
	// State is connected, connecting, backoff (waiting to retry), takeover-hold or closed.
	State string `json:"state"`
	// Takeover is set while the link holds off because another client seems to use its client id.
	Takeover bool      `json:"takeover,omitempty"`
	NextTry  time.Time `json:"next_try,omitempty"` // the next connection attempt while backing off
	Profile  string    `json:"profile"`
	Commands uint64    `json:"commands"` // command requests received
	Events   uint64    `json:"events"`
	// EventsLost counts health events not published (offline or the queue full).
	EventsLost uint64 `json:"events_lost"`
}

// Ring is the in-memory buffer of readings.
type Ring struct {
	Len      int     `json:"len"`
	Cap      int     `json:"cap"`
	Fill     float64 `json:"fill"` // Len/Cap, 0..1
	Pushed   uint64  `json:"pushed"`
	Popped   uint64  `json:"popped"`
	Dropped  uint64  `json:"dropped"` // oldest readings evicted because the ring was full
	Rejected uint64  `json:"rejected"`
}

// Spool is GET spool: the durable store-and-forward queue on disk (package buffer/spool), where
// encoded batches wait until the broker acknowledges them, and the state directory around it.
type Spool struct {
	StateDir string `json:"state_dir"` // spool.dir: the batch-seq file and the spool/ directory
	Dir      string `json:"dir"`       // the segment files
	// DirWritable is false when the state directory cannot be written: batches and sequence numbers
	// are at risk.
	DirWritable bool   `json:"dir_writable"`
	DirError    string `json:"dir_error,omitempty"`
	DirFree     uint64 `json:"dir_free_bytes"`

	Segments   int   `json:"segments"`
	Bytes      int64 `json:"bytes"`
	QuotaBytes int64 `json:"quota_bytes"`
	// LimitBytes is what the spool may grow to now: the quota, or what fits on its filesystem
	// (Bytes plus the free space, less a small reserve) when that is less. DiskBytes is the
	// filesystem's size (0 when unknown).
	LimitBytes int64   `json:"limit_bytes"`
	DiskBytes  int64   `json:"disk_bytes"`
	Fill       float64 `json:"fill"` // Bytes/LimitBytes, 0..1
	// Backlog counts batches not yet acknowledged by the broker; Unsent, those not yet handed to it.
	Backlog   int       `json:"backlog"`
	Unsent    int       `json:"unsent"`
	OldestSeq uint64    `json:"oldest_seq,omitempty"`
	OldestAt  time.Time `json:"oldest_at,omitzero"`
	Appended  uint64    `json:"appended"`
	Acked     uint64    `json:"acked"`
	Evicted   uint64    `json:"evicted"` // dropped unacknowledged (quota or full disk): data lost
	// EvictedDiskFull is the part of Evicted dropped because the filesystem was full.
	EvictedDiskFull uint64 `json:"evicted_disk_full"`
	Lost            uint64 `json:"lost"` // batches that could not be stored at all
	Recovered       int    `json:"recovered"`
	TornRecords     uint64 `json:"torn_records"`
	CutBytes        int64  `json:"cut_bytes"`
	// SkippedRecords counts corrupt records found at the start with intact records after them (those
	// are kept); SkippedBytes their size.
	SkippedRecords uint64 `json:"skipped_records"`
	SkippedBytes   int64  `json:"skipped_bytes"`
	Fsyncs         uint64 `json:"fsyncs"`
	FsyncErrors    uint64 `json:"fsync_errors"`
	DurableSeq     uint64 `json:"durable_seq"`

	// LastSeq is the last batch sequence number spooled by this run, 0 before the first batch.
	LastSeq uint64 `json:"last_seq"`
	// NextSeq is LastSeq+1, 0 before the first batch of this run (then see LeasedThrough).
	NextSeq uint64 `json:"next_seq"`
	// LeasedThrough is the highest sequence number reserved in the state directory's batch-seq file.
	LeasedThrough uint64    `json:"leased_through"`
	LastBatchAt   time.Time `json:"last_batch_at,omitzero"`
	LastBatchN    int       `json:"last_batch_readings,omitempty"`
	LastBatchSize int       `json:"last_batch_bytes,omitempty"`
	// Ring is the memory buffer readings wait in until the batcher spools them.
	Ring Ring `json:"ring"`
}

// Sensor is one configured sensor and its health (GET sensors, and status).
type Sensor struct {
	Name       string `json:"name"`
	Driver     string `json:"driver"`
	Bus        string `json:"bus"`
	Address    string `json:"address,omitempty"` // "0x76", I2C only
	Pin        string `json:"pin,omitempty"`
	IntervalMs int64  `json:"interval_ms"`
	// PhaseMs is sensors[].phase: samples start this long after their grid slot (negative: before).
	PhaseMs int64 `json:"phase_ms,omitempty"`
	// DelayLastMs and DelayMaxMs are how late the last sample, and the latest since start, began
	// after its grid slot plus phase; readings are stamped with the slot whatever the delay.
	DelayLastMs float64 `json:"delay_last_ms"`
	DelayMaxMs  float64 `json:"delay_max_ms"`
	// MissedSlots counts grid slots skipped because the sampler was a whole interval or more late.
	MissedSlots uint64 `json:"missed_slots,omitempty"`
	State       string `json:"state"` // ok, degraded, failing
	Reads       uint64 `json:"reads"`
	Good        uint64 `json:"good"`
	NoData      uint64 `json:"no_data"`
	Errors      uint64 `json:"errors"`
	// ErrorsByKind counts errors by kind, keyed by drivers/sensor's ErrorKindNames; zeros left out.
	ErrorsByKind        map[string]uint64 `json:"errors_by_kind,omitempty"`
	ConsecutiveFailures int               `json:"consecutive_failures"`
	LastError           string            `json:"last_error,omitempty"`
	LastErrorAt         time.Time         `json:"last_error_at,omitzero"`
	LastGoodAt          time.Time         `json:"last_good_at,omitzero"`
}

// Value is one measurement.
type Value struct {
	Sensor string    `json:"sensor"`
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Value  float64   `json:"value"`
	Time   time.Time `json:"time"`
}

// Read is POST read?sensor=NAME: one reading taken now, outside the schedule; not published.
type Read struct {
	Sensor string  `json:"sensor"`
	Driver string  `json:"driver"`
	Values []Value `json:"values"`
	// NoData is true when the part answered with nothing new (no GPS fix, no radar target): not a fault.
	NoData bool    `json:"no_data,omitempty"`
	TookMs float64 `json:"took_ms"`
}

// TailLine is one line of GET tail's NDJSON stream: a reading, or (Dropped > 0) a note that this
// stream missed readings because it was read too slowly.
type TailLine struct {
	Value
	Dropped uint64 `json:"dropped,omitempty"`
}

// ScanI2C is POST scan-i2c[?bus=NAME].
type ScanI2C struct {
	Board     string   `json:"board"`
	Simulated bool     `json:"simulated"`
	Buses     []I2CBus `json:"buses"`
}

// I2CBus is one scanned bus.
type I2CBus struct {
	Bus     string      `json:"bus"`
	Device  string      `json:"device"`
	Devices []I2CDevice `json:"devices"`
}

// I2CDevice is one address that answered.
type I2CDevice struct {
	Address string `json:"address"` // "0x76"
	Addr    uint16 `json:"addr"`
	// Likely are the known parts that sit at this address, e.g. ["bme280", "bmp280"].
	Likely []string `json:"likely"`
	// Sensor and Driver name the configured sensor at this address, when there is one.
	Sensor string `json:"sensor,omitempty"`
	Driver string `json:"driver,omitempty"`
}

// ScanModbus is POST scan-modbus?bus=NAME[&first=N&last=N]: the slave addresses that answer on
// the RS-485 line of the Modbus sensors configured on bus.
type ScanModbus struct {
	Board string `json:"board"`
	Bus   string `json:"bus"`
	// Via is the configured sensor whose line (and line settings) the scan used.
	Via       string        `json:"via"`
	First     int           `json:"first"`
	Last      int           `json:"last"`
	TimeoutMs float64       `json:"timeout_ms"` // per address
	Slaves    []ModbusSlave `json:"slaves"`
	TookMs    float64       `json:"took_ms"`
}

// ModbusSlave is one address that answered.
type ModbusSlave struct {
	Slave int `json:"slave"`
	// Note says how it answered when not with data: an exception (the device is there but lacks
	// holding register 0) or a garbled frame.
	Note string `json:"note,omitempty"`
	// Sensors name the configured sensors at this address.
	Sensors []string `json:"sensors,omitempty"`
}

// SelfTest is POST selftest.
type SelfTest struct {
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
	TookMs float64 `json:"took_ms"`
}

// Check is one self-test line.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// LogLevel is GET log-level and POST log-level?level=LEVEL.
type LogLevel struct {
	Level    string `json:"level"`
	Previous string `json:"previous,omitempty"`
}

// Version is GET version.
type Version struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Gateway   string `json:"gateway"`
}
