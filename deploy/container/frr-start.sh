#!/bin/bash
# FRR image entry point: watchfrr, in the foreground, starts and restarts the daemons enabled
# in /etc/frr/daemons (which the pod's init container writes), each with its options there.
# (No -u: frrcommon.sh reads variables it may not have set.)
set -eo pipefail
install -d -o frr -g frr -m 755 /var/run/frr
. /usr/lib/frr/frrcommon.sh
exec /usr/lib/frr/watchfrr $(daemon_list)
