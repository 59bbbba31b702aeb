package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// AutoID is the gateway.id value that asks for an id derived from the board's machine id, so that one
// configuration file can be installed on many boards.
const AutoID = "auto"

// MachineIDFiles are where an AutoID comes from: the first of them that exists is used, systemd's
// machine id, else the D-Bus copy that older images keep. One that exists but is empty or not an id
// (an image prepared for first boot, or a read-only root where systemd makes a new id at every boot)
// is an error, not a reason to look further. Tests point it elsewhere.
var MachineIDFiles = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}

// autoIDApp is Wayside's application id for deriving from the machine id. machine-id(5) asks that the
// machine id itself never leave the machine: like sd_id128_get_machine_app_specific(3), the gateway id
// is an HMAC-SHA256 of this id keyed with the machine id, so it is stable for the board but reveals
// nothing of the machine id. Changing this constant renames every auto gateway: never do.
var autoIDApp = [16]byte{0x7f, 0x3c, 0x9d, 0x2e, 0x5b, 0x1a, 0x4e, 0x8f, 0x9c, 0x60, 0x2d, 0x4b, 0x8a, 0x1e, 0x0f, 0x35}

// machineGatewayID returns "gw-" and 12 hex digits derived from the first machine id file that exists,
// and that file's path.
func machineGatewayID() (id, source string, err error) {
	for _, path := range MachineIDFiles {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", path, fmt.Errorf("read %s: %w", path, err)
		}
		raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(raw) != 16 || string(raw) == string(make([]byte, 16)) {
			return "", path, fmt.Errorf("%s does not hold a machine id (32 hex digits, not all zero)", path)
		}
		mac := hmac.New(sha256.New, raw)
		mac.Write(autoIDApp[:])
		return "gw-" + hex.EncodeToString(mac.Sum(nil)[:6]), path, nil
	}
	return "", "", fmt.Errorf("no machine id: none of %s exists", strings.Join(MachineIDFiles, ", "))
}

// resolveAutoID replaces gateway.id auto with the board's derived id and notes where it came from.
func (c *Config) resolveAutoID() Errors {
	if c.Gateway.ID != AutoID {
		if strings.EqualFold(c.Gateway.ID, AutoID) {
			return Errors{{Path: "gateway.id", Msg: fmt.Sprintf("%q: write auto in lower case to derive the id from the machine id, or choose another name", c.Gateway.ID)}}
		}
		return nil
	}
	id, source, err := machineGatewayID()
	if err != nil {
		return Errors{{Path: "gateway.id", Msg: "auto: " + err.Error() +
			"; create one with systemd-machine-id-setup, or set an explicit id such as gw-0001"}}
	}
	c.Gateway.ID, c.Gateway.IDSource = id, source
	return nil
}

// IDText is the gateway id as a technician should see it: an auto id says where it came from.
func (g Gateway) IDText() string {
	if g.IDSource == "" {
		return g.ID
	}
	return g.ID + " (auto, from " + g.IDSource + ")"
}
