package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/gateway/config"
)

// configCheck is -check-config FILE -json: what wayside config check --json prints.
type configCheck struct {
	File    string          `json:"file"`
	Valid   bool            `json:"valid"`
	Errors  []*config.Error `json:"errors,omitempty"`
	Gateway string          `json:"gateway,omitempty"`
	IDFrom  string          `json:"gateway_id_from,omitempty"` // the machine id file of an auto id
	Board   string          `json:"board,omitempty"`
	Sensors int             `json:"sensors,omitempty"`
	Hash    string          `json:"config_hash,omitempty"`
}

// checkConfigJSON is -check-config with -json: the result as one JSON object, exit 1 when not valid.
func checkConfigJSON(path string, stdout io.Writer) int {
	cfg, err := config.Load(path, boards.Check)
	out := configCheck{File: path, Valid: err == nil}
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			out.Errors = es
		} else {
			out.Errors = []*config.Error{{Path: "(file)", Msg: err.Error()}}
		}
	} else {
		out.Gateway, out.IDFrom, out.Board, out.Sensors, out.Hash = cfg.Gateway.ID, cfg.Gateway.IDSource, cfg.Gateway.Board, len(cfg.Sensors), cfg.Hash
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Fprintf(stdout, "%s\n", b)
	if err != nil {
		return 1
	}
	return 0
}
