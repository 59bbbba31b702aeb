package fleet

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
)

// Splitting a fleet over processes: how many, which gateways each, and their open and stop.

// processes is how many processes hold n gateways: procs when set, else one when n fits this process's
// open-file limit, else the fewest that fit. It fails when a process would hold more than fit.
func processes(n, procs int, limit uint64) (int, error) {
	perProc := n // what one process holds; limit 0: unknown, so no bound
	if limit > 256 {
		perProc = int((limit - 256) / FilesPerGateway)
	}
	if procs <= 0 {
		procs = 1
		if perProc > 0 && n > perProc {
			procs = (n + perProc - 1) / perProc
		}
	}
	if procs > n {
		return 0, fmt.Errorf("fleet: %d processes for %d gateways: at most one process a gateway", procs, n)
	}
	largest := (n + procs - 1) / procs
	if need := uint64(largest)*FilesPerGateway + 256; limit > 0 && need > limit {
		return 0, fmt.Errorf("fleet: %d gateways in a process need about %d open files (%d each: the MQTT socket, the state "+
			"directory's lock, the spool's segment and acknowledgements, the command replay cache), and a process "+
			"may open %d (RLIMIT_NOFILE, hard limit); run at most %d a process (more processes: -procs 0 picks "+
			"the fewest that fit), or raise the hard limit (ulimit -Hn as root)",
			largest, need, FilesPerGateway, limit, perProc)
	}
	return procs, nil
}

// openParts opens the fleet: in this process when procs is 1, else in procs member processes, the
// first N mod procs of them one gateway more than the others, all opening at once.
func openParts(o Options, procs int, url, dir, sensors string, cityPub ed25519.PublicKey) ([]part, error) {
	if procs == 1 {
		p, err := openLocal(o, 0, o.N, url, dir, sensors, cityPub)
		if err != nil {
			return nil, err
		}
		return []part{p}, nil
	}
	sp := spec{URL: url, Dir: dir, Sensors: sensors, CityKey: cityPub, ReconnectMin: o.ReconnectMin,
		ReconnectSpread: o.ReconnectSpread, ReconnectMax: o.ReconnectMax, Poll: o.Poll,
		RingCapacity: o.RingCapacity, OpenParallel: o.OpenParallel}
	var cs []*childPart
	fail := func(err error) ([]part, error) {
		for _, c := range cs {
			c.kill()
		}
		return nil, err
	}
	first := 0
	for k := range procs {
		n := o.N / procs
		if k < o.N%procs {
			n++
		}
		c, err := startChild(k+1, first, n, sp)
		if err != nil {
			return fail(err)
		}
		cs = append(cs, c)
		first += n
	}
	parts := make([]part, len(cs))
	for k, c := range cs {
		if err := c.awaitOpened(); err != nil {
			return fail(err)
		}
		parts[k] = c
	}
	return parts, nil
}

// stopParts stops every part at once and returns their reports in order; it fails when one could not
// report (its process died or hung), naming each such part.
func stopParts(parts []part) ([]stopReport, error) {
	reports := make([]stopReport, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for k, p := range parts {
		wg.Go(func() { reports[k], errs[k] = p.stop() })
	}
	wg.Wait()
	return reports, errors.Join(errs...)
}
