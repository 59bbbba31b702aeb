package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The maintainer scripts change the system's user database and services, so these tests run them
// with stand-ins for getent, addgroup, adduser, deb-systemd-helper, deb-systemd-invoke, systemctl and udevadm
// first on PATH: each records its call, and the account tools keep their database in the test's
// directory. postrm purge is not run: it deletes /var/lib/wayside on the machine (sh -n checks it).

// fakeTools is a shell script per tool; $FAKE is the state directory.
var fakeTools = map[string]string{
	"getent": `db=$FAKE/$1
[ -f "$db" ] && grep -q "^$2:" "$db" && { grep "^$2:" "$db"; exit 0; }
exit 2`,
	"addgroup": `for last; do :; done
if grep -q "^$last:" "$FAKE/group" 2>/dev/null; then echo "addgroup: The group '$last' already exists." >&2; exit 1; fi
echo "$last:x:900:" >>"$FAKE/group"`,
	"adduser": `set -- $(for a; do case $a in --quiet) ;; *) printf '%s\n' "$a" ;; esac; done)
case $1 in
--system)
	for last; do :; done
	grep -q "^$last:" "$FAKE/passwd" 2>/dev/null && exit 0
	echo "$last:x:900:900::/var/lib/wayside:/usr/sbin/nologin" >>"$FAKE/passwd"
	case " $* " in *" --group "*) echo "$last:x:900:" >>"$FAKE/group" ;; esac ;;
*)
	grep -q "^$1:" "$FAKE/passwd" || { echo "adduser: The user '$1' does not exist." >&2; exit 1; }
	grep -q "^$2:" "$FAKE/group" || { echo "adduser: The group '$2' does not exist." >&2; exit 1; }
	if grep -qx "$2 $1" "$FAKE/members" 2>/dev/null; then echo "The user '$1' is already a member of '$2'."; exit 0; fi
	echo "$2 $1" >>"$FAKE/members" ;;
esac`,
	"deb-systemd-helper": `case "$*" in
"--quiet was-enabled "*) [ ! -e "$FAKE/disabled" ] ;;
esac`,
	"deb-systemd-invoke": ``,
	"systemctl":          ``,
	"udevadm":            ``,
	// chown records only (the test is not root, and the host has no wayside group); chmod is real.
	"chown":             ``,
	"dpkg-statoverride": `[ -e "$FAKE/statoverride" ]`,
}

type scriptEnv struct {
	dir, fake, bin string
}

func newScriptEnv(t *testing.T) *scriptEnv {
	t.Helper()
	e := &scriptEnv{dir: t.TempDir()}
	e.fake, e.bin = filepath.Join(e.dir, "state"), filepath.Join(e.dir, "bin")
	for _, d := range []string{e.fake, e.bin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range fakeTools {
		script := "#!/bin/sh\necho \"" + name + " $*\" >>\"$FAKE/calls\"\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(e.bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Debian's base system has dialout; the other device groups come with Raspberry Pi OS, or from us.
	e.write(t, "group", "root:x:0:\ndialout:x:20:\n")
	e.write(t, "passwd", "root:x:0:0:root:/root:/bin/sh\n")
	return e
}

func (e *scriptEnv) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.fake, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *scriptEnv) read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.fake, name))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// root is the scripts' DPKG_ROOT: the files they touch outside the account database live under it.
func (e *scriptEnv) root() string { return filepath.Join(e.dir, "root") }

