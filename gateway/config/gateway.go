package config

import (
	"strings"

	"github.com/wayside-iot/wayside/internal/ident"
)

// Gateway identifies this gateway and the board it runs on.
type Gateway struct {
	// ID names the gateway in topics and as the SenML base name. AutoID ("auto") derives it from the
	// board's machine id; Parse replaces it with the result.
	ID string `yaml:"id"`
	// IDSource is the machine id file an auto ID was derived from, empty for an explicit ID.
	IDSource string `yaml:"-"`
	// Board is a board profile name (see package boards).
	Board string `yaml:"board"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
}

// Sim configures the simulated board.
type Sim struct {
	// Seed makes the simulated values reproducible.
	Seed uint64 `yaml:"seed"`
}

// validateGateway checks the gateway section: the id, the board (against knownBus when given) and
// the log level.
func (c *Config) validateGateway(v *problems, knownBus BusChecker) {
	if c.Gateway.ID == "" {
		v.add("gateway.id", "missing; set a unique name such as gw-0001 (letters, digits, '-', '_', '.'), or auto to derive one from the board's machine id")
	} else if strings.EqualFold(c.Gateway.ID, AutoID) {
		// resolveAutoID failed, or refused the spelling, and said why
	} else if !ident.Valid(c.Gateway.ID) {
		v.add("gateway.id", "%q is not valid: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit (it appears in MQTT topics and SenML names)", c.Gateway.ID)
	}
	if c.Gateway.Board == "" {
		v.add("gateway.board", "missing; set one of rpi4, rpi5, beaglebone-black, sim")
	} else if knownBus != nil {
		if ok, valid := knownBus(c.Gateway.Board, "", ""); !ok {
			v.add("gateway.board", "unknown board %q; valid: %s", c.Gateway.Board, strings.Join(valid, ", "))
		}
	}
	switch c.Gateway.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.add("gateway.log_level", "%q is not valid; use debug, info, warn or error", c.Gateway.LogLevel)
	}
}
