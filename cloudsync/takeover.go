package cloudsync

import (
	"fmt"
	"time"

	"go.uber.org/zap"
)

// TakeoverPolicy detects a session takeover loop: two gateways configured with the same client id
// kick each other off the broker forever, each reconnect closing the other's session. When Count
// sessions in a row, within Window, were closed by the broker less than Short after they began, with
// no failed connection round between them, the link stops fighting: it logs an error naming the client
// id and stays away for Hold before trying again; Stats and the status message say so.
//
// A broker restarting also closes short sessions, and from one client the loss looks the same: MQTT
// 3.1.1 has no reason code for a takeover (the broker closes the connection without a word, as it does
// when it stops), so the loss error cannot tell them apart. What does: a takeover happens on a broker
// that is up and accepts every reconnect, while a restarting broker refuses connections or cannot be
// reached for a while. So a round in which every broker refused, was unreachable or did not answer in
// time ends the run of short sessions; a rolling restart then never adds up to a hold.
//
// Not told apart: a broker back before our next attempt (a restart faster than the jittered wait after
// a loss, at most ReconnectSpread) leaves no refused connect, so Count such restarts in a row, each less
// than Short after we reconnected, still look like a takeover. The CONNACK session-present flag does not
// help either way: a broker with persistence resumes our session after a restart (present, as in a
// takeover), and a client taking our id with a clean session discards it (absent, as after a restart of
// a broker without persistence).
type TakeoverPolicy struct {
	Short  time.Duration // default 10 s
	Count  int           // default 3
	Window time.Duration // default 2 min
	Hold   time.Duration // default 5 min
}

// shortSessions are when the recent sessions that the broker closed less than Takeover.Short after
// they began ended: a run of Takeover.Count of them within Takeover.Window is a takeover loop.
type shortSessions []time.Time

// ended records a session that began at began and was lost at now, and tells whether the run now
// makes a takeover loop under p.
func (s *shortSessions) ended(p TakeoverPolicy, began, now time.Time) (takeover bool) {
	if now.Sub(began) < p.Short {
		*s = append(*s, now)
	} else {
		*s = (*s)[:0]
	}
	for len(*s) > 0 && now.Sub((*s)[0]) > p.Window {
		*s = (*s)[1:]
	}
	return len(*s) >= p.Count
}

// restartNotTakeover ends the run of short sessions after a round in which the broker refused, could
// not be reached or did not answer (err): a takeover leaves the broker accepting connections, one that
// does not is restarting (see TakeoverPolicy), so the short sessions before were not another client's
// doing.
func (l *Link) restartNotTakeover(short *shortSessions, err error) {
	if len(*short) > 0 {
		l.log.Info("broker refused or unreachable after short sessions: a restart, not a session takeover",
			zap.Int("short_sessions", len(*short)), zap.Error(err))
		*short = (*short)[:0]
	}
}

// holdForTakeover stays away for Takeover.Hold after the takeover loop in short, the last session of
// which was lost at now with lastErr, and clears short. It returns true when the link is closing.
func (l *Link) holdForTakeover(short *shortSessions, now time.Time, lastErr error) (closing bool) {
	n, within := len(*short), now.Sub((*short)[0])
	*short = (*short)[:0]
	l.conn.takeover.Store(true)
	msg := fmt.Sprintf("the broker closed our session %d times within %v, each less than %v after it began, "+
		"and accepted every reconnect in between: "+
		"another client is most likely connecting with the same client id %q (two gateways configured with "+
		"the same gateway id or cloud.client_id?); not reconnecting for %v", n, within.Round(time.Second),
		l.opts.Takeover.Short, l.opts.ClientID, l.opts.Takeover.Hold)
	l.log.Error("mqtt session takeover loop: "+msg, zap.String("client_id", l.opts.ClientID),
		zap.String("broker", l.conn.broker.Load().(string)), zap.NamedError("last_error", lastErr))
	if l.sleep(l.opts.Takeover.Hold, "takeover-hold") {
		return true
	}
	l.conn.takeover.Store(false)
	l.log.Warn("takeover hold over: reconnecting", zap.String("client_id", l.opts.ClientID))
	return false
}
