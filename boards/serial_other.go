//go:build !linux

package boards

import (
	"fmt"
	"os"
)

// openSerial is only implemented on Linux, where the boards run.
func openSerial(dev string, baud int) (*os.File, error) {
	return nil, fmt.Errorf("UARTs are only supported on Linux; configure %s with `stty -F %s %d raw -echo` there", dev, dev, baud)
}
