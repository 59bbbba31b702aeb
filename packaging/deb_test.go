package packaging

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wayside-iot/wayside/gateway/config"
)

// debArch maps GOARCH to the Debian architecture make deb builds for it.
var debArch = map[string]string{"amd64": "amd64", "arm64": "arm64", "arm": "armhf"}

// TestDebianVersion checks how deb.sh turns git describe output into a package version: valid for
// dpkg, and ordered the way releases and the commits between them are.
func TestDebianVersion(t *testing.T) {
	dpkg := needTool(t, "dpkg", "dpkg")
	cases := []struct{ describe, want string }{
		{"v1.2.0", "1.2.0"},
		{"v1.2.0-rc1", "1.2.0~rc1"},
		{"v1.2.0-3-gabc1234", "1.2.0+3.gabc1234"},
		{"v1.2.0-3-gabc1234-dirty", "1.2.0+3.gabc1234.dirty"},
		{"v1.2.0-dirty", "1.2.0+dirty"},
		{"974e6b1", "0.0.0+git.974e6b1"},
		{"1234567-dirty", "0.0.0+git.1234567.dirty"}, // an all-digit hash is not a release
		{"dev", "0.0.0+git.dev"},                     // no git at all
	}
	got := map[string]string{}
	for _, c := range cases {
		out, err := exec.Command("bash", "deb.sh", "--debian-version", c.describe).CombinedOutput()
		v := strings.TrimSpace(string(out))
		if err != nil || v != c.want {
			t.Errorf("deb.sh --debian-version %s = %q (%v), want %s", c.describe, v, err, c.want)
			continue
		}
		if out, err := exec.Command(dpkg, "--validate-version", v).CombinedOutput(); err != nil {
			t.Errorf("%s -> %s: dpkg refuses it: %s", c.describe, v, out)
		}
		got[c.describe] = v
	}
	// Each pair is older < newer in dpkg's order: what apt upgrades from and to.
	for _, p := range [][2]string{
		{"974e6b1", "v1.2.0-rc1"},
		{"v1.2.0-rc1", "v1.2.0"},
		{"v1.2.0", "v1.2.0-dirty"},
		{"v1.2.0", "v1.2.0-3-gabc1234"},
		{"v1.2.0-3-gabc1234", "v1.2.0-3-gabc1234-dirty"},
	} {
		older, newer := got[p[0]], got[p[1]]
		if older == "" || newer == "" {
			continue // already reported
		}
		if err := exec.Command(dpkg, "--compare-versions", older, "lt", newer).Run(); err != nil {
			t.Errorf("dpkg does not order %s (%s) before %s (%s)", older, p[0], newer, p[1])
		}
	}
}

