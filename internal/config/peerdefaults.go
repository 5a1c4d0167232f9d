package config

// PeerBFDDefault is a peer's bfd when the file leaves it out: BFD on every ToR session, as the
// seed's design wants (a failed uplink is noticed in under a second, not at the hold time).
const PeerBFDDefault = true

// peerDefaults fills the per-peer defaults into the file's checked values. Lists of sections
// get no defaults from viper (it knows only scalar keys), so a key a peer leaves out is set
// here, before decoding; a key written in the file is kept as written.
func peerDefaults(values map[string]any) {
	bgp, ok := values["bgp"].(map[string]any)
	if !ok {
		return
	}
	// A group's members take BFD from the group, which gets the default like a peer.
	for _, list := range []string{"peers", "peer_groups"} {
		entries, _ := bgp[list].([]any)
		for _, p := range entries {
			m, ok := p.(map[string]any)
			if !ok {
				continue
			}
			_, set := m["bfd"]
			_, member := m["peer_group"]
			if !set && !member {
				m["bfd"] = PeerBFDDefault
			}
		}
	}
}
