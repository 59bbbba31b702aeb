package localapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wayside-iot/wayside/buffer"
	"github.com/wayside-iot/wayside/cloudsync/profile"
	"github.com/wayside-iot/wayside/gateway"
	"github.com/wayside-iot/wayside/gateway/config"
	"github.com/wayside-iot/wayside/gateway/localapi/apitype"
)

// Gateway is what the API reads from the running pipeline; *gateway.Gateway implements it.
type Gateway interface {
	Stats() gateway.Stats
	ReadNow(name string) ([]gateway.Value, error)
	Tap(size int) (readings <-chan buffer.Reading, dropped func() uint64, cancel func())
	Describe(r buffer.Reading) gateway.Value
}

var _ Gateway = (*gateway.Gateway)(nil)

// Options configures a Server.
type Options struct {
	Gateway Gateway
	Config  *config.Config
	Version string
	// Level is the daemon logger's level; log-level reads and sets it.
	Level zap.AtomicLevel
	Log   *zap.Logger
}

// Peer is the process at the other end of a connection.
type Peer struct {
	UID, GID uint32
	PID      int32
}

// Server serves the local API. Call order: New, Listen (or Serve on a listener of your own), Close.
type Server struct {
	opts  Options
	gw    Gateway
	cfg   *config.Config
	log   *zap.Logger
	uid   uint32 // the daemon's own uid, always allowed to act
	group string // local_api.group, "" when unset
	gid   int    // its gid, -1 when unset
	// topics are the cloud profile's topics, from the one definition the link uses (profile.Build);
	// zero when the profile cannot be built (then the link is not running either).
	topics profile.Topics

	baseCtx context.Context // parent of every request's context; cancelled by Close to end streams
	cancel  context.CancelFunc
	srv     *http.Server
	ln      net.Listener
	sock    string // the socket Listen made, removed by Close
	done    chan struct{}
	close   sync.Once
}

// New prepares a server; it does not listen yet. The configured group must exist.
func New(opts Options) (*Server, error) {
	if opts.Gateway == nil || opts.Config == nil {
		return nil, errors.New("localapi: Gateway and Config are required")
	}
	if opts.Level == (zap.AtomicLevel{}) {
		return nil, errors.New("localapi: Level is required (the logger's zap.AtomicLevel)")
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	s := &Server{opts: opts, gw: opts.Gateway, cfg: opts.Config, log: opts.Log.Named("localapi"),
		uid: uint32(os.Getuid()), group: opts.Config.Local.Group, gid: -1}
	if p, err := profile.Build(opts.Config.ProfileInput(time.Time{})); err == nil {
		s.topics = p.Topics
	}
	if s.group != "" {
		g, err := user.LookupGroup(s.group)
		if err != nil {
			return nil, fmt.Errorf("localapi: local_api.group %q: %w; create the group (sudo groupadd %s), use the package's wayside group, or remove the key", s.group, err, s.group)
		}
		if s.gid, err = strconv.Atoi(g.Gid); err != nil {
			return nil, fmt.Errorf("localapi: group %q has gid %q: %w", s.group, g.Gid, err)
		}
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.baseCtx },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			p, err := peerCred(c)
			if err != nil {
				s.log.Debug("peer credentials", zap.Error(err))
				return ctx
			}
			return context.WithValue(ctx, peerKey{}, p)
		},
		ErrorLog: zap.NewStdLog(s.log.WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}
	return s, nil
}

type peerKey struct{}

// PeerFrom returns the peer of a request's connection, nil when unknown.
func PeerFrom(ctx context.Context) *Peer {
	p, _ := ctx.Value(peerKey{}).(*Peer)
	return p
}

// Listen creates the unix socket at path (replacing a stale one left by a crash, refusing when
// another daemon answers on it), sets its owner group and mode (0660 with local_api.group, else
// 0600), and serves in the background. The socket is made in a private directory and renamed into
// place once its group and mode are set: nobody can connect while it still has the umask's mode.
// The socket's directory is made only when missing and its parent exists (socketDir).
func (s *Server) Listen(path string) error {
	if err := s.socketDir(filepath.Dir(path)); err != nil {
		return err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("localapi: %s exists and is not a socket; remove it or set local_api.socket", path)
		}
		if c, err := net.DialTimeout("unix", path, 500*time.Millisecond); err == nil {
			c.Close()
			return fmt.Errorf("localapi: another process is serving %s (a second waysided?)", path)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("localapi: remove stale socket: %w", err)
		}
	}
	private, err := os.MkdirTemp(filepath.Dir(path), ".local-api-") // mode 0700
	if err != nil {
		return fmt.Errorf("localapi: socket directory: %w", err)
	}
	defer os.RemoveAll(private)
	tmp := filepath.Join(private, "sock")
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return fmt.Errorf("localapi: listen: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // it moves: Close removes it by its final name
	mode := os.FileMode(0o600)
	if s.gid >= 0 {
		mode = 0o660
		if err := os.Chown(tmp, -1, s.gid); err != nil {
			ln.Close()
			return fmt.Errorf("localapi: give socket %s to group %s: %w (the daemon's user must be a member: SupplementaryGroups=%s in the unit)", path, s.group, err, s.group)
		}
	}
	if err := os.Chmod(tmp, mode); err != nil {
		ln.Close()
		return fmt.Errorf("localapi: chmod socket: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return fmt.Errorf("localapi: put socket in place: %w", err)
	}
	s.sock = path
	s.log.Info("listening", zap.String("socket", path), zap.String("mode", fmt.Sprintf("%#o", mode)), zap.String("group", s.group))
	s.Serve(ln)
	return nil
}

// socketDir makes sure the socket's directory exists. Under systemd RuntimeDirectory= has made it
// (/run/wayside). Otherwise only the last directory is made, mode 0750 and owned by local_api.group
// when set (so its members can reach the socket), never a chain of directories as the daemon's user:
// a path whose parent is missing is more likely a typo than a wish.
func (s *Server) socketDir(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("localapi: local_api.socket: %s is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("localapi: local_api.socket: socket directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("localapi: local_api.socket: neither %s nor its parent %s exists; create it (sudo install -d -m 0750 %s) or use /run/wayside/local.sock with RuntimeDirectory=wayside in the unit",
				dir, filepath.Dir(dir), dir)
		}
		return fmt.Errorf("localapi: local_api.socket: create socket directory: %w", err)
	}
	if s.gid >= 0 {
		if err := os.Chown(dir, -1, s.gid); err != nil {
			return fmt.Errorf("localapi: give socket directory %s to group %s: %w (the daemon's user must be a member: SupplementaryGroups=%s in the unit)", dir, s.group, err, s.group)
		}
	}
	if err := os.Chmod(dir, 0o750); err != nil { // Mkdir's mode went through the umask
		return fmt.Errorf("localapi: chmod socket directory: %w", err)
	}
	s.log.Info("created the socket directory", zap.String("dir", dir), zap.String("mode", "0750"), zap.String("group", s.group))
	return nil
}

