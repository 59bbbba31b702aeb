package vl53l0x

import (
	"fmt"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// The part's initialisation: ST's DataInit, StaticInit and reference calibration, reduced to the
// steps listed in the package documentation.

// init runs the minimal initialisation listed in the package documentation.
func (d *Dev) init() error {
	// 1. Model id (DataInit checks it through VL53L0X_GetDeviceInfo).
	id, err := d.readReg(regModelID)
	if err != nil {
		return sensor.BusErr("vl53l0x", "read model id", err)
	}
	if id != modelID {
		return fmt.Errorf("vl53l0x: model id %#02x, want %#02x: not a VL53L0X: %w", id, modelID, sensor.ErrFrame)
	}
	// 2. DataInit: 2.8 V I/O when the board needs it.
	if d.opts.IO2V8 {
		v, err := d.readReg(regVHVConfigPadSCLSDA)
		if err != nil {
			return sensor.BusErr("vl53l0x", "read VHV config", err)
		}
		if err := d.writeReg(regVHVConfigPadSCLSDA, v|0x01); err != nil {
			return sensor.BusErr("vl53l0x", "set 2V8 I/O", err)
		}
	}
	// 3. DataInit: standard I²C mode.
	if err := d.writeReg(regI2CMode, 0x00); err != nil {
		return sensor.BusErr("vl53l0x", "set I2C mode", err)
	}
	// 4. DataInit: read the stop variable from the private page.
	if err := d.writeRegs(regPowerManagement, 0x01, regPageSelect, 0x01, regSysrangeStart, 0x00); err != nil {
		return sensor.BusErr("vl53l0x", "open private page", err)
	}
	if d.stopVariable, err = d.readReg(regStopVariable); err != nil {
		return sensor.BusErr("vl53l0x", "read stop variable", err)
	}
	if err := d.writeRegs(regSysrangeStart, 0x01, regPageSelect, 0x00, regPowerManagement, 0x00); err != nil {
		return sensor.BusErr("vl53l0x", "close private page", err)
	}
	// 5. DataInit: disable the MSRC and pre-range signal rate limit checks.
	v, err := d.readReg(regMSRCConfigControl)
	if err != nil {
		return sensor.BusErr("vl53l0x", "read MSRC config", err)
	}
	if err := d.writeReg(regMSRCConfigControl, v|0x12); err != nil {
		return sensor.BusErr("vl53l0x", "write MSRC config", err)
	}
	// 6. DataInit: final range signal rate limit 0.25 MCPS in 9.7 fixed point.
	d.w = [3]byte{regFinalRangeMinCountRate, 0x00, 0x20}
	if err := d.c.Tx(d.w[:3], nil); err != nil {
		return sensor.BusErr("vl53l0x", "set signal rate limit", err)
	}
	// 7. StaticInit: interrupt on new sample ready, active low, cleared.
	if err := d.writeReg(regSystemInterruptConfig, 0x04); err != nil {
		return sensor.BusErr("vl53l0x", "configure interrupt", err)
	}
	if v, err = d.readReg(regGPIOHVMuxActiveHigh); err != nil {
		return sensor.BusErr("vl53l0x", "read GPIO polarity", err)
	}
	if err := d.writeReg(regGPIOHVMuxActiveHigh, v&^0x10); err != nil {
		return sensor.BusErr("vl53l0x", "set GPIO polarity", err)
	}
	if err := d.writeReg(regSystemInterruptClear, 0x01); err != nil {
		return sensor.BusErr("vl53l0x", "clear interrupt", err)
	}
	// 8. StaticInit: sequence steps.
	if err := d.writeReg(regSystemSequenceConfig, sequenceDefault); err != nil {
		return sensor.BusErr("vl53l0x", "set sequence", err)
	}
	// 9. PerformRefCalibration: VHV then phase calibration, then the default sequence again.
	if err := d.refCalibration("VHV", 0x01, 0x40); err != nil {
		return err
	}
	if err := d.refCalibration("phase", 0x02, 0x00); err != nil {
		return err
	}
	if err := d.writeReg(regSystemSequenceConfig, sequenceDefault); err != nil {
		return sensor.BusErr("vl53l0x", "restore sequence", err)
	}
	return nil
}

// refCalibration runs one reference calibration (VL53L0X_perform_single_ref_calibration):
// select the sequence step, start with the calibration's init byte, wait, clear, stop.
func (d *Dev) refCalibration(what string, sequence, initByte byte) error {
	if err := d.writeReg(regSystemSequenceConfig, sequence); err != nil {
		return sensor.BusErr("vl53l0x", what+" calibration: set sequence", err)
	}
	if err := d.writeReg(regSysrangeStart, 0x01|initByte); err != nil {
		return sensor.BusErr("vl53l0x", what+" calibration: start", err)
	}
	left := d.polls
	if err := d.wait(&left); err != nil {
		_ = d.writeReg(regSysrangeStart, 0x00) // best effort: New fails either way
		return fmt.Errorf("vl53l0x: %s calibration: %w", what, err)
	}
	if err := d.writeReg(regSystemInterruptClear, 0x01); err != nil {
		return sensor.BusErr("vl53l0x", what+" calibration: clear interrupt", err)
	}
	if err := d.writeReg(regSysrangeStart, 0x00); err != nil {
		return sensor.BusErr("vl53l0x", what+" calibration: stop", err)
	}
	return nil
}
