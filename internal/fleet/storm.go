package fleet

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// The reconnect storm: a broker restart under the connected fleet, attempts counted per second.

// storm restarts the broker with the fleet connected and follows the reconnections second by second,
// until every gateway is back (and 2 s more) or 2 × maxBackoff + 30 s. spread and maxBackoff are the
// gateways' cloud.reconnect.spread and max.
func storm(ctx context.Context, o Options, parts []part, b *Broker, spread, maxBackoff time.Duration) (*Storm, error) {
	st := &Storm{Limit: 0.05 * float64(o.N), BackLimit: 2 * maxBackoff, Spread: spread, Max: maxBackoff}
	totals := func() (attempts uint64, back int) {
		for _, p := range parts {
			s := p.latest()
			attempts += s.Attempts
			back += s.Back
		}
		return attempts, back
	}
	// Align to a second boundary, so the links' seconds are the broker log's.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	t0 := time.Now()
	first, _ := totals()
	if err := b.Stop(); err != nil {
		return nil, err
	}
	if err := b.Start(); err != nil {
		return nil, fmt.Errorf("fleet: storm: broker did not start again: %w", err)
	}
	st.Down = time.Since(t0)
	o.Log.Info("broker restarted", zap.Duration("down", st.Down))
	deadline := t0.Add(st.BackLimit + 30*time.Second)
	var allBack time.Duration
	for sec := 1; ; sec++ {
		time.Sleep(time.Until(t0.Add(time.Duration(sec) * time.Second)))
		for _, p := range parts {
			if err := p.failed(); err != nil {
				return nil, fmt.Errorf("fleet: storm: %w", err)
			}
		}
		attempts, back := totals()
		if o.Progress != nil {
			o.Progress(fmt.Sprintf("storm %3ds: %d attempts so far, %d of %d back", sec, attempts-first, back, o.N))
		}
		if back == o.N && allBack == 0 {
			allBack = time.Since(t0)
		}
		if (allBack != 0 && time.Since(t0) > allBack+2*time.Second) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
	}
	stormSeries(st, parts, t0)
	for _, a := range st.Attempts {
		st.PeakAttempt = max(st.PeakAttempt, a)
	}
	from := t0.Unix()
	var err error
	if st.BrokerTCP, st.BrokerConn, err = b.ConnectSeries(from, from+int64(len(st.Attempts))-1); err != nil {
		return nil, err
	}
	return st, nil
}

// stormSeries builds the per-second series from t0 out of every part's samples (each taken every
// 100 ms and stamped by the process that took it): each attempt goes into the second of t0 its link
// began it in (sample.AttemptsAt), so a starved process that reads its links late folds no seconds
// together, and a part's gateways back at the end of a second are those of its last sample in it (or
// before). The fleet is all back when its last part is.
func stormSeries(st *Storm, parts []part, t0 time.Time) {
	backs := make([][]int, len(parts))
	allBack := time.Duration(0)
	grow := func(sec int) {
		for len(st.Attempts) <= sec {
			st.Attempts = append(st.Attempts, 0)
		}
	}
	for k, p := range parts {
		h := p.history()
		before := 0 // back in the last sample before t0
		i := 0
		for ; i < len(h) && h[i].At.Before(t0); i++ {
			before = h[i].Back
		}
		for _, s := range h {
			for unix, n := range s.AttemptsAt {
				if sec := int(unix - t0.Unix()); sec >= 0 {
					grow(sec)
					st.Attempts[sec] += n
				}
			}
		}
		var back []int
		partBack := time.Duration(0)
		for _, s := range h[i:] {
			sec := int(s.At.Sub(t0) / time.Second)
			grow(sec)
			for len(back) <= sec {
				back = append(back, -1)
			}
			back[sec] = s.Back
			if s.Back == p.size() && partBack == 0 {
				partBack = s.At.Sub(t0)
			}
		}
		for j := range back { // a second with no sample keeps the count before it
			if back[j] < 0 {
				back[j] = before
			}
			before = back[j]
		}
		if len(back) == 0 {
			back = []int{before}
		}
		backs[k] = back
		if partBack == 0 || allBack < 0 {
			allBack = -1
		} else {
			allBack = max(allBack, partBack)
		}
	}
	st.Back = make([]int, len(st.Attempts))
	for _, back := range backs {
		last := 0
		for j := range st.Back {
			if j < len(back) {
				last = back[j]
			}
			st.Back[j] += last
		}
	}
	if allBack > 0 {
		st.AllBack = allBack
	}
}

// FilesPerGateway is what one virtual gateway keeps open (measured: 2,513 files at 500 gateways).
const FilesPerGateway = 5
