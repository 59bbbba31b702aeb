package ingest

import (
	"context"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// statusRetry is how often an instance that does not hold the status lock tries to take it, and how
// often the holder checks that its lock's connection is alive.
var statusRetry = 5 * time.Second

// statusLoop keeps wayside_status. One instance at a time does it, the holder of the advisory lock
// lockStatus on a connection of its own: it subscribes (not shared) to every gateway's retained
// status, and writes them in the order the broker delivers them, so the table ends at the broker's
// retained message. When the holder dies its connection ends, the lock is released and another
// instance takes it within statusRetry; its subscription brings every retained status again.
func (in *Ingest) statusLoop(ctx context.Context) {
	for {
		conn, err := in.pool.Acquire(ctx)
		if err == nil {
			var got bool
			if err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockStatus).Scan(&got); err == nil && got {
				in.keepStatus(ctx, conn)
				// Unlock on a live connection; a dead one is destroyed and its lock gone with it.
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
				if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", lockStatus); err != nil {
					conn.Conn().Close(uctx)
				}
				cancel()
			}
			conn.Release()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(statusRetry):
		}
	}
}

// keepStatus subscribes to the statuses and writes them until ctx ends or the lock's connection fails.
func (in *Ingest) keepStatus(ctx context.Context, lock *pgxpool.Conn) {
	msgs := make(chan mqtt.Message, 1024)
	done := make(chan struct{}) // closed before Disconnect, which waits for a handler still queueing
	filter := in.cfg.MQTT.TopicPrefix + "/+/status"
	// Clean session and automatic acks: the retained messages give the whole state at every subscribe.
	// In order, and the handler only queues: it never calls back into paho.
	c := mqtt.NewClient(in.mqttOptions(in.cfg.MQTT.ClientID + "-status").SetCleanSession(true).SetOrderMatters(true).
		SetOnConnectHandler(func(c mqtt.Client) {
			c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) {
				select {
				case msgs <- m:
				case <-done:
				}
			})
		}))
	if err := wait(c.Connect(), "status: connect to "+in.cfg.MQTT.Broker); err != nil {
		in.log.Warn("statuses not kept", zap.Error(err))
		return
	}
	defer func() {
		close(done)
		c.Disconnect(250)
	}()
	in.log.Info("keeping gateway statuses", zap.String("filter", filter))
	check := time.NewTicker(statusRetry)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			if _, err := lock.Exec(ctx, "SELECT 1"); err != nil {
				in.log.Warn("status lock connection failed; another instance takes over", zap.Error(err))
				return
			}
		case m := <-msgs:
			in.status(ctx, m)
		}
	}
}

// status writes one status message, or quarantines it.
func (in *Ingest) status(ctx context.Context, m mqtt.Message) {
	topic, payload := m.Topic(), m.Payload()
	gw := in.gatewayOf(topic, "status")
	if len(payload) == 0 { // a retained status cleared by an operator
		in.retry(ctx, "delete status", func() error { return deleteStatus(ctx, in.pool, gw) })
		return
	}
	s, err := parseStatus(gw, payload)
	if err != nil {
		if in.retry(ctx, "quarantine", func() error { return quarantine(ctx, in.pool, topic, gw, ReasonBadStatus, err.Error(), payload) }) == nil {
			in.quarantined.Add(1)
			in.log.Warn("quarantined", zap.String("topic", topic), zap.String("reason", ReasonBadStatus), zap.Error(err))
		}
		return
	}
	if in.retry(ctx, "write status", func() error { return writeStatus(ctx, in.pool, gw, s, payload) }) == nil {
		in.statuses.Add(1)
	}
}
