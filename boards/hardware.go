package boards

import (
	"errors"
	"fmt"

	"github.com/wayside-iot/wayside/drivers/sensor"
	"periph.io/x/host/v3"
)

// hwBoard is a real board: periph's host drivers open its buses.
type hwBoard struct {
	p *Profile
}

func openHardware(p *Profile) (Board, error) {
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("boards: %s: initialise periph host drivers: %w", p.Name, err)
	}
	return &hwBoard{p: p}, nil
}

func (b *hwBoard) Profile() *Profile { return b.p }
func (b *hwBoard) Close() error      { return nil }

// errNoDriver is returned until the hardware drivers are wired to buses.
var errNoDriver = errors.New("hardware driver not wired on this board yet")

func (b *hwBoard) OpenSensor(s SensorSpec) (sensor.Sensor, error) {
	return nil, fmt.Errorf("boards: %s: sensor %s (%s on %s): %w", b.p.Name, s.Name, s.Driver, s.Bus, errNoDriver)
}
