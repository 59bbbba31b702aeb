package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

// cmdScanModbus lists the slave addresses that answer on the RS-485 line of a UART's Modbus sensors.
func (a *App) cmdScanModbus(ctx context.Context, args []string) error {
	const usage = "usage: wayside scan modbus BUS [FIRST-LAST], e.g. wayside scan modbus uart3 1-20"
	if len(args) < 1 || len(args) > 2 {
		return usagef("%s", usage)
	}
	first, last := 0, 0
	if len(args) == 2 {
		f, l, ok := strings.Cut(args[1], "-")
		var err1, err2 error
		first, err1 = strconv.Atoi(f)
		last, err2 = strconv.Atoi(l)
		if !ok || err1 != nil || err2 != nil || first < 1 || last > 247 || first > last {
			return usagef("%q is not a range of slave addresses within 1-247; %s", args[1], usage)
		}
	}
	// Each silent address costs the daemon's 100 ms per-address wait: 1-247 takes up to 25 s.
	a.timeout = max(a.timeout, time.Minute)
	sc, done, err := ask(ctx, a, func(ctx context.Context) (*apitype.ScanModbus, error) {
		return a.cl.ScanModbus(ctx, args[0], first, last)
	})
	if done || err != nil {
		return err
	}
	w := a.Stdout
	fmt.Fprintf(w, "%s (slaves %d-%d, through sensor %s, %.0f ms per address): %d answered in %s\n",
		a.paint.paint(bold, sc.Bus), sc.First, sc.Last, sc.Via, sc.TimeoutMs, len(sc.Slaves),
		humanDuration(time.Duration(sc.TookMs*float64(time.Millisecond))))
	if len(sc.Slaves) == 0 {
		return nil
	}
	t := &table{header: []string{"SLAVE", "ANSWER", "CONFIGURED"}}
	for _, s := range sc.Slaves {
		answer := "data"
		if s.Note != "" {
			answer = truncate(s.Note, 70)
		}
		conf := "-"
		if len(s.Sensors) > 0 {
			conf = strings.Join(s.Sensors, ", ")
		}
		t.add(strconv.Itoa(s.Slave), answer, conf)
	}
	return t.write(w, a.paint)
}
