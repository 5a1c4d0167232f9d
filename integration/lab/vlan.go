package lab

import (
	"context"
	"strconv"
)

// AddVLANProviderNetwork writes what neutron writes for a VLAN provider network: logical
// switch ls with a localnet port on physnet tagged vid, so that ovn-controller tags the
// network's frames on the physnet's bridge.
func (l *Lab) AddVLANProviderNetwork(ctx context.Context, ls, physnet string, vid int) error {
	localnet := "provnet-" + ls
	_, err := l.NBCtl(ctx,
		"ls-add", ls, "--", "set", "logical_switch", ls, `external_ids:"neutron:network_name"=`+ls,
		"--", "lsp-add", ls, localnet, "--", "lsp-set-type", localnet, "localnet",
		"--", "lsp-set-addresses", localnet, "unknown",
		"--", "lsp-set-options", localnet, "network_name="+physnet,
		"--", "set", "logical_switch_port", localnet, "tag="+strconv.Itoa(vid))
	if err != nil {
		return err
	}
	l.logf("  OVN: VLAN provider network %s (VLAN %d on %s)", ls, vid, physnet)
	return nil
}
