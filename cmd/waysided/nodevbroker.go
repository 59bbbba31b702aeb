//go:build !devbroker

package main

import (
	"errors"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/gateway/config"
)

// startDevBroker is absent from production builds: a gateway in the field syncs to the city's broker.
func startDevBroker(*config.Config, *zap.Logger) (func(), error) {
	return nil, errors.New("cloud.dev_broker is set, but this build has no development broker " +
		"(it is only in builds with -tags devbroker, as make run uses); remove cloud.dev_broker")
}