// TestDebPackage builds the package for this machine's architecture with make deb, unpacks it as
// dpkg would install it, and runs what it installed. With a warm build cache make deb takes ~12s; cold
// it compiles nfpm too (~2.5 min on a busy 2-core machine), so -short skips it.
func TestDebPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping make deb (it compiles nfpm and both binaries)")
	}
	dpkgDeb := needTool(t, "dpkg-deb", "dpkg")
	makeBin := needTool(t, "make", "make")
	arch, ok := debArch[runtime.GOARCH]
	if !ok {
		t.Skipf("make deb builds no package for GOARCH %s", runtime.GOARCH)
	}
	// A version of our choosing, to check the stamping and the Debian version made from it.
	const version = "v1.2.3-4-gdeadbee-dirty"
	const debVersion = "1.2.3+4.gdeadbee.dirty"

	dist := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, makeBin, "-C", "..", "deb", "DIST="+dist, "DEB_ARCHES="+arch, "VERSION="+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	t.Logf("make deb (%s) took %v", arch, time.Since(start).Round(100*time.Millisecond))

	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	wantName := "wayside_" + debVersion + "_" + arch + ".deb"
	if len(debs) != 1 || filepath.Base(debs[0]) != wantName {
		t.Fatalf("make deb wrote %v, want one package %s", debs, wantName)
	}
	deb := debs[0]
	if fi, err := os.Stat(deb); err == nil {
		t.Logf("%s: %.1f MiB", wantName, float64(fi.Size())/(1<<20))
	}

	t.Run("control", func(t *testing.T) {
		out, err := exec.Command(dpkgDeb, "--field", deb).Output()
		if err != nil {
			t.Fatalf("dpkg-deb --field: %v", err)
		}
		fields := controlFields(string(out))
		for k, want := range map[string]string{
			"Package": "wayside", "Version": debVersion, "Architecture": arch, "Depends": "adduser",
			"Homepage": "https://github.com/wayside-iot/wayside",
		} {
			if fields[k] != want {
				t.Errorf("control %s: %q, want %q", k, fields[k], want)
			}
		}
		for _, k := range []string{"Maintainer", "Description"} {
			if fields[k] == "" {
				t.Errorf("control has no %s", k)
			}
		}
	})

	root, ctrl := t.TempDir(), t.TempDir()
	if out, err := exec.Command(dpkgDeb, "--extract", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --extract: %v\n%s", err, out)
	}
	if out, err := exec.Command(dpkgDeb, "--control", deb, ctrl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --control: %v\n%s", err, out)
	}

	t.Run("files", func(t *testing.T) {
		want := map[string]struct {
			mode   fs.FileMode
			source string // file in the repository it must equal, if any
		}{
			"usr/bin/waysided":                                                  {0o755, ""},
			"usr/bin/wayside":                                                   {0o755, ""},
			"usr/libexec/wayside/check-configured":                              {0o755, "check-configured"},
			"lib/systemd/system/waysided.service":                               {0o644, unitPath},
			"etc/wayside/waysided.yaml":                                         {0o640, "waysided.yaml"}, // a cloud key may go in it
			"usr/share/doc/wayside/copyright":                                   {0o644, "copyright"},
			"lib/udev/rules.d/60-wayside.rules":                                 {0o644, "60-wayside.rules"},
			"usr/share/doc/wayside/examples/waysided.yaml":                      {0o644, "../configs/example.yaml"},
			"usr/share/doc/wayside/examples/modbus/eastron-sdm72d-m.yaml":       {0o644, "../configs/modbus/eastron-sdm72d-m.yaml"},
			"usr/share/doc/wayside/examples/modbus/seeed-s-temp-vwc-ec-02.yaml": {0o644, "../configs/modbus/seeed-s-temp-vwc-ec-02.yaml"},
			"usr/share/doc/wayside/changelog.gz":                                {0o644, ""},
			"usr/share/man/man8/waysided.8.gz":                                  {0o644, ""},
			"usr/share/man/man1/wayside.1.gz":                                   {0o644, ""},
			"usr/share/lintian/overrides/wayside":                               {0o644, "lintian-overrides"},
		}
		for rel, w := range want {
			fi, err := os.Lstat(filepath.Join(root, rel))
			if err != nil {
				t.Errorf("package lacks /%s: %v", rel, err)
				continue
			}
			if !fi.Mode().IsRegular() || fi.Mode().Perm() != w.mode {
				t.Errorf("/%s: mode %v, want a regular file %v", rel, fi.Mode(), w.mode)
			}
			if w.source != "" {
				sameContent(t, filepath.Join(root, rel), w.source)
			}
		}
		// Nothing else: a stray file would be installed on every gateway.
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if _, ok := want[rel]; !ok {
				t.Errorf("package installs an unexpected file /%s", rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(root, "usr/share/doc/wayside/copyright")); err == nil && !bytes.Contains(b, []byte("License: Apache-2.0")) {
			t.Error("copyright does not say License: Apache-2.0")
		}
	})

	t.Run("changelog", func(t *testing.T) {
		b := gunzip(t, filepath.Join(root, "usr/share/doc/wayside/changelog.gz"))
		// Debian policy 4.4: "package (version) distribution(s); urgency=urgency", then the items, then
		// the " -- maintainer  date" trailer.
		first, _, _ := strings.Cut(string(b), "\n")
		if want := "wayside (" + debVersion + ") unstable; urgency=medium"; first != want {
			t.Errorf("changelog starts %q, want %q", first, want)
		}
		if !regexp.MustCompile(`(?m)^ -- .+ <.+>  \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$`).Match(b) {
			t.Errorf("changelog has no \" -- NAME <EMAIL>  RFC 2822 date\" trailer:\n%s", b)
		}
	})

	t.Run("man pages", func(t *testing.T) {
		// Each page's DESCRIPTION is the binary's own help text; the packaged binaries run here (the
		// package is for this machine), so their help must be what the page says.
		for _, p := range []struct {
			page string
			args []string
		}{
			{"usr/share/man/man8/waysided.8.gz", []string{"usr/bin/waysided", "-h"}},
			{"usr/share/man/man1/wayside.1.gz", []string{"usr/bin/wayside", "help"}},
		} {
			help, _ := exec.Command(filepath.Join(root, p.args[0]), p.args[1:]...).CombinedOutput()
			if len(help) == 0 {
				t.Errorf("%s %s printed nothing", p.args[0], p.args[1])
				continue
			}
			roff := string(gunzip(t, filepath.Join(root, p.page)))
			name := strings.TrimSuffix(filepath.Base(p.page), ".gz")
			wantTH := ".TH " + strings.ToUpper(strings.Split(name, ".")[0]) + " " + strings.Split(name, ".")[1] + " "
			if !strings.Contains(roff, "\n"+wantTH) || !strings.Contains(roff, "\n.SH NAME\n") {
				t.Errorf("%s: no %q or NAME section:\n%s", p.page, wantTH, roff)
			}
			_, body, ok := strings.Cut(roff, "\n.nf\n")
			body, _, ok2 := strings.Cut(body, ".fi\n")
			if !ok || !ok2 {
				t.Errorf("%s: no .nf/.fi block:\n%s", p.page, roff)
				continue
			}
			if got, want := unroff(body), expandTabs(string(help)); got != want {
				t.Errorf("%s does not hold %s's help text:\n%s\nwant:\n%s", p.page, p.args[0], got, want)
			}
		}
	})

	t.Run("lintian", func(t *testing.T) {
		if arch != "amd64" {
			t.Skipf("lintian runs on the amd64 package (CI's); this machine builds %s", arch)
		}
		lintian := needTool(t, "lintian", "lintian")
		// Overridden tags (packaging/lintian-overrides, each with its reason) show as O:; any error or
		// warning, or an override that no longer matches anything (unused-override, an I: tag), fails.
		out, _ := exec.Command(lintian, "--tag-display-limit", "0", "--show-overrides", "--display-info", deb).CombinedOutput()
		var bad, overridden []string
		for line := range strings.Lines(string(out)) {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "E: "), strings.HasPrefix(line, "W: "), strings.Contains(line, "unused-override"),
				strings.Contains(line, "mismatched-override"):
				bad = append(bad, line)
			case strings.HasPrefix(line, "O: "):
				overridden = append(overridden, line)
			}
		}
		if len(bad) > 0 {
			t.Errorf("lintian %s:\n%s\n\nfull output:\n%s", filepath.Base(deb), strings.Join(bad, "\n"), out)
		}
		if len(overridden) == 0 {
			t.Errorf("lintian showed no overridden tag: are the overrides installed? output:\n%s", out)
		}
		t.Logf("lintian: no errors or warnings; overridden:\n%s", strings.Join(overridden, "\n"))
	})

	t.Run("binaries", func(t *testing.T) {
		for _, name := range []string{"waysided", "wayside"} {
			p := filepath.Join(root, "usr/bin", name)
			checkStaticELF(t, p)
			if fi, err := os.Stat(p); err == nil {
				t.Logf("/usr/bin/%s: %.1f MiB", name, float64(fi.Size())/(1<<20))
			}
		}
		out, err := exec.Command(filepath.Join(root, "usr/bin/waysided"), "-version").CombinedOutput()
		if got, want := strings.TrimSpace(string(out)), "waysided "+version; err != nil || got != want {
			t.Errorf("waysided -version: %q (%v), want %q", got, err, want)
		}
		// wayside version prints its own version, then fails to reach a daemon: only stdout counts.
		cli := exec.Command(filepath.Join(root, "usr/bin/wayside"), "--socket", filepath.Join(t.TempDir(), "none.sock"), "version")
		var stdout bytes.Buffer
		cli.Stdout = &stdout
		_ = cli.Run()
		if want := "wayside " + version + " "; !strings.HasPrefix(stdout.String(), want) {
			t.Errorf("wayside version: %q, want it to start with %q", stdout.String(), want)
		}
	})

	t.Run("config", func(t *testing.T) {
		// The shipped config says id: auto, which the real binary derives from this host's machine id
		// (scripts/deps.sh makes one as root). Whatever the host has, the binary must agree with the
		// config package: the same id, or, without a usable machine id, the same advice.
		cfg := filepath.Join(root, "etc/wayside/waysided.yaml")
		out, err := exec.Command(filepath.Join(root, "usr/bin/waysided"), "-check-config", cfg).CombinedOutput()
		want, wantErr := config.Load(cfg, nil)
		switch {
		case wantErr == nil:
			if line := "valid (gateway " + want.Gateway.IDText() + ", "; err != nil || !bytes.Contains(out, []byte(line)) ||
				!strings.HasPrefix(want.Gateway.ID, "gw-") {
				t.Errorf("waysided -check-config on the installed config: %v\n%s\nwant %q", err, out, line)
			}
		case err == nil || !bytes.Contains(out, []byte("gateway.id: auto: ")) || !bytes.Contains(out, []byte("systemd-machine-id-setup")):
			t.Errorf("waysided -check-config on a host without a usable machine id (%v): %v\n%s", wantErr, err, out)
		}
		b, err := os.ReadFile(filepath.Join(ctrl, "conffiles"))
		if err != nil {
			t.Fatalf("package has no conffiles: %v", err)
		}
		if got := strings.Fields(string(b)); len(got) != 1 || got[0] != "/etc/wayside/waysided.yaml" {
			t.Errorf("conffiles %q, want exactly /etc/wayside/waysided.yaml", b)
		}
	})

	t.Run("maintainer scripts", func(t *testing.T) {
		for _, name := range []string{"preinst", "postinst", "prerm", "postrm"} {
			p := filepath.Join(ctrl, name)
			fi, err := os.Stat(p)
			if err != nil {
				t.Errorf("package has no %s: %v", name, err)
				continue
			}
			if fi.Mode().Perm() != 0o755 {
				t.Errorf("%s: mode %v, want 0755", name, fi.Mode().Perm())
			}
			sameContent(t, p, filepath.Join("scripts", name))
			if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
				t.Errorf("sh -n %s: %v\n%s", name, err, out)
			}
		}
	})
}

