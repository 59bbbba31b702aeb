package boards

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// AdapterPrefix starts an I2C bus Device that names the kernel's I2C adapter rather than its device
// file: "i2c-adapter:CP2112 SMBus Bridge" is the /dev/i2c-N whose adapter name starts with
// "CP2112 SMBus Bridge". A USB bridge gets its number when it is plugged in, after the machine's own
// buses, so only its name is stable.
const AdapterPrefix = "i2c-adapter:"

// sysI2C is where the kernel lists I2C adapters (Documentation/ABI/testing/sysfs-bus-i2c), each
// i2c-N with a name file.
var sysI2C = "/sys/bus/i2c/devices"

// adapterDevice returns /dev/i2c-N for the adapter under sys whose name starts with prefix, the
// lowest N when several match, "" when none does.
func adapterDevice(sys, prefix string) (string, error) {
	dirs, err := filepath.Glob(filepath.Join(sys, "i2c-*"))
	if err != nil {
		return "", fmt.Errorf("list I2C adapters: %w", err)
	}
	var found []int
	for _, d := range dirs {
		var n int
		if _, err := fmt.Sscanf(filepath.Base(d), "i2c-%d", &n); err != nil {
			continue
		}
		name, err := os.ReadFile(filepath.Join(d, "name"))
		if err != nil {
			continue // a client device, not an adapter
		}
		if strings.HasPrefix(strings.TrimSpace(string(name)), prefix) {
			found = append(found, n)
		}
	}
	if len(found) == 0 {
		return "", nil
	}
	sort.Ints(found)
	return fmt.Sprintf("/dev/i2c-%d", found[0]), nil
}
