// Package testpg starts a real PostgreSQL for tests: Debian's postgresql package (initdb and pg_ctl
// under /usr/lib/postgresql/<version>/bin), a throw-away cluster in a temporary directory, listening on
// a free 127.0.0.1 port and on a unix socket in that directory only, stopped and removed when the test
// ends. PostgreSQL refuses to run as root: as root the cluster belongs to the postgres user (which
// Debian's package creates), or to nobody, and its commands run through runuser.
//
// Tests fail with install instructions when PostgreSQL is missing, unless WAYSIDE_SKIP_CLOUD_TESTS=1
// is set (then they skip).
package testpg

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wayside-iot/wayside/internal/testkit/testproc"
)

// Server is a running PostgreSQL cluster.
type Server struct {
	// DSN connects as the superuser postgres to the database postgres over TCP (trust authentication,
	// loopback only).
	DSN  string
	Port int
	Dir  string // the cluster's parent directory: data/, the socket and the log

	bin   string
	owner string // the user the cluster runs as, "" for the test's own user
}

// BinDir returns the directory holding initdb and pg_ctl, the newest version when several are
// installed, or fails (or skips) the test with how to install them.
func BinDir(t testing.TB) string {
	t.Helper()
	d, err := FindBinDir()
	if err != nil {
		testproc.Missing(t, "PostgreSQL", "WAYSIDE_SKIP_CLOUD_TESTS", err.Error()+
			", or set WAYSIDE_SKIP_CLOUD_TESTS=1 to skip these tests")
	}
	return d
}

// FindBinDir is BinDir for a caller that is not a test (the fleet bench).
func FindBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("a real PostgreSQL is needed and initdb was found neither under /usr/lib/postgresql/*/bin nor on PATH: " +
		"install it with `sudo apt-get install -y postgresql` (or run scripts/deps.sh cloud)")
}

func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// Start makes a cluster and starts it; the test's end stops it (immediate shutdown) and removes it.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Launch(BinDir(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Launch makes a cluster with the programs in bin (BinDir's) and starts it, for a caller that is not a
// test (the fleet bench); Close stops and removes it.
func Launch(bin string) (*Server, error) {
	s := &Server{bin: bin}
	// Not t.TempDir(): its parents are 0700 root's, which the postgres user cannot enter.
	dir, err := os.MkdirTemp("", "wayside-pg-")
	if err != nil {
		return nil, fmt.Errorf("testpg: %w", err)
	}
	s.Dir = dir
	if err := s.launch(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) launch() error {
	if os.Geteuid() == 0 {
		s.owner = "postgres"
		if _, err := user.Lookup("postgres"); err != nil {
			s.owner = "nobody"
		}
		u, err := user.Lookup(s.owner)
		if err != nil {
			return fmt.Errorf("testpg: running as root and neither postgres nor nobody exists to own the cluster: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.Dir, uid, gid); err != nil {
			return fmt.Errorf("testpg: chown %s to %s: %w", s.Dir, s.owner, err)
		}
	}
	data := filepath.Join(s.Dir, "data")
	if out, err := s.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		return fmt.Errorf("testpg: initdb: %w: %s", err, out)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken before postgres binds it
		port, err := freePort()
		if err != nil {
			return fmt.Errorf("testpg: %w", err)
		}
		// fsync off: a test cluster is thrown away, and the machine is shared.
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=off "+
			"-c synchronous_commit=off -c full_page_writes=off -c max_connections=50", port, s.Dir)
		out, err := s.run("pg_ctl", "-D", data, "-l", filepath.Join(s.Dir, "log"), "-o", opts, "-w", "-t", "30", "start")
		if err == nil {
			s.Port = port
			s.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return nil
		}
		log, _ := os.ReadFile(filepath.Join(s.Dir, "log"))
		lastErr = fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
	}
	s.Stop() // a start that timed out may have left a server behind
	return fmt.Errorf("testpg: %w", lastErr)
}

// Close stops the cluster and removes its directory.
func (s *Server) Close() {
	s.Stop()
	os.RemoveAll(s.Dir)
}

// Stop stops the cluster at once (pg_ctl stop -m immediate). It is safe to call twice.
func (s *Server) Stop() {
	s.run("pg_ctl", "-D", filepath.Join(s.Dir, "data"), "-m", "immediate", "-w", "stop")
}

// Log returns the server's log so far, for a failing test's message.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "log"))
	return string(b)
}

// run runs a PostgreSQL program as the cluster's owner.
func (s *Server) run(prog string, args ...string) (string, error) {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.owner != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.owner, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.Dir // runuser keeps the working directory, which the owner must be able to enter
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
