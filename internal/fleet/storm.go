package fleet

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// The reconnect storm: a broker restart under the connected fleet, attempts counted per second.

func connectedCount(ms []*member) int {
	n := 0
	for _, m := range ms {
		if m.g.LinkStats().Connected {
			n++
		}
	}
	return n
}

// storm restarts the broker with the fleet connected and follows the reconnections second by second.
func storm(ctx context.Context, o Options, ms []*member, b *Broker) (*Storm, error) {
	cfgMax, cfgSpread := o.ReconnectMax, o.ReconnectSpread
	if cfgMax == 0 {
		cfgMax = 2 * time.Minute
	}
	if cfgSpread == 0 {
		cfgSpread = min(30*time.Second, cfgMax)
	}
	st := &Storm{Limit: 0.05 * float64(o.N), BackLimit: 2 * cfgMax, Spread: cfgSpread, Max: cfgMax}
	attempts := func() (sum uint64, back int) {
		for _, m := range ms {
			ls := m.g.LinkStats()
			sum += ls.Attempts
			if ls.Connected && ls.Connects >= 2 {
				back++
			}
		}
		return sum, back
	}
	// Align to a second boundary, so the links' seconds are the broker log's.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	t0 := time.Now()
	// A sampler reads the links' counters every 100 ms from t0 on, through the broker's stop and
	// start, and puts each increase into the second of t0 it was seen in: a loop that sampled once a
	// second after Stop and Start returned would fold the broker's downtime into its first second, and
	// a late tick on a loaded machine would fold two seconds into one.
	type sample struct {
		at       time.Duration
		attempts uint64
		back     int
	}
	var (
		smu     sync.Mutex
		samples []sample
	)
	first, _ := attempts()
	samplerDone := make(chan struct{})
	stopSampler := make(chan struct{})
	go func() {
		defer close(samplerDone)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampler:
				return
			case <-t.C:
			}
			a, back := attempts()
			smu.Lock()
			samples = append(samples, sample{time.Since(t0), a, back})
			smu.Unlock()
		}
	}()
	if err := b.Stop(); err != nil {
		close(stopSampler)
		return nil, err
	}
	if err := b.Start(); err != nil {
		close(stopSampler)
		return nil, fmt.Errorf("fleet: storm: broker did not start again: %w", err)
	}
	st.Down = time.Since(t0)
	o.Log.Info("broker restarted", zap.Duration("down", st.Down))
	deadline := t0.Add(st.BackLimit + 30*time.Second)
	for sec := 1; ; sec++ {
		time.Sleep(time.Until(t0.Add(time.Duration(sec) * time.Second)))
		smu.Lock()
		var last sample
		if len(samples) > 0 {
			last = samples[len(samples)-1]
		}
		smu.Unlock()
		if o.Progress != nil {
			o.Progress(fmt.Sprintf("storm %3ds: %d attempts so far, %d of %d back", sec, last.attempts-first, last.back, o.N))
		}
		if last.back == o.N && st.AllBack == 0 {
			st.AllBack = last.at
		}
		if (st.AllBack != 0 && time.Since(t0) > st.AllBack+2*time.Second) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
	}
	close(stopSampler)
	<-samplerDone
	prev := first
	for _, sm := range samples {
		sec := int(sm.at / time.Second)
		for len(st.Attempts) <= sec {
			st.Attempts = append(st.Attempts, 0)
			st.Back = append(st.Back, 0)
		}
		st.Attempts[sec] += int(sm.attempts - prev)
		st.Back[sec] = sm.back
		prev = sm.attempts
	}
	for i := 1; i < len(st.Back); i++ { // a second with no sample keeps the count before it
		st.Back[i] = max(st.Back[i], st.Back[i-1])
	}
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

// FilesPerGateway is what one virtual gateway keeps open (measured: 2,513 files at 500 gateways).
const FilesPerGateway = 5
