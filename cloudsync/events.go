package cloudsync

import (
	"encoding/json"
	"time"
)

// Event is a health event, JSON on the events topic.
type Event struct {
	Kind    string `json:"kind"` // sensor-state, ring-overflow, spool-evicted, spool-lost, clock-trusted, takeover, reload
	At      string `json:"at"`   // RFC 3339 with milliseconds
	Gateway string `json:"gateway"`
	Sensor  string `json:"sensor,omitempty"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Count   uint64 `json:"count,omitempty"`
	Message string `json:"message,omitempty"`
}

// Event publishes a health event at QoS 1 when connected; otherwise it is counted as lost (the
// retained status carries the current state when the link comes back). It never blocks.
func (l *Link) Event(e Event) {
	if !l.Connected() || l.topics.Events == "" {
		l.count.eventsLost.Add(1)
		return
	}
	e.Gateway = l.opts.GatewayID
	if e.At == "" {
		e.At = time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	b, err := json.Marshal(e)
	if err != nil {
		l.count.eventsLost.Add(1)
		return
	}
	select { // paho's Publish can block on its outbound queue: the events goroutine takes that wait
	case l.evq <- b:
	default:
		l.count.eventsLost.Add(1)
	}
}

// publishEvents publishes queued events until Close.
func (l *Link) publishEvents() {
	for {
		select {
		case <-l.stop:
			return
		case b := <-l.evq:
			l.client.Publish(l.topics.Events, 1, false, b)
			l.count.events.Add(1)
		}
	}
}
