package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

// cmdStatus is the status screen; the one-line summaries of the clock, cloud link, ring and spool
// below it are shared with other commands.
func (a *App) cmdStatus(ctx context.Context, _ *cmdOpts, args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	st, raw, err := call(ctx, a, a.cl.Status)
	if err != nil {
		return err
	}
	if a.json {
		err = a.printJSON(raw)
	} else {
		err = a.printStatus(st)
	}
	if err == nil && len(st.Problems) > 0 {
		return &exitError{ExitFailure} // monitoring scripts: 0 healthy, 1 with problems listed
	}
	return err
}

func (a *App) printStatus(st *apitype.Status) error {
	p, w, now := a.paint, a.Stdout, a.now()
	model := st.Board
	if st.BoardModel != "" {
		model = fmt.Sprintf("%s (%s)", st.Board, st.BoardModel)
	}
	id := p.paint(bold, st.Gateway)
	if st.GatewayIDFrom != "" {
		id += " (auto, from " + st.GatewayIDFrom + ")"
	}
	fmt.Fprintf(w, "%s  %s, waysided %s\n", id, model, st.Version)
	if len(st.Problems) == 0 {
		fmt.Fprintf(w, "%s no problems found\n", p.paint(green, "OK"))
	} else {
		fmt.Fprintf(w, "%s\n", p.paint(red, fmt.Sprintf("PROBLEMS (%d)", len(st.Problems))))
		for _, pr := range st.Problems {
			fmt.Fprintf(w, "  %s %s\n", p.paint(red, "!"), pr)
		}
	}
	fmt.Fprintln(w)
	var k kv
	k.add("Uptime", "%s (since %s), boot %s", humanDuration(time.Duration(st.UptimeS*float64(time.Second))),
		st.Started.UTC().Format("2006-01-02 15:04:05 MST"), short(st.BootID))
	k.add("Clock", "%s, %s", clockLine(p, &st.Clock), st.Clock.Now.UTC().Format("2006-01-02 15:04:05 MST"))
	k.add("Cloud", "%s", cloudLine(p, &st.Cloud))
	k.add("Readings", "%s taken, %s spooled in %s batches", count(st.Pipeline.Readings), count(st.Pipeline.Spooled), count(st.Pipeline.Batches))
	k.add("Ring", "%s", ringLine(p, &st.Ring))
	k.add("Spool", "%s", spoolLine(p, &st.Spool))
	k.add("Log level", "%s", st.LogLevel)
	k.add("Config", "%s", st.ConfigHash)
	if st.Key != nil {
		k.add("Gateway key", "%s (kid %s; register it with the city)", st.Key.PublicKey, st.Key.KeyID)
	}
	if st.SealKID != "" {
		k.add("Sealing", "to city key %s", st.SealKID)
	} else {
		k.add("Sealing", "off (batches signed, readable by the broker; see cloud.seal)")
	}
	if err := k.write(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return a.sensorTable(st.Sensors, now, false)
}

// clockLine is the gateway's clock trust as the MQTT status carries it.
func clockLine(p painter, c *apitype.Clock) string {
	if !c.Trusted {
		return p.paint(red, "not trusted") + " (stamping from the monotonic clock; policy " + c.Trust + ")"
	}
	s := p.state("trusted") + " (policy " + c.Trust
	if c.CorrectionMs != 0 {
		s += "; earlier readings corrected by " + ms(c.CorrectionMs).String()
	}
	return s + ")"
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func cloudLine(p painter, c *apitype.Cloud) string {
	broker := c.Broker
	if broker == "" {
		broker = strings.Join(c.Brokers, ", ")
	}
	state := p.state("connected")
	if !c.Connected {
		state = p.state("disconnected")
	}
	s := fmt.Sprintf("%s %s; %s batches published, %s acked, %s failed, %d in flight",
		state, broker, count(c.Published), count(c.Acked), count(c.Failed), c.Inflight)
	if c.LastAckRTTMs > 0 {
		s += ", last ack " + humanDuration(ms(c.LastAckRTTMs))
	}
	return s
}

func ringLine(p painter, r *apitype.Ring) string {
	dropped := count(r.Dropped) + " dropped"
	if r.Dropped > 0 {
		dropped = p.paint(red, dropped)
	}
	return fmt.Sprintf("%s of %s readings (%.1f%%), %s", count(uint64(r.Len)), count(uint64(r.Cap)), r.Fill*100, dropped)
}

// limitOf is what the spool may hold: the disk's room when less than the quota (older daemons send
// no limit).
func limitOf(s *apitype.Spool) int64 {
	if s.LimitBytes > 0 {
		return s.LimitBytes
	}
	return s.QuotaBytes
}

func spoolLine(p painter, s *apitype.Spool) string {
	waiting := "nothing waiting"
	if s.Backlog > 0 {
		waiting = fmt.Sprintf("%s batches waiting (%s not sent yet)", count(uint64(s.Backlog)), count(uint64(s.Unsent)))
	}
	line := fmt.Sprintf("%s, %s of %s on disk (%.1f%%)", waiting, humanBytes(uint64(s.Bytes)),
		humanBytes(uint64(limitOf(s))), s.Fill*100)
	if s.LimitBytes > 0 && s.LimitBytes < s.QuotaBytes {
		line += " (the disk's room, below the " + humanBytes(uint64(s.QuotaBytes)) + " quota)"
	}
	if lost := s.Evicted + s.Lost; lost > 0 {
		line += ", " + p.paint(red, count(lost)+" batches lost")
	}
	if !s.DirWritable {
		line += "; state dir " + p.state("not writable")
	}
	if s.NextSeq > 0 {
		line += ", next seq " + strconv.FormatUint(s.NextSeq, 10)
	}
	return line
}
