package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wayside-iot/wayside/drivers/registry"
	"github.com/wayside-iot/wayside/drivers/sensor"
)

// PinList returns the sensor's GPIO lines: pin, then pins.
func (s *Sensor) PinList() []string {
	if s.Pin == "" {
		return s.Pins
	}
	return append([]string{s.Pin}, s.Pins...)
}

// checkOptions decodes sensors[i].options over driver d's defaults, strictly: an unknown key, a value
// of the wrong type or one the driver's Validate refuses is an error naming its path and what is
// valid. On success the decoded options are in Opts.
func (c *Config) checkOptions(i int, d *registry.Driver) Errors {
	s := &c.Sensors[i]
	p := fmt.Sprintf("sensors[%d].options", i)
	n := &s.Options
	given := n.Kind != 0 && n.Tag != "!!null"
	if d.NewOptions == nil {
		if given && !(n.Kind == yaml.MappingNode && len(n.Content) == 0) {
			return Errors{{Path: p, Line: n.Line, Msg: fmt.Sprintf("driver %s takes no options; remove them", d.Name)}}
		}
		return nil
	}
	o := d.NewOptions()
	if given {
		if n.Kind != yaml.MappingNode {
			return Errors{{Path: p, Line: n.Line, Msg: "want a mapping of option names to values"}}
		}
		var errs Errors
		checkKeys(n, reflect.TypeOf(o), p, &errs)
		for _, e := range errs {
			if strings.HasPrefix(e.Msg, "unknown key") {
				if other := driversWithOption(e.Path[len(p)+1:], d.Name); len(other) > 0 {
					e.Msg = fmt.Sprintf("%s is an option of %s, not of %s; %s", e.Path[len(p)+1:],
						strings.Join(other, ", "), d.Name, strings.TrimPrefix(e.Msg, "unknown key; "))
				}
			}
		}
		if len(errs) > 0 {
			return errs
		}
		if err := n.Decode(o); err != nil {
			return Errors{{Path: p, Line: n.Line, Msg: err.Error()}}
		}
	}
	if err := o.Validate(); err != nil {
		var errs Errors
		for _, e := range flatten(err) {
			var fe *sensor.FieldError
			if errors.As(e, &fe) {
				errs = append(errs, &Error{Path: p + "." + fe.Field, Line: keyLine(n, fe.Field), Msg: fe.Msg})
			} else {
				errs = append(errs, &Error{Path: p, Line: n.Line, Msg: e.Error()})
			}
		}
		return errs
	}
	s.Opts = o
	return nil
}

// flatten lists the errors errors.Join put together.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// keyLine returns the line of the dotted key path in mapping n, or n's own line.
func keyLine(n *yaml.Node, path string) int {
	line := n.Line
	for _, k := range strings.Split(path, ".") {
		k, index, _ := strings.Cut(k, "[") // "registers[2]": key registers, then item 2
		if n.Kind != yaml.MappingNode {
			break
		}
		found := false
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == k {
				line, n, found = n.Content[j].Line, n.Content[j+1], true
				break
			}
		}
		if !found {
			break
		}
		if i, err := strconv.Atoi(strings.TrimSuffix(index, "]")); err == nil && n.Kind == yaml.SequenceNode && i >= 0 && i < len(n.Content) {
			n = n.Content[i]
			line = n.Line
		}
	}
	return line
}

// driversWithOption names the drivers other than except whose options have the top-level key.
func driversWithOption(key, except string) []string {
	key, _, _ = strings.Cut(key, ".")
	var out []string
	for _, d := range registry.All() {
		if d.Name == except || d.NewOptions == nil {
			continue
		}
		t := reflect.TypeOf(d.NewOptions())
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if _, ok := yamlKeys(t)[key]; ok {
			out = append(out, d.Name)
		}
	}
	return out
}

// checkPins checks a GPIO sensor's lines: as many as its driver needs with its options, each a line of
// the board, none twice.
func (c *Config) checkPins(i int, d *registry.Driver, knownBus BusChecker, add func(path, format string, a ...any)) {
	s := &c.Sensors[i]
	p := fmt.Sprintf("sensors[%d]", i)
	if s.Pin == "" {
		add(p+".pin", "missing; driver %s needs a GPIO line name such as GPIO17", s.Driver)
		return
	}
	pins := s.PinList()
	if s.Opts != nil || d.NewOptions == nil { // with bad options the count is unknown
		if want := d.LinesFor(s.Opts); len(pins) != want {
			if want == 1 {
				add(p+".pins", "driver %s with these options uses one GPIO line, pin; remove pins", s.Driver)
			} else {
				add(p+".pins", "driver %s with these options uses %d GPIO lines: pin and %d more in pins, e.g. pins: [GPIO27]", s.Driver, want, want-1)
			}
		}
	}
	for j, pin := range pins {
		path := p + ".pin"
		if j > 0 {
			path = fmt.Sprintf("%s.pins[%d]", p, j-1)
		}
		if slices.Index(pins, pin) < j {
			add(path, "%s is listed twice; each line is one detector", pin)
			continue
		}
		if knownBus != nil && c.Gateway.Board != "" {
			if ok, valid := knownBus(c.Gateway.Board, "gpio-line", pin); !ok && valid != nil {
				add(path, "board %s has no GPIO line %q; valid: %s", c.Gateway.Board, pin, strings.Join(valid, ", "))
			}
		}
	}
}

// checkSharedUARTs checks the UARTs of shared drivers (the slaves of one Modbus line): no other
// driver on them, and every sensor there with the first one's baud, parity and stop bits. Sensors
// whose options were refused are left out: their settings are unknown.
func (c *Config) checkSharedUARTs() Errors {
	var errs Errors
	type first struct {
		i int
		d *registry.Driver
	}
	seen := map[string]first{}
	for i := range c.Sensors {
		s := &c.Sensors[i]
		d, ok := registry.Lookup(s.Driver)
		if !ok || d.Bus != registry.UART || s.Bus == "" {
			continue
		}
		f, ok := seen[s.Bus]
		if !ok {
			seen[s.Bus] = first{i, d}
			continue
		}
		p := fmt.Sprintf("sensors[%d]", i)
		switch {
		case !d.Shared || !f.d.Shared || d != f.d:
			if d.Shared || f.d.Shared {
				errs = append(errs, &Error{Path: p + ".bus", Msg: fmt.Sprintf(
					"%s is already used by sensors[%d] (%s); a UART takes one part, or the slaves of one %s line and nothing else",
					s.Bus, f.i, c.Sensors[f.i].Driver, sharedName(d, f.d))})
			}
		case s.Opts != nil && c.Sensors[f.i].Opts != nil:
			want, got := d.Serial(c.Sensors[f.i].Opts), d.Serial(s.Opts)
			if want == got {
				continue
			}
			key := "baud"
			switch {
			case want.Baud != got.Baud:
			case want.Parity != got.Parity:
				key = "parity"
			default:
				key = "stop_bits"
			}
			errs = append(errs, &Error{Path: p + ".options." + key, Line: keyLine(&s.Options, key), Msg: fmt.Sprintf(
				"%s runs at %s for sensors[%d] (%s), this sensor asks for %s; every %s sensor on one bus needs the same baud, parity and stop_bits",
				s.Bus, want, f.i, c.Sensors[f.i].Name, got, d.Name)})
		}
	}
	return errs
}

func sharedName(a, b *registry.Driver) string {
	if a.Shared {
		return a.Name
	}
	return b.Name
}
