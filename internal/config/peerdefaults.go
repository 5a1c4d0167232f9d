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
	peers, _ := bgp["peers"].([]any)
	for _, p := range peers {
		if m, ok := p.(map[string]any); ok {
			if _, set := m["bfd"]; !set {
				m["bfd"] = PeerBFDDefault
			}
		}
	}
}
