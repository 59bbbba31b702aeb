package vl53l0x

import "periph.io/x/conn/v3/physic"

// Occupancy: the bay's state derived from the distance, with hysteresis and confirmation.

// Occupied returns the occupancy state; false before the first Sample.
func (d *Dev) Occupied() bool { return d.occupied }

// update moves the occupancy state machine with one distance.
func (d *Dev) update(dist physic.Distance) {
	side := 0 // +1 occupied side of the band, -1 free side, 0 inside.
	switch {
	case dist < d.opts.OccupiedBelow:
		side = 1
	case dist > d.opts.FreeAbove:
		side = -1
	}
	if !d.known {
		// First sample: decide at once, the nearer edge of the band when inside it.
		if side == 0 && dist-d.opts.OccupiedBelow <= d.opts.FreeAbove-dist {
			side = 1
		}
		d.occupied, d.known = side > 0, true
		return
	}
	if side == 0 || (side > 0) == d.occupied {
		d.streak = 0
		return
	}
	if d.streak++; d.streak >= d.opts.Confirm {
		d.occupied, d.streak = !d.occupied, 0
	}
}
