package testpg

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStart(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, s.Log())
	}
	defer c.Close(ctx)
	var v string
	if err := c.QueryRow(ctx, "show listen_addresses").Scan(&v); err != nil || v != "127.0.0.1" {
		t.Fatalf("listen_addresses = %q, %v; want 127.0.0.1 only", v, err)
	}
}
