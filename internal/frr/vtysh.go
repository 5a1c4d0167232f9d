package frr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// DefaultVtyshTimeout bounds one vtysh call when Vtysh.Timeout is zero.
const DefaultVtyshTimeout = 30 * time.Second

// Vtysh runs vtysh against one FRR instance.
type Vtysh struct {
	Pathspace string        // -N; "" = the default instance
	VtySocket string        // --vty_socket when not the default for Pathspace
	Timeout   time.Duration // per call; 0 = DefaultVtyshTimeout
	// Daemon (-d) talks to one daemon only: its own running-config, not the view vtysh
	// merges over all daemons. "" = every daemon that runs.
	Daemon string

	command string // the vtysh binary; "" = vtysh from PATH (tests put a fake here)
	run     func(ctx context.Context, timeout time.Duration, argv []string) (string, error)
}

// ForDaemon returns v talking to daemon d only (zebra, bgpd, bfdd).
func (v Vtysh) ForDaemon(d string) Vtysh {
	v.Daemon = d
	return v
}

// Run runs the commands in one vtysh call and returns the output.
func (v Vtysh) Run(ctx context.Context, cmds ...string) (string, error) {
	argv := v.argv()
	for _, c := range cmds {
		argv = append(argv, "-c", c)
	}
	return v.exec(ctx, argv)
}

// LoadFile sends every line of file to the daemons (or to Daemon only) with `vtysh -f`.
// vtysh exits 0 even when a daemon the file needs is not running: the lines then went
// nowhere. Callers verify per daemon afterwards (see Reloader.verifyDaemons).
func (v Vtysh) LoadFile(ctx context.Context, file string) (string, error) {
	return v.exec(ctx, append(v.argv(), "-f", file))
}

func (v Vtysh) argv() []string {
	cmd := v.command
	if cmd == "" {
		cmd = "vtysh"
	}
	argv := append([]string{cmd}, instanceArgs("-N", v.Pathspace, v.VtySocket)...)
	if v.Daemon != "" {
		argv = append(argv, "-d", v.Daemon)
	}
	return argv
}

func (v Vtysh) exec(ctx context.Context, argv []string) (string, error) {
	timeout := v.Timeout
	if timeout == 0 {
		timeout = DefaultVtyshTimeout
	}
	run := v.run
	if run == nil {
		run = runCommand
	}
	return run(ctx, timeout, argv)
}

// RunningConfig returns `show running-config` without vtysh's "Building configuration..."
// preamble, starting at the "frr version" line, with BGP passwords redacted: this is the
// copy for status output and logs.
func (v Vtysh) RunningConfig(ctx context.Context) (string, error) {
	out, err := v.runningConfig(ctx)
	return redact(out), redactErr(err)
}

// runningConfig is RunningConfig with the passwords, for comparing with the rendered text.
func (v Vtysh) runningConfig(ctx context.Context) (string, error) {
	out, err := v.Run(ctx, "show running-config")
	if err != nil {
		return "", err
	}
	if _, after, ok := strings.Cut(out, "Current configuration:\n"); ok {
		out = strings.TrimPrefix(after, "!\n")
	}
	return out, nil
}

// instanceArgs selects the FRR instance for vtysh or frr-reload.py. The socket directory is
// only passed when it differs from the pathspace's default, so the common case stays short.
func instanceArgs(pathspaceFlag, pathspace, vtySocket string) []string {
	var args []string
	if pathspace != "" {
		args = append(args, pathspaceFlag, pathspace)
	}
	if vtySocket != "" && !isDefaultSocketDir(pathspace, vtySocket) {
		args = append(args, "--vty_socket", vtySocket)
	}
	return args
}

func isDefaultSocketDir(pathspace, dir string) bool {
	dir = filepath.Clean(dir)
	for _, root := range []string{"/var/run/frr", "/run/frr"} {
		if dir == filepath.Join(root, pathspace) {
			return true
		}
	}
	return false
}

// runCommand runs argv with its own timeout under ctx and returns its standard output. A
// failure's error ends with the tail of standard error, or of standard output when standard
// error is empty (vtysh reports there). On timeout the whole process group is killed:
// frr-reload.py runs vtysh children that would otherwise keep the output pipes open.
func runCommand(ctx context.Context, timeout time.Duration, argv []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	out := stdout.String()
	if err == nil {
		return out, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w (%w)", ctxErr, err)
	}
	err = fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	report := ansi.ReplaceAllString(stderr.String(), "")
	if strings.TrimSpace(report) == "" {
		report = out
	}
	if t := tail(report, 20); t != "" {
		err = fmt.Errorf("%w\n%s", err, t)
	}
	return out, err
}

// ansi matches the colour codes frr-reload.py puts around ERROR and WARNING.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// tail returns the last n lines of out, for error messages.
func tail(out string, n int) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
