#!/bin/bash
# ovn-bgp-agent/ovn-central entry point: NB and SB listening on TCP, ovn-northd, then it
# follows northd's log in the foreground.
set -euo pipefail
/usr/share/ovn/scripts/ovn-ctl start_northd \
  --db-nb-create-insecure-remote=yes --db-sb-create-insecure-remote=yes
exec tail -F /var/log/ovn/ovn-northd.log
