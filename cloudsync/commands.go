package cloudsync

import (
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
)

// onMessage routes what arrives on the subscriptions: command requests to the command goroutine,
// the platform's answers to status updates (azure-iothub twin) to the log.
func (l *Link) onMessage(_ mqtt.Client, m mqtt.Message) {
	if _, ok := l.topics.ParseCommand(m.Topic()); ok && l.opts.Commands != nil {
		select {
		case l.cmds <- m:
		default:
			l.log.Warn("command dropped: the command queue is full", zap.String("topic", m.Topic()))
		}
		return
	}
	if status, rid, ok := l.topics.ParseStatusResponse(m.Topic()); ok {
		if status/100 != 2 {
			l.log.Warn("the platform refused a status update", zap.Int("status", status), zap.String("request", rid),
				zap.ByteString("answer", m.Payload()))
		}
		return
	}
	l.log.Debug("message on an unexpected topic ignored", zap.String("topic", m.Topic()))
}

// serveCommands answers command requests one at a time, in arrival order.
func (l *Link) serveCommands() {
	for {
		select {
		case <-l.stop:
			return
		case m := <-l.cmds:
			l.count.commands.Add(1)
			c, _ := l.topics.ParseCommand(m.Topic())
			reply, status := l.opts.Commands(c, m.Payload())
			if reply == nil || !l.Connected() {
				continue
			}
			l.client.Publish(l.topics.Reply(c, status), 1, false, reply)
		}
	}
}