// run runs a maintainer script with the stand-ins and returns its stdout and the calls it made.
func (e *scriptEnv) run(t *testing.T, script string, args ...string) (stdout string, calls []string, err error) {
	t.Helper()
	if err := os.Remove(filepath.Join(e.fake, "calls")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", append([]string{filepath.Join("scripts", script)}, args...)...)
	cmd.Env = []string{"PATH=" + e.bin + ":/usr/sbin:/usr/bin:/sbin:/bin", "FAKE=" + e.fake, "LC_ALL=C",
		"DPKG_ROOT=" + e.root()}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if errOut.Len() > 0 {
		t.Logf("%s %s stderr: %s", script, strings.Join(args, " "), errOut.String())
	}
	for line := range strings.Lines(e.read(t, "calls")) {
		calls = append(calls, strings.TrimSpace(line))
	}
	return out.String(), calls, err
}

// systemdRunning is what the scripts test to decide whether to talk to systemd.
func systemdRunning() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

func TestPostinstFreshInstall(t *testing.T) {
	e := newScriptEnv(t)
	out, calls, err := e.run(t, "postinst", "configure")
	if err != nil {
		t.Fatalf("postinst configure: %v; calls:\n%s", err, strings.Join(calls, "\n"))
	}
	group := e.read(t, "group")
	for _, g := range []string{"i2c", "gpio", "spi", "dialout", "wayside"} {
		if !strings.Contains(group, "\n"+g+":") {
			t.Errorf("group %s missing after postinst; groups:\n%s", g, group)
		}
	}
	if n := strings.Count(group, "\ndialout:"); n != 1 {
		t.Errorf("dialout defined %d times: postinst must not re-create an existing group", n)
	}
	if !strings.Contains(e.read(t, "passwd"), "\nwayside:") {
		t.Error("postinst did not create the wayside user")
	}
	if got, want := memberships(e.read(t, "members")), []string{"dialout wayside", "gpio wayside", "i2c wayside", "spi wayside"}; !slices.Equal(got, want) {
		t.Errorf("memberships %v, want %v", got, want)
	}
	if !slices.Contains(calls, "deb-systemd-helper enable waysided.service") {
		t.Errorf("the service is not enabled on a fresh install; calls:\n%s", strings.Join(calls, "\n"))
	}
	for _, c := range calls {
		if strings.Contains(c, "start") {
			t.Errorf("a fresh install must leave the service stopped (placeholder config), got %q", c)
		}
	}
	if systemdRunning() && !slices.Contains(calls, "systemctl --system daemon-reload") {
		t.Errorf("systemd runs here but postinst did not daemon-reload; calls:\n%s", strings.Join(calls, "\n"))
	}
	if !systemdRunning() && slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "systemctl") }) {
		t.Errorf("systemd is not running (a chroot) but postinst called systemctl; calls:\n%s", strings.Join(calls, "\n"))
	}
	if !strings.Contains(out, "/etc/wayside/waysided.yaml") {
		t.Errorf("a fresh install should say which file to edit; stdout: %q", out)
	}
}

// TestPreinstMakesDeviceGroups: the device groups exist before dpkg unpacks the udev rules that name
// them (see preinst), and a second run (an upgrade) creates nothing.
func TestPreinstMakesDeviceGroups(t *testing.T) {
	e := newScriptEnv(t)
	if _, calls, err := e.run(t, "preinst", "install"); err != nil {
		t.Fatalf("preinst install: %v; calls:\n%s", err, strings.Join(calls, "\n"))
	}
	group := e.read(t, "group")
	for _, g := range []string{"i2c", "gpio", "spi"} {
		if !strings.Contains(group, "\n"+g+":") {
			t.Errorf("group %s missing after preinst; groups:\n%s", g, group)
		}
	}
	_, calls, err := e.run(t, "preinst", "upgrade", "1.0.0")
	if err != nil {
		t.Fatalf("preinst upgrade: %v", err)
	}
	if e.read(t, "group") != group || slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "addgroup") && strings.Contains(c, "gpio") }) {
		t.Errorf("a second preinst re-created a group; calls:\n%s", strings.Join(calls, "\n"))
	}
	if _, _, err := e.run(t, "postinst", "configure"); err != nil {
		t.Fatalf("postinst configure after preinst: %v", err)
	}
}

func TestPostinstUpgradeIsIdempotent(t *testing.T) {
	e := newScriptEnv(t)
	if _, _, err := e.run(t, "postinst", "configure"); err != nil {
		t.Fatalf("first configure: %v", err)
	}
	group, passwd, members := e.read(t, "group"), e.read(t, "passwd"), e.read(t, "members")

	out, calls, err := e.run(t, "postinst", "configure", "1.0.0")
	if err != nil {
		t.Fatalf("postinst configure 1.0.0: %v; calls:\n%s", err, strings.Join(calls, "\n"))
	}
	if e.read(t, "group") != group || e.read(t, "passwd") != passwd || e.read(t, "members") != members {
		t.Errorf("an upgrade changed the accounts:\ngroup:\n%s\npasswd:\n%s\nmembers:\n%s", e.read(t, "group"), e.read(t, "passwd"), e.read(t, "members"))
	}
	for _, c := range calls {
		if strings.HasPrefix(c, "addgroup") || strings.HasPrefix(c, "adduser --quiet --system") {
			t.Errorf("upgrade re-created an account: %q", c)
		}
	}
	if strings.Contains(out, "edit") {
		t.Errorf("an upgrade should not print the first-install hint; stdout: %q", out)
	}
	if systemdRunning() && !slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, "try-restart waysided.service") }) {
		t.Errorf("an upgrade should try-restart the running daemon; calls:\n%s", strings.Join(calls, "\n"))
	}
}

