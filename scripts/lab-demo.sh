#!/usr/bin/env bash
# The README's lab demo (root): two keepgit agents hold a VIP in a lab of network
# namespaces, a client pings it, the master is stopped and the other takes over.
# Everything it makes (namespaces, agents) is removed on exit, whatever happens.
set -uo pipefail
cd "$(dirname "$0")/.."
prefix=kgdemo
[ "${1:-}" = "--prefix" ] && prefix=${2:?--prefix needs a name}
[ "$(id -u)" = 0 ] || { echo "lab-demo: needs root (network namespaces)" >&2; exit 2; }

VIP=192.0.2.100
kg() { node bin/keepgit.js "$@"; }
work=$(mktemp -d "${TMPDIR:-/tmp}/keepgit-lab-demo.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  kg lab down --prefix "$prefix" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

holder() {
  for h in lb1 lb2; do
    ip -n "$prefix-$h" -o -4 addr show dev eth0 | grep -q " $VIP/" && printf '%s ' "$h"
  done
}
wait_holder() { # wait_holder EXPECTED SECONDS
  for _ in $(seq 1 $(($2 * 20))); do [ "$(holder)" = "$1 " ] && return 0; sleep 0.05; done
  echo "lab-demo: expected $VIP on $1 only, found it on: $(holder)" >&2
  return 1
}

echo "\$ keepgit lab up --prefix $prefix"
kg lab up --prefix "$prefix" || exit 1
echo
for h in lb1 lb2; do
  echo "\$ ip netns exec $prefix-$h keepgit agent --repo-dir examples/lab-pair --node $h --log text &"
  ip netns exec "$prefix-$h" node bin/keepgit.js agent --repo-dir examples/lab-pair --node "$h" --log text \
    >"$work/$h.log" 2>&1 &
  pids+=($!)
done
wait_holder lb1 15 || { cat "$work"/*.log; exit 1; }
echo "VIP $VIP is on: $(holder)(lb1 has priority 110, lb2 100)"
echo

echo "\$ ip netns exec $prefix-client ping -i 0.01 $VIP   # while lb1 is stopped"
ip netns exec "$prefix-client" ping -n -q -i 0.01 -w 3 "$VIP" >"$work/ping.txt" 2>&1 &
ping_pid=$!
sleep 1
echo "\$ kill -TERM <lb1's agent>"
kill -TERM "${pids[0]}"
wait_holder lb2 5 || { cat "$work"/*.log; exit 1; }
wait "$ping_pid"
echo "VIP $VIP is on: $(holder)"
grep -E 'packets transmitted' "$work/ping.txt"
echo
echo "lb1's log:"
sed 's/^/  /' "$work/lb1.log"
echo "lb2's log:"
sed 's/^/  /' "$work/lb2.log"
echo
echo "lb2 took over; the lab is removed on exit (keepgit lab down --prefix $prefix)."
