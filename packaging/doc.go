// Package packaging owns how Wayside is installed on a gateway: the Debian package that make deb
// builds with nfpm (nfpm.yaml, deb.sh), its maintainer scripts (scripts/), the configuration it ships
// as a conffile (waysided.yaml), and the tests that hold the systemd unit (../systemd/waysided.service)
// to its contract: the directives the daemon relies on, systemd-analyze verify, and an exposure score
// from systemd-analyze security below 2.0. The package test also holds the .deb to lintian (errors and
// warnings fail, overrides in lintian-overrides carry their reasons), its man pages to the binaries'
// help (manpage.sh) and its configuration to mode 0640. It has no Go API; its tests are the point.
package packaging
