// Package localapi is waysided's local API: HTTP and JSON on a unix socket, for the technician CLI
// (wayside) and for curl:
//
//	curl --unix-socket /run/wayside/local.sock http://local/localapi/v0/status
//	curl --unix-socket /run/wayside/local.sock -X POST 'http://local/localapi/v0/read?sensor=env1'
//
// Endpoints live under /localapi/v0/<name> ("v0": the API may still change), in one map from name to
// handler (see handlers.go). What they show comes from the gateway's Stats, translated to the wire
// types of apitype in translate.go; problems.go decides which states need a technician. GET endpoints
// only read state:
//
//	status      gateway, clock, cloud link, ring, spool, sensor health and a list of problems
//	sensors     the sensor health table
//	cloud       the MQTT link
//	spool       the disk spool (backlog, quota, losses, fsyncs), the state directory, sequence numbers
//	tail        NDJSON stream of readings (?sensor=A&sensor=B to filter) until the client goes
//	log-level   the daemon's log level
//	version     the daemon's version
//
// POST endpoints are actions:
//
//	read        ?sensor=NAME: read one sensor now, outside its schedule (not published, not counted
//	            in its health). POST because it touches the bus and waits for the sampler's lock.
//	selftest    read every sensor once, check the broker connection, the state directory, the clock
//	scan-i2c    ?bus=NAME (optional): which addresses answer on the I2C buses (sim board only so far)
//	scan-modbus ?bus=NAME[&first=N&last=N]: which Modbus slave addresses answer on the RS-485 line of
//	            the Modbus sensors on that UART (through their driver, with their line settings)
//	log-level   ?level=debug|info|warn|error: change the log level until the next restart
//
// Access is decided per connection from the peer's credentials (SO_PEERCRED). Whoever can open the
// socket may GET; the file mode decides that (0660 and the configured local_api.group, or 0600 without
// one). Actions (POST) need root, the daemon's own user, or a member of local_api.group; others get
// 403. Requests carrying an Origin or Referer header come from a web browser and are always refused
// (403), so a web page cannot reach the API through some local proxy.
package localapi
