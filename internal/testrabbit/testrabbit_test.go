package testrabbit

import (
	"strings"
	"testing"
)

func TestCluster(t *testing.T) {
	c := Start(t, 3)
	out, err := c.Nodes[2].Ctl("cluster_status")
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.Nodes {
		if !strings.Contains(out, nd.Name) {
			t.Errorf("cluster_status on node 3 does not name %s:\n%s", nd.Name, out)
		}
	}
}
