package vl53l0x

// The register map (named as in ST's API) and register access over I²C.

// Registers, named as in ST's API vl53l0x_device.h.
const (
	regSysrangeStart          = 0x00 // SYSRANGE_START: bit 0 starts a single-shot measurement.
	regSystemSequenceConfig   = 0x01 // SYSTEM_SEQUENCE_CONFIG
	regSystemInterruptConfig  = 0x0A // SYSTEM_INTERRUPT_CONFIG_GPIO
	regSystemInterruptClear   = 0x0B // SYSTEM_INTERRUPT_CLEAR
	regResultInterruptStatus  = 0x13 // RESULT_INTERRUPT_STATUS: bits 2:0 non-zero when done.
	regResultRangeStatus      = 0x14 // RESULT_RANGE_STATUS: start of the 12-byte result block.
	regFinalRangeMinCountRate = 0x44 // FINAL_RANGE_CONFIG_MIN_COUNT_RATE_RTN_LIMIT, 9.7 MCPS.
	regMSRCConfigControl      = 0x60 // MSRC_CONFIG_CONTROL
	regGPIOHVMuxActiveHigh    = 0x84 // GPIO_HV_MUX_ACTIVE_HIGH
	regI2CMode                = 0x88 // Private: 0x00 selects standard I²C mode (DataInit).
	regVHVConfigPadSCLSDA     = 0x89 // VHV_CONFIG_PAD_SCL_SDA__EXTSUP_HV: bit 0 is 2.8 V I/O.
	regStopVariable           = 0x91 // Private page: the stop variable (DataInit).
	regModelID                = 0xC0 // IDENTIFICATION_MODEL_ID
	regPowerManagement        = 0x80 // Private page select, with 0xFF.
	regPageSelect             = 0xFF

	modelID = 0xEE // IDENTIFICATION_MODEL_ID value for the VL53L0X.

	// SYSTEM_SEQUENCE_CONFIG after StaticInit: final range (bit 7), pre-range (bit 6), DSS (bit 3)
	// and bit 5 as ST sets it; TCC (bit 4) and MSRC (bit 2) off.
	sequenceDefault = 0xE8

	// RESULT_RANGE_STATUS bits 6:3 are the device range status (GetRangingMeasurementData); 11 is
	// the only one with a valid range (ST's VL53L0X_get_pal_range_status).
	statusValid = 11

	// 8190 and 8191 mm: "no target" (no return signal, or phase out of bounds).
	noTargetMM = 8190
)

func (d *Dev) readReg(reg byte) (byte, error) {
	d.w[0] = reg
	err := d.c.Tx(d.w[:1], d.r[:])
	return d.r[0], err
}

func (d *Dev) writeReg(reg, v byte) error {
	d.w[0], d.w[1] = reg, v
	return d.c.Tx(d.w[:2], nil)
}

// writeRegs writes register/value pairs, one transaction each, in order.
func (d *Dev) writeRegs(pairs ...byte) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := d.writeReg(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}
