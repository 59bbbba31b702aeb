package main

import (
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
)

// notifier speaks the systemd notify protocol (sd_notify(3)) when the service manager asked for it
// ($NOTIFY_SOCKET, Type=notify); outside systemd every call is a no-op.
type notifier struct {
	log *zap.Logger
	// watchdog is the interval systemd expects pings within ($WATCHDOG_USEC), 0 when not enabled.
	interval time.Duration
}

func newNotifier(log *zap.Logger) *notifier {
	n := &notifier{log: log.Named("systemd")}
	d, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("watchdog settings unreadable; not pinging", zap.Error(err))
	}
	n.interval = d
	return n
}

func (n *notifier) send(state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		n.log.Warn("sd_notify", zap.String("state", firstLine(state)), zap.Error(err))
	}
}

// ready says startup (or a reload) is complete.
func (n *notifier) ready(status string) { n.send(sd.SdNotifyReady + "\nSTATUS=" + status) }

// reloading says a reload began; ready must follow.
func (n *notifier) reloading() {
	n.send(sd.SdNotifyReloading + "\n" + sd.SdNotifyMonotonicUsec() + "STATUS=reloading configuration")
}

// stopping says an orderly stop began.
func (n *notifier) stopping() { n.send(sd.SdNotifyStopping + "\nSTATUS=draining") }

// status sets the free-form status line systemctl status shows.
func (n *notifier) status(s string) { n.send("STATUS=" + s) }

// watchdog pings systemd at a third of its interval while alive(half the interval) reports progress;
// once it does not, pings stop (systemd then restarts the service after the interval) and the reason is
// logged. The returned function stops the pinger and waits for it.
func (n *notifier) watchdog(alive func(within time.Duration) error) (stop func()) {
	if n.interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(n.interval / 3)
		defer t.Stop()
		failing := false
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if err := alive(n.interval / 2); err != nil {
				if !failing {
					n.log.Error("pipeline not making progress: withholding watchdog pings, systemd will restart the service",
						zap.Error(err), zap.Duration("watchdog", n.interval))
					n.status("stuck: " + firstLine(err.Error()))
				}
				failing = true
				continue
			}
			if failing {
				n.log.Warn("pipeline progressing again; watchdog pings resumed")
				failing = false
			}
			n.send(sd.SdNotifyWatchdog)
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
