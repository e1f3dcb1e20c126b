#!/usr/bin/env bash
# The reference switch of the conformance suite: a private Open vSwitch
# (Debian's openvswitch-switch) with the in-memory "dummy" datapath, run from
# a directory of its own so that it never touches a system OVS.
#
#   ovs-ref.sh start DIR N    ovsdb-server + ovs-vswitchd in DIR, bridge br0
#                             (fail-mode secure) with dummy ports p1..pN,
#                             port pI on ofport I
#   ovs-ref.sh stop DIR       stop both daemons
#
# The caller points OVS_RUNDIR, OVS_LOGDIR, OVS_DBDIR and OVS_SYSCONFDIR at
# DIR for its own ovs-vsctl/ovs-ofctl/ovs-appctl calls.
set -euo pipefail
action=${1:-}; dir=${2:-}
if [ -z "$action" ] || [ -z "$dir" ]; then
  echo "usage: $0 start DIR N | stop DIR" >&2
  exit 2
fi
vswitchd=/usr/lib/openvswitch-switch/ovs-vswitchd
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)
export OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir OVS_SYSCONFDIR=$dir

case "$action" in
start)
  if [ ! -x "$vswitchd" ]; then
    echo "$0: $vswitchd not found: install Debian's openvswitch-switch" >&2
    exit 1
  fi
  n=${3:-2}
  rm -f "$dir/conf.db"
  ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --pidfile --log-file --detach --no-chdir
  ovs-vsctl --no-wait init
  # Datapath flows stay until deleted (a slow machine must not see them
  # expire between two steps); swd's driver passes the same --max-idle.
  ovs-vsctl --no-wait set Open_vSwitch . other_config:max-idle=600000
  "$vswitchd" "unix:$dir/db.sock" --enable-dummy=override --disable-system --disable-system-route \
    --pidfile --log-file --detach --no-chdir
  cmd=(add-br br0 -- set bridge br0 datapath-type=dummy fail-mode=secure)
  for ((i = 1; i <= n; i++)); do
    cmd+=(-- add-port br0 "p$i" -- set interface "p$i" type=dummy "ofport_request=$i")
  done
  ovs-vsctl "${cmd[@]}"
  ;;
stop)
  for d in ovs-vswitchd ovsdb-server; do
    if [ -f "$dir/$d.pid" ]; then kill "$(cat "$dir/$d.pid")" 2>/dev/null || true; fi
  done
  ;;
*)
  echo "usage: $0 start DIR N | stop DIR" >&2
  exit 2
  ;;
esac
