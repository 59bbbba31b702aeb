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

func (l *Link) holdForTakeover(n int, within time.Duration, lastErr error) {
	l.takeover.Store(true)
	msg := fmt.Sprintf("the broker closed our session %d times within %v, each less than %v after it began, "+
		"and accepted every reconnect in between: "+
		"another client is most likely connecting with the same client id %q (two gateways configured with "+
		"the same gateway id or cloud.client_id?); not reconnecting for %v", n, within.Round(time.Second),
		l.opts.Takeover.Short, l.opts.ClientID, l.opts.Takeover.Hold)
	l.log.Error("mqtt session takeover loop: "+msg, zap.String("client_id", l.opts.ClientID),
		zap.String("broker", l.broker.Load().(string)), zap.NamedError("last_error", lastErr))
}
