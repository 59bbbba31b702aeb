package registry

import (
	"errors"
	"slices"
	"testing"

	"github.com/wayside-iot/wayside/drivers/sensor"
)

// TestTable: every entry is complete, names are unique, and a driver's defaults are valid.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range table {
		if seen[d.Name] {
			t.Errorf("driver %s listed twice", d.Name)
		}
		seen[d.Name] = true
		if err := d.check(); err != nil {
			t.Error(err)
		}
		if d.Part == "" {
			t.Errorf("driver %s: no Part description", d.Name)
		}
		if d.NewOptions != nil {
			o := d.NewOptions()
			if err := o.Validate(); err != nil && !onlyRequired(err, d.Required) {
				t.Errorf("driver %s: its defaults are not valid: %v", d.Name, err)
			} else if err == nil && len(d.Required) > 0 {
				t.Errorf("driver %s: its defaults are valid without %v: drop Required", d.Name, d.Required)
			}
			if o2 := d.NewOptions(); o2 == o {
				t.Errorf("driver %s: NewOptions returns a shared value; it must return a fresh copy", d.Name)
			}
		}
	}
}

// onlyRequired reports whether every error err joins is a FieldError for one of the keys.
func onlyRequired(err error, keys []string) bool {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var fe *sensor.FieldError
		if !errors.As(e, &fe) || !slices.Contains(keys, fe.Field) {
			return false
		}
	}
	return len(keys) > 0
}

func TestLookup(t *testing.T) {
	d, ok := Lookup("bme280")
	if !ok || d.Bus != I2C || d.Addr != 0x76 {
		t.Fatalf("bme280: %+v %v", d, ok)
	}
	if _, ok := Lookup("bme281"); ok {
		t.Fatal("unknown driver found")
	}
	// BME280 datasheet 5.2: 0x77 with SDO high; the BMP280 shares the addresses.
	var at []string
	for _, d := range AtAddress(0x77) {
		at = append(at, d.Name)
	}
	if len(at) != 2 || at[0] != "bme280" || at[1] != "bmp280" {
		t.Fatalf("at 0x77: %v", at)
	}
	var fe *sensor.FieldError
	if errors.As(errors.Join(sensor.Fieldf("unit", "bad")), &fe) && fe.Field != "unit" {
		t.Fatal(fe)
	}
}

// TestOptionsOfAnotherDriver: options of the wrong type are an error, never the defaults in disguise.
func TestOptionsOfAnotherDriver(t *testing.T) {
	d, _ := Lookup("bh1750")
	other, _ := Lookup("bme280")
	if _, err := d.OpenI2C(nil, 0x23, other.NewOptions()); err == nil {
		t.Fatal("bh1750 opened with bme280 options")
	}
}
