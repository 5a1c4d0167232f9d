// Command ovn-bgp-agent makes an OpenStack-on-OVN node advertise its workloads over BGP
// through the FRR next to it. This file only wires things: flags, subcommands, signals.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: ovn-bgp-agent <command> [--config FILE]

commands:
  run            run the agent
  explain IP     say whether this node exposes IP and why, or why not (--output text|json)
  status         show the running agent's state: exposed prefixes, BGP and BFD sessions, last
                 reconcile and FRR apply (--output text|json; --address HOST:PORT, default
                 from metrics.listen); exit 0 ready, 3 not ready, 1 agent not reachable
  check-config   validate the configuration; exit 0 when valid, 2 naming every bad key
  render         print the frr.conf the agent would apply, BGP passwords redacted
                 (--show-secrets prints them)
  version        print the version
`

// exitUsage and exitConfig are the documented exit codes for a bad command line and a bad config.
const (
	exitUsage  = 64
	exitConfig = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return 0
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	output := fs.String("output", "text", "explain, status: text or json")
	address := fs.String("address", "", "status: the agent's metrics.listen address (default: from the configuration)")
	showSecrets := fs.Bool("show-secrets", false, "render: print BGP passwords instead of "+frr.Redacted)
	if err := fs.Parse(rest); err != nil {
		return exitUsage
	}
	var operand string
	if cmd == "explain" && fs.NArg() > 0 {
		// The address may come before or after the flags.
		operand = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return exitUsage
		}
		if operand == "" {
			operand = fs.Arg(0)
		}
	}
	if cmd == "explain" && (operand == "" || (*output != "text" && *output != "json")) {
		fmt.Fprintf(stderr, "usage: ovn-bgp-agent explain IP [--config FILE] [--output text|json]\n")
		return exitUsage
	}
	if cmd == "status" && *output != "text" && *output != "json" {
		fmt.Fprintf(stderr, "usage: ovn-bgp-agent status [--config FILE | --address HOST:PORT] [--output text|json]\n")
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments: %s\n", cmd, strings.Join(fs.Args(), " "))
		return exitUsage
	}

	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "ovn-bgp-agent", version)
		return 0
	case "status":
		if *address != "" {
			addr, err := statusAddress(*address)
			if err != nil {
				fmt.Fprintf(stderr, "status: %v\n", err)
				return exitUsage
			}
			return status(context.Background(), addr, *output, stdout, stderr)
		}
	case "check-config", "render", "run", "explain":
	default:
		fmt.Fprintf(stderr, "unknown command %q\n%s", cmd, usage)
		return exitUsage
	}

	// The one validation: start-up, check-config and a live reload (config.Reloader) all take
	// exactly the files config.LoadWithWarnings takes, password and extra-config files included.
	cfg, warnings, err := config.LoadWithWarnings(*cfgPath, os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "invalid configuration:\n%v\n", err)
		return exitConfig
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	switch cmd {
	case "check-config":
		fmt.Fprintf(stdout, "configuration is valid\n")
		return 0
	case "render":
		// Only a file that vanished since it was validated fails here.
		text, err := frr.NewManager(cfg, nil).Render()
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
			return exitConfig
		}
		if !*showSecrets {
			text = []byte(frr.Redact(string(text)))
		}
		stdout.Write(text)
		return 0
	}

	if cmd == "status" {
		addr, err := statusAddress(cfg.Metrics.Listen)
		if err != nil {
			fmt.Fprintf(stderr, "status: %v\n", err)
			return exitConfig
		}
		return status(context.Background(), addr, *output, stdout, stderr)
	}
	// What the agent and its children create holds BGP passwords (frr-reload.py's
	// reload-*.txt gets the process umask) or is the agent's own: nobody else reads it.
	syscall.Umask(0o077)
	level := new(slog.LevelVar)
	log := newLogger(cfg.Log, level, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if cmd == "explain" {
		// Only warnings: the answer goes to stdout, connection chatter would bury it.
		quiet := newLogger(config.Log{Level: "warn", Format: cfg.Log.Format}, new(slog.LevelVar), stderr)
		if err := explain(ctx, cfg, operand, *output, stdout, quiet); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	setGCPercent(os.Getenv, log)
	setMemoryLimit(log)
	if err := runAgent(ctx, agentInput{cfg: cfg, path: *cfgPath, environ: os.Environ(), level: level}, log); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("agent stopped", "err", err)
		return 1
	}
	log.Info("agent stopped; exposed state left in place")
	return 0
}

// newLogger logs at the level in level, which it sets from c; a reloaded configuration
// changes it by setting level again.
func newLogger(c config.Log, level *slog.LevelVar, w io.Writer) *slog.Logger {
	setLevel(level, c.Level)
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func setLevel(v *slog.LevelVar, name string) {
	var l slog.Level
	_ = l.UnmarshalText([]byte(name)) // validated by config
	v.Set(l)
}
