package gateway_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/cityopen"
	"github.com/wayside-iot/wayside/cloudsync/cosebatch"
	"github.com/wayside-iot/wayside/cloudsync/senml"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/internal/testkit/testbroker"
)

// runWithClock runs the gateway on a board whose wall clock is skew off until trustAfter (never when
// negative), and returns the readings the broker delivered and the real time span of the run.
func runWithClock(t *testing.T, hold string, trustAfter time.Duration) (rs []senml.Reading, begin, end time.Time, batches uint64) {
	return runWithClockSealed(t, hold, trustAfter, nil)
}

// runWithClockSealed is runWithClock with cloud.seal to city (nil: not sealed); every batch the
// broker delivers must then be sealed.
func runWithClockSealed(t *testing.T, hold string, trustAfter time.Duration, city *cityopen.CityKey) (rs []senml.Reading, begin, end time.Time, batches uint64) {
	t.Helper()
	broker := testbroker.Start(t)
	body := fmt.Sprintf(simConfig, broker.URL, t.TempDir()) + "clock: {trust: ntp, hold: " + hold + "}\n"
	var keys []cityopen.CityKey
	if city != nil {
		body = strings.Replace(body, "max_inflight: 16}", fmt.Sprintf("max_inflight: 16, seal: {suite: %s, kid: %s, public_key: %q}}",
			city.Suite.Name, city.KID, city.PublicKey()), 1)
		keys = append(keys, *city)
	}
	cfg := parseConfig(t, body)
	sub := subscribe(t, broker.URL, cfg.Gateway.ID)
	const skew = -10 * 365 * 24 * time.Hour // a board without RTC
	var trusted atomic.Bool
	g := newGateway(t, gateway.Options{Config: cfg, Version: "it", TrustClock: trusted.Load,
		Wall: func() time.Time {
			if trusted.Load() {
				return time.Now()
			}
			return time.Now().Add(skew)
		}})
	begin = time.Now()
	if trustAfter >= 0 {
		time.AfterFunc(trustAfter, func() { trusted.Store(true) }) // NTP steps the clock
	}
	runFor(t, g, 2500*time.Millisecond)
	end = time.Now()
	st := g.Stats()
	var got [][]byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, _ = sub.snapshot(); uint64(len(got)) >= st.Batches {
			break
		}
	}
	for _, b := range got {
		if city != nil && !cosebatch.IsSealed(b) {
			t.Fatalf("a batch reached the broker unsealed")
		}
		rs = append(rs, openBatch(t, cfg.Spool.Dir, b, keys...).Readings...)
	}
	if uint64(len(rs)) != st.Readings || uint64(len(got)) != st.Batches {
		t.Fatalf("received %d readings in %d batches, gateway took %d in %d", len(rs), len(got), st.Readings, st.Batches)
	}
	return rs, begin, end, st.Batches
}

// TestClockCorrection: readings taken before NTP synchronises the clock are held, then sent with
// corrected times, flagged; later readings carry no flag.
func TestClockCorrection(t *testing.T) {
	rs, begin, end, batches := runWithClock(t, "10m", time.Second)
	var corrected, plain int
	for _, r := range rs {
		ms := r.UnixMilli()
		if ms < begin.UnixMilli()-10 || ms > end.UnixMilli()+10 {
			t.Fatalf("%s at %v: outside the run %v..%v (flags %d)", r.Name, time.UnixMilli(ms), begin, end, r.Flags)
		}
		switch r.Flags {
		case buffer.FlagTimeCorrected:
			corrected++
		case 0:
			plain++
		default:
			t.Fatalf("%s: flags %d after the clock was trusted", r.Name, r.Flags)
		}
	}
	t.Logf("batches=%d readings=%d corrected=%d plain=%d", batches, len(rs), corrected, plain)
	// The grid: plain readings sit on whole multiples of their sensor's interval; corrected ones were
	// on the grid of the monotonic timeline, so one sensor's corrected readings share one offset from
	// the interval's multiples (the correction), to the millisecond of the stamps' truncation.
	intervals := map[string]int64{"env1": 50, "air1": 70, "co2": 100, "pm": 60, "noise": 40, "light": 90,
		"loop1": 30, "radar": 20, "bay1": 50, "gps": 200}
	residue := map[string]int64{}
	for _, r := range rs {
		s := strings.Split(r.Name, "/")[1]
		iv, ms := intervals[s], r.UnixMilli()
		switch r.Flags {
		case 0:
			if ms%iv != 0 {
				t.Errorf("%s at %d: off its %d ms grid", r.Name, ms, iv)
			}
		case buffer.FlagTimeCorrected:
			got := ((ms % iv) + iv) % iv
			if want, ok := residue[s]; ok && got != want && (got-want+iv)%iv > 1 && (want-got+iv)%iv > 1 {
				t.Errorf("%s at %d: corrected time %d ms past the grid, its sensor's others %d", r.Name, ms, got, want)
			}
			residue[s] = got
		}
	}
	if corrected == 0 || plain == 0 {
		t.Fatalf("corrected %d, plain %d: want both", corrected, plain)
	}
}

// TestClockCorrectionSealed: with cloud.seal, batches held for the clock wait in the spool signed,
// are corrected, signed again and sealed when sent; every batch reaches the broker sealed.
func TestClockCorrectionSealed(t *testing.T) {
	suite, _ := cosebatch.SuiteByName(cosebatch.DefaultSuite)
	city, err := cityopen.GenerateCityKey(suite, "city-a")
	if err != nil {
		t.Fatal(err)
	}
	rs, _, _, batches := runWithClockSealed(t, "10m", time.Second, &city)
	corrected := 0
	for _, r := range rs {
		if r.Flags == buffer.FlagTimeCorrected {
			corrected++
		} else if r.Flags != 0 {
			t.Fatalf("%s: flags %d", r.Name, r.Flags)
		}
	}
	if corrected == 0 || corrected == len(rs) {
		t.Fatalf("%d of %d readings corrected in %d batches: want some", corrected, len(rs), batches)
	}
}

// TestClockNeverTrusted: past clock.hold the batches go out as they are, flagged untrusted, stamped
// from the monotonic clock on the wrong wall time.
func TestClockNeverTrusted(t *testing.T) {
	rs, begin, _, _ := runWithClock(t, "1ms", -1)
	for _, r := range rs {
		if r.Flags != buffer.FlagClockUntrusted {
			t.Fatalf("%s: flags %d, want untrusted", r.Name, r.Flags)
		}
		if time.UnixMilli(r.UnixMilli()).After(begin.AddDate(-9, 0, 0)) {
			t.Fatalf("%s: time %v is not the skewed clock's", r.Name, time.UnixMilli(r.UnixMilli()))
		}
	}
	t.Logf("readings=%d all flagged untrusted", len(rs))
}
