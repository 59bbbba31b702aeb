package localapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

// idleGateway is a Gateway with nothing running, for tests of the server itself.
type idleGateway struct{}

func (idleGateway) Stats() gateway.Stats                    { return gateway.Stats{} }
func (idleGateway) ReadNow(string) ([]gateway.Value, error) { return nil, nil }
func (idleGateway) Describe(buffer.Reading) gateway.Value   { return gateway.Value{} }
func (idleGateway) Tap(int) (<-chan buffer.Reading, func() uint64, func()) {
	return make(chan buffer.Reading), func() uint64 { return 0 }, func() {}
}

func newTestServer(t *testing.T, group string, level zap.AtomicLevel) *Server {
	t.Helper()
	cfg := &config.Config{Local: config.LocalAPI{Group: group}}
	s, err := New(Options{Gateway: idleGateway{}, Config: cfg, Level: level})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestListenSocketDir: a missing socket directory is made alone, mode 0750 (and given to
// local_api.group); a chain of missing directories is refused, naming local_api.socket.
func TestListenSocketDir(t *testing.T) {
	tmp := t.TempDir()
	s := newTestServer(t, "", zap.NewAtomicLevel())
	dir := filepath.Join(tmp, "wayside")
	if err := s.Listen(filepath.Join(dir, "local.sock")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o750 {
		t.Errorf("socket directory mode %#o, want 0750", fi.Mode().Perm())
	}

	deep := filepath.Join(tmp, "run", "wayside")
	err = newTestServer(t, "", zap.NewAtomicLevel()).Listen(filepath.Join(deep, "local.sock"))
	for _, w := range []string{"local_api.socket", "neither " + deep + " nor its parent " + filepath.Join(tmp, "run") + " exists", "install -d -m 0750"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("socket under missing directories: error %v lacks %q", err, w)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "run")); !os.IsNotExist(err) {
		t.Errorf("a directory was made for a refused socket: %v", err)
	}

	// An existing directory is used as it is.
	keep := filepath.Join(tmp, "keep")
	if err := os.Mkdir(keep, 0o711); err != nil {
		t.Fatal(err)
	}
	os.Chmod(keep, 0o711)
	if err := newTestServer(t, "", zap.NewAtomicLevel()).Listen(filepath.Join(keep, "local.sock")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(keep); fi.Mode().Perm() != 0o711 {
		t.Errorf("existing directory's mode changed to %#o", fi.Mode().Perm())
	}
}

// TestListenSocketDirGroup: with local_api.group the directory it makes belongs to the group, so its
// members can reach the socket. Changing a file's group to one we are not in needs root.
func TestListenSocketDirGroup(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a directory to another group")
	}
	var g *user.Group
	for _, name := range []string{"nogroup", "daemon", "adm", "users"} {
		if gr, err := user.LookupGroup(name); err == nil && gr.Gid != strconv.Itoa(os.Getgid()) {
			g = gr
			break
		}
	}
	if g == nil {
		t.Skip("no second group on this machine")
	}
	dir := filepath.Join(t.TempDir(), "wayside")
	if err := newTestServer(t, g.Name, zap.NewAtomicLevel()).Listen(filepath.Join(dir, "local.sock")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; strconv.Itoa(int(gid)) != g.Gid || fi.Mode().Perm() != 0o750 {
		t.Errorf("socket directory gid %d mode %#o, want %s (%s) 0750", gid, fi.Mode().Perm(), g.Gid, g.Name)
	}
}

// TestSetLogLevelNeedsLevel: POST log-level without a level (or with an empty one) is refused with
// 400 naming the parameter and the valid values, and the level stays as it was.
func TestSetLogLevelNeedsLevel(t *testing.T) {
	level := zap.NewAtomicLevelAt(zap.WarnLevel)
	s := newTestServer(t, "", level)
	post := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, apitype.Prefix+"log-level", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r = r.WithContext(context.WithValue(r.Context(), peerKey{}, &Peer{UID: 0}))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	for _, form := range []url.Values{nil, {"level": {""}}, {"lvl": {"debug"}}} {
		w := post(form)
		var e apitype.Error
		json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != http.StatusBadRequest || !strings.Contains(e.Error, "missing parameter level; use debug, info, warn or error") {
			t.Errorf("form %v: %d %s", form, w.Code, w.Body)
		}
		if level.Level() != zap.WarnLevel {
			t.Fatalf("form %v: level changed to %v", form, level.Level())
		}
	}
	if w := post(url.Values{"level": {"debug"}}); w.Code != http.StatusOK || level.Level() != zap.DebugLevel {
		t.Errorf("level=debug: %d %s, level %v", w.Code, w.Body, level.Level())
	}
}
