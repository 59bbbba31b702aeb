// Command wayside is the technician's tool for a running waysided: status, sensor health, live
// readings, self-test and log level, over the daemon's local API socket. See package internal/cli.
package main

import (
	"context"
	"os"

	"github.com/wayside-iot/wayside/internal/cli"
)

// version is stamped by the Makefile from git (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	app := &cli.App{Stdout: os.Stdout, Stderr: os.Stderr, Version: version}
	os.Exit(app.Run(context.Background(), os.Args[1:]))
}
