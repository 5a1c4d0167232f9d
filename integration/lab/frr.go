package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	frrDaemonDir = "/usr/lib/frr"
	frrConfRoot  = "/etc/frr"
	frrRunRoot   = "/var/run/frr"
)

// FRR is one FRR instance (zebra, bgpd, bfdd; mgmtd too from FRR 9 on) with its own
// pathspace, running in a netns.
type FRR struct {
	Name  string // pathspace (-N); also the directory name under /etc/frr and /var/run/frr
	Netns string
	Root  string // "": the host's FRR; else a Debian root (TrixieRoot) it runs from, chrooted
	// Options are each daemon's extra arguments (DaemonOptions), also on a restart.
	Options map[string][]string
	procs   []*Proc
	logDir  string
}

// ConfDir is /etc/frr/<pathspace>, where frr.conf lives, as a host path (under Root).
func (f *FRR) ConfDir() string { return filepath.Join(f.Root, frrConfRoot, f.Name) }

// ConfigFile is the integrated config the instance loads with `vtysh -b`, as a host path.
func (f *FRR) ConfigFile() string { return filepath.Join(f.ConfDir(), "frr.conf") }

// RunDir is /var/run/frr/<pathspace>, where the vty sockets live, as a host path. Under a
// root it is <root>/run/frr: the root's /var/run is a link that must not lead to the host's.
func (f *FRR) RunDir() string {
	if f.Root != "" {
		return filepath.Join(f.Root, "/run/frr", f.Name)
	}
	return filepath.Join(frrRunRoot, f.Name)
}

// StartFRR starts zebra, bgpd and bfdd (and mgmtd: see daemons) for pathspace name inside netns, loads config (may be
// empty) with `vtysh -b`, and waits until vtysh answers. logDir receives the daemon logs.
func StartFRR(ctx context.Context, name, netns, logDir, config string) (*FRR, error) {
	return StartFRRFrom(ctx, "", name, netns, logDir, config)
}

// StartFRRFrom is StartFRR with the FRR of another Debian root (see InRoot); "" is the host's.
func StartFRRFrom(ctx context.Context, root, name, netns, logDir, config string) (*FRR, error) {
	return startFRR(ctx, &FRR{Name: name, Netns: netns, Root: root, logDir: logDir}, config)
}

func startFRR(ctx context.Context, f *FRR, config string) (*FRR, error) {
	root, name := f.Root, f.Name
	uid, gid, err := frrIDs(root)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{f.ConfDir(), f.RunDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(d, uid, gid); err != nil {
			return nil, err
		}
	}
	if config == "" {
		config = "frr defaults traditional\n!\n"
	}
	for file, text := range map[string]string{"vtysh.conf": "", "frr.conf": config} {
		p := filepath.Join(f.ConfDir(), file)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return nil, err
		}
		if err := os.Chown(p, uid, gid); err != nil {
			return nil, err
		}
	}
	for _, d := range f.daemons() {
		p, err := f.startDaemon(ctx, d)
		if err != nil {
			f.Stop()
			return nil, err
		}
		f.procs = append(f.procs, p)
	}
	if err := Poll(ctx, 10*time.Second, "vtysh on "+name, func() (bool, error) {
		_, err := f.Vtysh(ctx, "show version")
		return err == nil, err
	}); err != nil {
		f.Stop()
		return nil, err
	}
	if out, err := Run(ctx, "", nil, InRoot(root, nil, "vtysh", "-N", name, "-b")...); err != nil {
		f.Stop()
		return nil, fmt.Errorf("frr %s: load config: %w: %s", name, err, out)
	}
	return f, nil
}

// startDaemon starts one daemon and waits for its vty socket: zebra must be listening before
// bgpd and bfdd connect to it.
func (f *FRR) startDaemon(ctx context.Context, d string) (*Proc, error) {
	sock := filepath.Join(f.RunDir(), d+".vty")
	// A killed daemon leaves its socket behind; the new one must be seen to listen.
	if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	argv := []string{filepath.Join(frrDaemonDir, d), "-N", f.Name, "-u", "frr", "-g", "frr"}
	if !slices.Contains(f.Options[d], "-A") { // FRR 10 refuses a second -A
		argv = append(argv, "-A", "127.0.0.1")
	}
	p, err := StartProc(f.Name+"-"+d, f.Netns, f.logDir, nil, InRoot(f.Root, nil, append(argv, f.Options[d]...)...)...)
	if err != nil {
		return nil, err
	}
	if err := waitForFile(ctx, sock, p); err != nil {
		p.Stop(5 * time.Second)
		return nil, fmt.Errorf("frr %s: %w", f.Name, err)
	}
	return p, nil
}

