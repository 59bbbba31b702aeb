package apitype

// The endpoint names, each served at Prefix + name: the server's handler table (package localapi)
// and the client's methods (package client) both use these, so a name is spelled once.
const (
	EndpointStatus     = "status"      // GET: Status
	EndpointSensors    = "sensors"     // GET: []Sensor
	EndpointCloud      = "cloud"       // GET: Cloud
	EndpointSpool      = "spool"       // GET: Spool
	EndpointTail       = "tail"        // GET: NDJSON stream of TailLine
	EndpointVersion    = "version"     // GET: Version
	EndpointLogLevel   = "log-level"   // GET and POST: LogLevel
	EndpointRead       = "read"        // POST: Read
	EndpointSelfTest   = "selftest"    // POST: SelfTest
	EndpointScanI2C    = "scan-i2c"    // POST: ScanI2C
	EndpointScanModbus = "scan-modbus" // POST: ScanModbus
)
