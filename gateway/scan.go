package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// ErrNoLine is returned by ScanLine for a bus no configured sensor reaches as a shared line.
var ErrNoLine = errors.New("no scannable line")

// LineScan is the result of ScanLine.
type LineScan struct {
	Bus     string
	Driver  string // the driver of the sensors on the line, "modbus"
	Via     string // the sensor whose line was scanned
	Answers []sensor.LineAnswer
}

// ScanLine asks addresses first..last of the shared line on bus (the RS-485 line of Modbus sensors)
// who answers, through one of its configured sensors, so the scan uses their line settings and takes
// turns with their sampling. Each silent address costs timeout; ctx ends the scan early.
func (g *Gateway) ScanLine(ctx context.Context, bus string, first, last int, timeout time.Duration) (LineScan, error) {
	for i, s := range g.sensors { // g.sensors is in the configuration's order
		ls, ok := s.dev.(sensor.LineScanner)
		if d, shared := registry.Lookup(s.driver); !ok || !shared || !d.Shared || g.cfg.Sensors[i].Bus != bus {
			continue // the sim board's sensors all have ScanLine; only a shared line's driver scans
		}
		g.log.Info("scanning line", zap.String("bus", bus), zap.String("via", s.name), zap.Int("first", first), zap.Int("last", last))
		answers := ls.ScanLine(first, last, timeout, ctx.Done())
		return LineScan{Bus: bus, Driver: s.driver, Via: s.name, Answers: answers}, ctx.Err()
	}
	return LineScan{}, fmt.Errorf("gateway: %w on %s: no Modbus sensor is configured there, and the scan uses their line settings; add one (any register) to the configuration", ErrNoLine, bus)
}