// KillDaemon kills one of the instance's daemons (see daemons) with SIGKILL, as a crash would, and waits for it
// to be gone. Its runtime config is lost; RestartDaemon starts it again without config.
func (f *FRR) KillDaemon(name string) error {
	p := f.Daemon(name)
	if p == nil {
		return fmt.Errorf("frr %s: no %s running", f.Name, name)
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return nil
}

// RestartDaemon starts a killed daemon again, with no config, as watchfrr would.
func (f *FRR) RestartDaemon(ctx context.Context, name string) error {
	for i, p := range f.procs {
		if p.Name != f.Name+"-"+name {
			continue
		}
		if !p.Exited() {
			return fmt.Errorf("frr %s: %s is still running", f.Name, name)
		}
		np, err := f.startDaemon(ctx, name)
		if err != nil {
			return err
		}
		f.procs[i] = np
		return nil
	}
	return fmt.Errorf("frr %s: no daemon %s", f.Name, name)
}

// daemons are the daemons the instance runs, in start order: zebra, bgpd and bfdd, and mgmtd
// where the FRR has one (FRR 9 and later; FRR's own init always starts it with zebra). FRR
// 10's vtysh sends zebra's config (route-maps with `set src`, `ip protocol`, `ip nht`) to
// mgmtd, which holds it and passes it on to zebra: without mgmtd those lines go nowhere.
func (f *FRR) daemons() []string {
	if _, err := os.Stat(filepath.Join(f.Root, frrDaemonDir, "mgmtd")); err == nil {
		return []string{"zebra", "mgmtd", "bgpd", "bfdd"}
	}
	return []string{"zebra", "bgpd", "bfdd"}
}

// Vtysh runs one or more commands through vtysh against this instance.
func (f *FRR) Vtysh(ctx context.Context, cmds ...string) (string, error) {
	args := []string{"vtysh", "-N", f.Name}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	return Run(ctx, "", nil, InRoot(f.Root, nil, args...)...)
}

// Command wraps argv (vtysh, frr-reload.py, ...) to run with this instance's FRR programs:
// inside its root, if it has one, with host paths under the root passed as seen inside it.
func (f *FRR) Command(argv ...string) []string {
	if f.Root == "" {
		return argv
	}
	inner := make([]string, len(argv))
	for i, a := range argv {
		if strings.HasPrefix(a, f.Root+"/") {
			a = strings.TrimPrefix(a, f.Root)
		}
		inner[i] = a
	}
	return InRoot(f.Root, nil, inner...)
}

// WriteWrappers writes vtysh and frr-reload.py into dir that run this instance's own
// programs, for a process on the host (the agent) to put first in its PATH. Nothing is
// written for the host's FRR: it returns "".
func (f *FRR) WriteWrappers(dir string) (string, error) {
	if f.Root == "" {
		return "", nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for name, prog := range map[string]string{"vtysh": "vtysh", "frr-reload.py": "/usr/lib/frr/frr-reload.py"} {
		if err := writeRootWrapper(filepath.Join(dir, name), f.Root, prog); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// Daemon returns the running process of one of the instance's daemons, or nil.
func (f *FRR) Daemon(name string) *Proc {
	for _, p := range f.procs {
		if p.Name == f.Name+"-"+name {
			return p
		}
	}
	return nil
}

// Stop stops the daemons (in the reverse of their start order, zebra last) and removes the instance's directories.
func (f *FRR) Stop() error {
	var errs []error
	for i := len(f.procs) - 1; i >= 0; i-- {
		if err := f.procs[i].Stop(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	f.procs = nil
	for _, d := range []string{f.ConfDir(), f.RunDir()} {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func frrIDs(root string) (int, int, error) {
	if root != "" {
		return idsIn(root, "frr")
	}
	u, err := user.Lookup("frr")
	if err != nil {
		return 0, 0, fmt.Errorf("user frr (is the frr package installed?): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// HaveFRR reports the first missing FRR binary, or "" when all are installed.
func HaveFRR() string {
	for _, b := range []string{filepath.Join(frrDaemonDir, "zebra"), filepath.Join(frrDaemonDir, "bgpd"),
		filepath.Join(frrDaemonDir, "bfdd"), "/usr/lib/frr/frr-reload.py"} {
		if _, err := os.Stat(b); err != nil {
			return b
		}
	}
	if _, err := exec.LookPath("vtysh"); err != nil {
		return "vtysh"
	}
	return ""
}