// TestPostinstSecuresConfig: the configuration may hold a cloud key, so postinst makes it 0640
// root:wayside on every configure, also when an upgrade kept an edited conffile that an older
// package shipped 0644; a dpkg-statoverride for it is the administrator's and wins.
func TestPostinstSecuresConfig(t *testing.T) {
	for _, override := range []bool{false, true} {
		e := newScriptEnv(t)
		conf := filepath.Join(e.root(), "etc/wayside/waysided.yaml")
		if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(conf, []byte("cloud: {azure: {key: secret}}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if override {
			e.write(t, "statoverride", "")
		}
		if _, calls, err := e.run(t, "postinst", "configure", "1.0.0"); err != nil {
			t.Fatalf("postinst configure 1.0.0: %v; calls:\n%s", err, strings.Join(calls, "\n"))
		}
		calls := e.read(t, "calls")
		fi, err := os.Stat(conf)
		if err != nil {
			t.Fatal(err)
		}
		chown := "chown root:wayside " + conf
		if override {
			if strings.Contains(calls, "chown ") || fi.Mode().Perm() != 0o644 {
				t.Errorf("with a dpkg-statoverride: mode %v, calls:\n%s\nwant the file left alone", fi.Mode().Perm(), calls)
			}
			continue
		}
		if !strings.Contains(calls, chown) {
			t.Errorf("postinst did not run %q; calls:\n%s", chown, calls)
		}
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("config mode %v after postinst, want 0640 (it may hold a cloud key)", fi.Mode().Perm())
		}
	}
}

func TestPostinstKeepsServiceDisabled(t *testing.T) {
	e := newScriptEnv(t)
	e.write(t, "disabled", "")
	_, calls, err := e.run(t, "postinst", "configure", "1.0.0")
	if err != nil {
		t.Fatalf("postinst: %v", err)
	}
	if slices.Contains(calls, "deb-systemd-helper enable waysided.service") {
		t.Error("postinst re-enabled a service the administrator had disabled")
	}
	if !slices.Contains(calls, "deb-systemd-helper update-state waysided.service") {
		t.Errorf("postinst did not update deb-systemd-helper's state; calls:\n%s", strings.Join(calls, "\n"))
	}
}

func TestPrermPostrm(t *testing.T) {
	e := newScriptEnv(t)
	_, calls, err := e.run(t, "prerm", "remove")
	if err != nil {
		t.Fatalf("prerm remove: %v", err)
	}
	stopped := slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, "stop waysided.service") })
	if stopped != systemdRunning() {
		t.Errorf("prerm remove: stopped %v with systemd running %v; calls:\n%s", stopped, systemdRunning(), strings.Join(calls, "\n"))
	}
	if _, calls, err = e.run(t, "prerm", "upgrade", "1.0.0"); err != nil || len(calls) != 0 {
		t.Errorf("prerm upgrade: %v, calls %v: an upgrade keeps the daemon running until postinst restarts it", err, calls)
	}
	if _, calls, err = e.run(t, "postrm", "remove"); err != nil || !slices.Contains(calls, "deb-systemd-helper mask waysided.service") {
		t.Errorf("postrm remove: %v; calls:\n%s", err, strings.Join(calls, "\n"))
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if _, _, err := e.run(t, script, "no-such-action"); err == nil {
			t.Errorf("%s no-such-action succeeded; dpkg's unknown actions must fail", script)
		}
	}
}

func memberships(s string) []string {
	var m []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			m = append(m, line)
		}
	}
	slices.Sort(m)
	return m
}

// TestDeviceGroupsAgree checks the three places that name the device groups: the groups postinst
// creates and puts the wayside user in, the unit's SupplementaryGroups=, and the groups the udev
// rules give the bus nodes to.
func TestDeviceGroupsAgree(t *testing.T) {
	post, err := os.ReadFile("scripts/postinst")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^groups="([^"]*)"$`).FindSubmatch(post)
	if m == nil {
		t.Fatal(`postinst has no groups="..." line`)
	}
	created := strings.Fields(string(m[1]))
	unitGroups := parseUnit(t, unitPath).words("Service", "SupplementaryGroups")
	if !sameSet(created, unitGroups) {
		t.Errorf("postinst creates groups %v, the unit runs with SupplementaryGroups=%v: they must match", created, unitGroups)
	}
	rules, err := os.ReadFile("60-wayside.rules")
	if err != nil {
		t.Fatal(err)
	}
	ruleGroups := regexp.MustCompile(`GROUP="([^"]+)"`).FindAllSubmatch(rules, -1)
	if len(ruleGroups) == 0 {
		t.Fatal("60-wayside.rules assigns no group")
	}
	for _, g := range ruleGroups {
		if !slices.Contains(created, string(g[1])) {
			t.Errorf("60-wayside.rules gives nodes to group %s, which postinst does not create", g[1])
		}
	}
}
