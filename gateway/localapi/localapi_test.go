package localapi

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

func TestLikelyParts(t *testing.T) {
	for addr, want := range map[uint16][]string{
		// The parts' datasheets: BH1750 ADDR low/high, VL53L0X at power-up, SHT40-A/B/C, ADS1115 ADDR
		// pin, SCD4x fixed, BME280/BMP280 SDO low/high.
		0x23: {"bh1750"}, 0x5c: {"bh1750"}, 0x29: {"vl53l0x"}, 0x44: {"sht4x"}, 0x45: {"sht4x"}, 0x46: {"sht4x"},
		0x48: {"ads1115"}, 0x4b: {"ads1115"}, 0x62: {"scd4x"}, 0x76: {"bme280", "bmp280"}, 0x77: {"bme280", "bmp280"},
		0x10: {},
	} {
		if got := LikelyParts(addr); !slices.Equal(got, want) {
			t.Errorf("0x%02x: %v, want %v", addr, got, want)
		}
	}
	// The table is not handed out for callers to change.
	LikelyParts(0x76)[0] = "x"
	if LikelyParts(0x76)[0] != "bme280" {
		t.Error("LikelyParts returned the table itself")
	}
}

func TestMayAct(t *testing.T) {
	self := uint32(os.Getuid())
	s := &Server{uid: 4242, group: "ops", gid: 777}
	cases := []struct {
		name string
		p    *Peer
		ok   bool
	}{
		{"unknown peer", nil, false},
		{"root", &Peer{UID: 0, GID: 0}, true},
		{"daemon user", &Peer{UID: 4242, GID: 100}, true},
		{"primary group", &Peer{UID: 5000, GID: 777}, true},
		{"stranger", &Peer{UID: 5000, GID: 5000}, false},
	}
	for _, c := range cases {
		if err := s.mayAct(c.p); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
	}
	// Supplementary groups come from the live process: this test process's own groups.
	groups, err := procGroups(int32(os.Getpid()))
	if err != nil {
		t.Skipf("no /proc groups: %v", err)
	}
	if osGroups, _ := os.Getgroups(); len(osGroups) != len(groups) {
		t.Errorf("procGroups %v, os.Getgroups %v", groups, osGroups)
	}
	for _, g := range groups {
		if !inGroup(&Peer{UID: self + 1, GID: 999999, PID: int32(os.Getpid())}, g) {
			t.Errorf("inGroup misses supplementary group %d", g)
		}
	}
	if inGroup(&Peer{UID: self + 1, GID: 999999, PID: int32(os.Getpid())}, 999998) {
		t.Error("inGroup found a group the process is not in")
	}
}

// TestProblemsTakeover: a link holding off after a session takeover loop says why, naming the client
// id, instead of a plain "not connected".
func TestProblemsTakeover(t *testing.T) {
	next := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	st := &apitype.Status{Cloud: apitype.Cloud{ClientID: "wayside-cab-17", Takeover: true, NextTry: next, State: "takeover-hold"}}
	ps := problems(st)
	if len(ps) == 0 || !strings.Contains(ps[0], "another client uses client id wayside-cab-17") || !strings.Contains(ps[0], "2026-11-23T14:00:00Z") {
		t.Fatalf("problems: %q", ps)
	}
	st.Cloud.Takeover = false
	if ps := problems(st); len(ps) == 0 || !strings.Contains(ps[0], "not connected") {
		t.Fatalf("plain outage: %q", ps)
	}
}
