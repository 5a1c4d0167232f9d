package config

// GracefulRestart is BGP graceful restart (RFC 4724) for the node's BGP instance: with it the
// ToRs, as GR helpers, keep the node's routes (marked stale) while bgpd or the whole FRR
// restarts, instead of withdrawing them, and drop what the restarted bgpd does not announce
// again. On by default: the node's forwarding (addresses on the NIC, the agent's rules and
// routes) never depends on FRR running, so the node also tells the ToRs it preserved its
// forwarding state. The README says what the ToRs and BFD need for a hitless restart.
type GracefulRestart struct {
	Enabled bool `mapstructure:"enabled"` // default true; false: no graceful restart
	// RestartTime is how long the ToRs keep the routes for a restarting bgpd, in seconds;
	// 0 leaves FRR's 120.
	RestartTime uint16 `mapstructure:"restart_time"`
	// StalePathTime is how long this node keeps the stale routes of a restarting peer, in
	// seconds; 0 leaves FRR's 360.
	StalePathTime uint16 `mapstructure:"stale_path_time"`
}

// FRR's ranges for `bgp graceful-restart restart-time` and `stalepath-time`.
const grMaxTime = 4095

func validateGracefulRestart(ps *problems, g GracefulRestart) {
	if g.RestartTime > grMaxTime {
		ps.addGot("bgp.graceful_restart.restart_time", g.RestartTime, "must be 0 (FRR's 120) or 1..4095 seconds")
	}
	if g.StalePathTime > grMaxTime {
		ps.addGot("bgp.graceful_restart.stale_path_time", g.StalePathTime, "must be 0 (FRR's 360) or 1..4095 seconds")
	}
}