// Serve serves on ln in the background until Close.
func (s *Server) Serve(ln net.Listener) {
	s.ln = ln
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("stopped serving", zap.Error(err))
		}
	}()
}

// Close ends open streams (tail), waits up to two seconds for requests in progress, and removes the
// socket. Safe to call more than once.
func (s *Server) Close() error {
	var err error
	s.close.Do(func() {
		s.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err = s.srv.Shutdown(ctx); err != nil {
			err = s.srv.Close()
		}
		if s.done != nil {
			<-s.done
		}
		if s.sock != "" {
			if rerr := os.Remove(s.sock); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, fmt.Errorf("localapi: remove socket: %w", rerr))
			}
		}
	})
	return err
}

// ServeHTTP refuses browser requests, finds the endpoint, and checks that the peer may act before any
// POST.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" {
		writeError(w, http.StatusForbidden, apitype.Error{Error: "requests with an Origin or Referer header (from a web browser) are refused"})
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, apitype.Prefix)
	ep, found := handlers[name]
	if !ok || !found {
		writeError(w, http.StatusNotFound, apitype.Error{Error: fmt.Sprintf("no endpoint %s; endpoints are %s<name> with name one of: %s",
			r.URL.Path, apitype.Prefix, strings.Join(endpointNames(), ", "))})
		return
	}
	var h func(*Server, http.ResponseWriter, *http.Request)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h = ep.get
	case http.MethodPost:
		h = ep.post
		if h != nil {
			if err := s.mayAct(PeerFrom(r.Context())); err != nil {
				s.log.Warn("action refused", zap.String("endpoint", name), zap.Error(err))
				writeError(w, http.StatusForbidden, apitype.Error{Error: err.Error(), Group: s.group})
				return
			}
		}
	}
	if h == nil {
		var allow []string
		if ep.get != nil {
			allow = append(allow, http.MethodGet)
		}
		if ep.post != nil {
			allow = append(allow, http.MethodPost)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, apitype.Error{Error: fmt.Sprintf("%s %s: use %s", r.Method, name, strings.Join(allow, " or "))})
		return
	}
	h(s, w, r)
}

func endpointNames() []string {
	names := make([]string, 0, len(handlers))
	for n := range handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// mayAct decides whether peer may use actions: root, the daemon's own user, or a member of the
// configured group.
func (s *Server) mayAct(p *Peer) error {
	if p == nil {
		return errors.New("the caller's credentials are unknown, so actions are refused")
	}
	if p.UID == 0 || p.UID == s.uid {
		return nil
	}
	if s.gid >= 0 && inGroup(p, uint32(s.gid)) {
		return nil
	}
	if s.group == "" {
		return fmt.Errorf("uid %d may not use actions: only root and the daemon's user may (set local_api.group to allow a group)", p.UID)
	}
	return fmt.Errorf("uid %d may not use actions: only root, the daemon's user and members of group %s may", p.UID, s.group)
}

// inGroup tells whether peer's process is in group gid: its primary group, the supplementary groups
// of the live process (/proc/PID/status, which reflects newgrp and a fresh login), or failing that the
// user's groups in the group database.
func inGroup(p *Peer, gid uint32) bool {
	if p.GID == gid {
		return true
	}
	if groups, err := procGroups(p.PID); err == nil {
		return slices.Contains(groups, gid)
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(p.UID), 10))
	if err != nil {
		return false
	}
	ids, err := u.GroupIds()
	if err != nil {
		return false
	}
	return slices.Contains(ids, strconv.FormatUint(uint64(gid), 10))
}

func procGroups(pid int32) ([]uint32, error) {
	if pid <= 0 {
		return nil, errors.New("no pid")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		var gs []uint32
		for _, f := range strings.Fields(rest) {
			if g, err := strconv.ParseUint(f, 10, 32); err == nil {
				gs = append(gs, uint32(g))
			}
		}
		return gs, nil
	}
	return nil, errors.New("no Groups line")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, e apitype.Error) {
	writeJSON(w, code, e)
}