// controlFields parses dpkg-deb --field output (continuation lines belong to the field above).
func controlFields(s string) map[string]string {
	fields := map[string]string{}
	key := ""
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, " ") && key != "" {
			fields[key] += "\n" + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if ok {
			key = k
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

// checkStaticELF fails unless path is an executable for this machine with no dynamic loader (the
// package has no library dependencies, so the binaries must be static: CGO_ENABLED=0).
func checkStaticELF(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: not an ELF executable: %v", path, err)
		return
	}
	defer f.Close()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM}[runtime.GOARCH]
	if f.Machine != machine {
		t.Errorf("%s: machine %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: dynamically linked (has an interpreter): build with CGO_ENABLED=0", path)
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s: not stripped (has .symtab): build with -ldflags -s -w", path)
	}
}

// gunzip returns the decompressed content of a gzip file.
func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// unroff undoes packaging/manpage.sh's escaping of verbatim text (groff_man(7)): \& before a leading
// dot or quote, \- for a minus sign, \e for a backslash.
func unroff(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		line = strings.TrimPrefix(line, `\&`)
		line = strings.ReplaceAll(line, `\-`, "-")
		b.WriteString(strings.ReplaceAll(line, `\e`, `\`))
	}
	return b.String()
}

// expandTabs replaces tabs with spaces to the next multiple of 8 columns, as expand(1) does.
func expandTabs(s string) string {
	var b strings.Builder
	col := 0
	for _, r := range s {
		switch r {
		case '\t':
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case '\n':
			b.WriteRune(r)
			col = 0
		default:
			b.WriteRune(r)
			col++
		}
	}
	return b.String()
}

func sameContent(t *testing.T, got, want string) {
	t.Helper()
	a, err := os.ReadFile(got)
	if err != nil {
		t.Error(err)
		return
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Error(err)
		return
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s differs from %s", got, want)
	}
}
