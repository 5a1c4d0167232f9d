#!/bin/bash
# ovn-bgp-agent/node entry point: OVS (userspace datapath works without the kernel module),
# ovn-controller, FRR (zebra, bgpd, bfdd), then the agent once its configuration is bound in.
set -euo pipefail
/usr/share/openvswitch/scripts/ovs-ctl start --no-ovs-vswitchd --system-id=random
/usr/share/openvswitch/scripts/ovs-ctl start --no-ovsdb-server --no-monitor
/usr/share/ovn/scripts/ovn-ctl start_controller
# A daemons file the topology binds (faults.clab.yml) is used as it is: it cannot be edited in place.
if grep -q -e '^bgpd=no' -e '^bfdd=no' /etc/frr/daemons; then
    sed -i -e 's/^bgpd=no/bgpd=yes/' -e 's/^bfdd=no/bfdd=yes/' /etc/frr/daemons
fi
/usr/lib/frr/frrinit.sh start
config=/etc/ovn-bgp-agent/config.yaml
while [ ! -e "$config" ]; do sleep 1; done
exec /usr/bin/ovn-bgp-agent run --config "$config"
