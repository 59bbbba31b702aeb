package localapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wayside-iot/wayside/drivers/modbus"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

// lineScanner is the part of the gateway a Modbus scan needs (gateway.Gateway has it).
type lineScanner interface {
	ScanLine(ctx context.Context, bus string, first, last int, timeout time.Duration) (gateway.LineScan, error)
}

// modbusScanTimeout is how long a scan waits for each address: a one-register answer is 7 bytes
// (8 ms at 9600 baud) plus the device's turnaround, which field devices keep well under it.
const modbusScanTimeout = 100 * time.Millisecond

// serveScanModbus asks the slave addresses of a Modbus line which answer.
func (s *Server) serveScanModbus(w http.ResponseWriter, r *http.Request) {
	bus := r.FormValue("bus")
	if bus == "" {
		writeError(w, http.StatusBadRequest, apitype.Error{Error: "missing ?bus=NAME, the UART of the RS-485 line (e.g. uart3)"})
		return
	}
	first, last := 1, 247
	for _, q := range []struct {
		key string
		v   *int
	}{{"first", &first}, {"last", &last}} {
		if t := r.FormValue(q.key); t != "" {
			n, err := strconv.Atoi(t)
			if err != nil || n < 1 || n > 247 {
				writeError(w, http.StatusBadRequest, apitype.Error{Error: fmt.Sprintf("%s=%q is not a slave address 1..247", q.key, t)})
				return
			}
			*q.v = n
		}
	}
	if first > last {
		writeError(w, http.StatusBadRequest, apitype.Error{Error: fmt.Sprintf("first %d is after last %d", first, last)})
		return
	}
	gw, ok := s.gw.(lineScanner)
	if !ok {
		writeError(w, http.StatusNotImplemented, apitype.Error{Error: "this daemon cannot scan lines"})
		return
	}
	start := time.Now()
	res, err := gw.ScanLine(r.Context(), bus, first, last, modbusScanTimeout)
	switch {
	case errors.Is(err, gateway.ErrNoLine):
		writeError(w, http.StatusNotFound, apitype.Error{Error: err.Error()})
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, apitype.Error{Error: fmt.Sprintf("scan of %s ended early: %v", bus, err)})
		return
	}
	out := apitype.ScanModbus{Board: s.cfg.Gateway.Board, Bus: bus, Via: res.Via, First: first, Last: last,
		TimeoutMs: float64(modbusScanTimeout) / float64(time.Millisecond), Slaves: []apitype.ModbusSlave{}}
	for _, a := range res.Answers {
		sl := apitype.ModbusSlave{Slave: a.Address, Note: a.Note}
		for _, sc := range s.cfg.Sensors {
			if o, ok := sc.Opts.(*modbus.Options); ok && sc.Bus == bus && o.Slave == a.Address {
				sl.Sensors = append(sl.Sensors, sc.Name)
			}
		}
		out.Slaves = append(out.Slaves, sl)
	}
	out.TookMs = float64(time.Since(start)) / float64(time.Millisecond)
	writeJSON(w, http.StatusOK, out)
}
