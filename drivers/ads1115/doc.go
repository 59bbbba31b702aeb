// Package ads1115 drives the Texas Instruments ADS1115 16 bit delta-sigma ADC over I²C, and an
// analog sound level meter read through it (NoiseMeter).
//
// Every Sample starts one single-shot conversion on the configured input, waits the conversion
// time, polls the OS bit until the conversion is done and reads the conversion register. Between
// samples the part powers down on its own.
//
// # Datasheets
//
// ADS1115: https://www.ti.com/lit/ds/symlink/ads1115.pdf (SBAS444)
//
// Quirks worth knowing:
//
//   - Four addresses, 0x48..0x4B, chosen by wiring ADDR to GND, VDD, SDA or SCL (section 9.5.1.1,
//     table 4).
//   - Registers are reached through a pointer byte: 0x00 conversion, 0x01 config (section 9.6,
//     table 6). Both are 16 bit, MSB first.
//   - Config bit 15 (OS) starts a single-shot conversion when written as 1 and reads 0 while a
//     conversion runs (section 9.6.3, table 8). The reset value 0x8583 is AIN0-AIN1, ±2.048 V,
//     single-shot, 128 SPS, comparator disabled.
//   - The PGA sets the full-scale range, not the supply: a single-ended input never goes below
//     ground and must stay under VDD + 0.3 V whatever the range (section 9.3.3). Codes 0x7FFF and
//     0x8000 mean the input is at or beyond full scale (section 9.3.3, table 3) and are reported as
//     ErrRange.
//   - The part has no id register: New reads the config register to prove something answers at the
//     address, and cannot tell an ADS1115 from an ADS1015 (12 bit, same map).
//   - The internal oscillator makes the data rate accurate to ±10 % only (electrical
//     characteristics), so the driver waits 10 % longer than 1/DR before polling.
package ads1115
