package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wayside-iot/wayside/boards"
	"github.com/wayside-iot/wayside/gateway/config"
)

// configCheck is config check --json.
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

func (a *App) cmdConfig(_ context.Context, _ *cmdOpts, args []string) error {
	if len(args) != 2 || args[0] != "check" {
		return usagef("usage: wayside config check FILE")
	}
	path := args[1]
	cfg, err := config.Load(path, boards.Check)
	if a.json {
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
		fmt.Fprintf(a.Stdout, "%s\n", b)
		if err != nil {
			return &exitError{ExitFailure}
		}
		return nil
	}
	if err != nil {
		fmt.Fprintln(a.Stderr, err)
		return &exitError{ExitFailure}
	}
	fmt.Fprintf(a.Stdout, "%s: valid (gateway %s, board %s, %d sensors, config hash %s)\n",
		path, cfg.Gateway.IDText(), cfg.Gateway.Board, len(cfg.Sensors), cfg.Hash)
	return nil
}
