package gateway_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
)

// The steps the gateway's end-to-end tests share: a configuration parsed as the daemon parses it,
// gateway.New with the test's logger, and Run for a while or in the background.

// parseConfig parses a configuration with the boards' checks, as the daemon does.
func parseConfig(t testing.TB, body string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(body), boards.Check)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newGateway is gateway.New with the test's logger unless opts has one.
func newGateway(t testing.TB, opts gateway.Options) *gateway.Gateway {
	t.Helper()
	if opts.Log == nil {
		opts.Log = zaptest.NewLogger(t)
	}
	g, err := gateway.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// runFor runs g for d and fails the test when Run returns an error.
func runFor(t testing.TB, g *gateway.Gateway, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := g.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// goRun runs g in the background until stop, which returns Run's error (again on later calls). The
// test's cleanup stops a gateway still running, so it never logs after the test.
func goRun(t testing.TB, g *gateway.Gateway) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}
