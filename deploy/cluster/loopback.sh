#!/usr/bin/env bash
# The topology of deploy/cluster (3 Tether nodes + NATS + PostgreSQL behind HAProxy) on this machine's
# loopback, with the Debian packages haproxy, nats-server and postgresql (docs/cluster.md, "Deployment").
#
#   deploy/cluster/loopback.sh up        start NATS, a fresh database, nodes n1-n3 and HAProxy; wait for them
#   deploy/cluster/loopback.sh check     REST and MQTT (paho) through HAProxy (loopback_check.py)
#   deploy/cluster/loopback.sh failover  stop n3: HAProxy takes it out, the check passes on n1-n2; start it again
#   deploy/cluster/loopback.sh down      stop everything started here, drop the database
#   deploy/cluster/loopback.sh all       up, check, failover, down
#
# HAProxy listens on 127.0.0.1:$LB_MQTT_PORT (MQTT) and :$LB_HTTP_PORT (HTTP); node nN on HTTP 2808N and
# MQTT 2188(3+N); NATS on 24222. HAProxy's configuration is deploy/cluster/haproxy.cfg with the addresses
# rewritten to those ports. Everything lives in $TETHER_LOOPBACK_DIR (default /tmp/tether-loopback).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
run=${TETHER_LOOPBACK_DIR:-/tmp/tether-loopback}
tether=${TETHER_BIN:-$repo/.venv/bin/tether}
python=${TETHER_PYTHON:-$repo/.venv/bin/python}
db=${TETHER_LOOPBACK_DB:-postgresql://tether:tether@127.0.0.1:5432/tether_loopback}
mqtt_port=${LB_MQTT_PORT:-21883}
http_port=${LB_HTTP_PORT:-28080}
nats_port=${LB_NATS_PORT:-24222}
admin_password=${TETHER_ADMIN_PASSWORD:-loopback-admin-1}
nodes=(n1 n2 n3)

node_http() { echo $((28080 + ${1#n})); }
node_mqtt() { echo $((21883 + ${1#n})); }

psql_admin() {  # SQL on the server's maintenance database, as the user of $db (needs CREATEDB)
    psql -q -v ON_ERROR_STOP=1 "${db%/*}/postgres" -c "$1"
}

wait_for() {  # wait_for DESCRIPTION COMMAND...: up to 120 s
    local what=$1
    shift
    for _ in $(seq 1 600); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    echo "loopback: $what: not within 120 s; the logs end with:" >&2
    tail -n 5 "$run"/*.log >&2
    return 1
}

start_node() {
    local name=$1
    TETHER_ADMIN_PASSWORD=$admin_password TETHER_BOOTSTRAP_PASSWORD=$admin_password-bootstrap \
        TETHER_BINARIES_DIR="$run/binaries" TETHER_RETENTION_INTERVAL=0 "$tether" serve --cluster "nats://127.0.0.1:$nats_port" --node "$name" --database-url "$db" \
        --data-dir "$run/$name" \
        --http "127.0.0.1:$(node_http "$name")" --mqtt "127.0.0.1:$(node_mqtt "$name")" \
        >>"$run/$name.log" 2>&1 &
    echo $! >"$run/$name.pid"
}

stop_pid() {  # stop_pid FILE SIGNAL: the process whose id the file holds (started here), and wait for it
    local file=$1 signal=$2 pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill "-$signal" "$pid"
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$file"
}

members() {  # members URL N: the node at URL lists N live nodes
    curl -sf -u "t1/admin:$admin_password" "$1/api/v5/nodes" | "$python" -c \
        "import json, sys; sys.exit(0 if len(json.load(sys.stdin)) == $2 else 1)"
}

up() {
    for tool in haproxy nats-server psql curl; do
        command -v "$tool" >/dev/null || { echo "loopback: $tool is missing (apt-get install haproxy nats-server postgresql-client curl)" >&2; exit 2; }
    done
    mkdir -p "$run"
    name=${db##*/}
    psql_admin "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)"
    psql_admin "CREATE DATABASE \"$name\""
    nats-server -a 127.0.0.1 -p "$nats_port" -l "$run/nats.log" &
    echo $! >"$run/nats.pid"
    wait_for "NATS on $nats_port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$nats_port"
    for node in "${nodes[@]}"; do start_node "$node"; done  # together, as systemd starts them
    sed -e "s/^    bind :1883/    bind 127.0.0.1:$mqtt_port/" -e "s/^    bind :8080/    bind 127.0.0.1:$http_port/" \
        -e "s/^    log stdout.*/    log stderr format raw local0 notice/" -e "s/^    maxconn .*/    maxconn 4000/" \
        -e "s|^    stats socket [^ ]*|    stats socket $run/haproxy.sock|" \
        -e "s/^\(    server n\([1-3]\)\) 10\.0\.0\.1[1-3]:1883/\1 127.0.0.1:MQTT\2 check port HTTP\2/" \
        -e "s/^\(    server n\([1-3]\)\) 10\.0\.0\.1[1-3]:8080/\1 127.0.0.1:HTTP\2/" \
        "$here/haproxy.cfg" >"$run/haproxy.cfg"
    for n in 1 2 3; do
        sed -i -e "s/MQTT$n\b/$(node_mqtt "n$n")/" -e "s/HTTP$n\b/$(node_http "n$n")/g" "$run/haproxy.cfg"
    done
    haproxy -c -q -f "$run/haproxy.cfg"
    haproxy -db -f "$run/haproxy.cfg" >>"$run/haproxy.log" 2>&1 &
    echo $! >"$run/haproxy.pid"
    for node in "${nodes[@]}"; do
        wait_for "$node healthy" curl -sf "http://127.0.0.1:$(node_http "$node")/health"
        wait_for "$node sees 3 nodes" members "http://127.0.0.1:$(node_http "$node")" 3
    done
    wait_for "HAProxy's HTTP frontend" curl -sf "http://127.0.0.1:$http_port/health"
    echo "loopback: up: HAProxy mqtt://127.0.0.1:$mqtt_port http://127.0.0.1:$http_port (t1/admin:$admin_password);" \
        "nodes ${nodes[*]}; logs in $run"
}

check() {
    local urls=()
    for node in "${nodes[@]}"; do
        if [ -f "$run/$node.pid" ] && kill -0 "$(cat "$run/$node.pid")" 2>/dev/null; then
            urls+=("$node=http://127.0.0.1:$(node_http "$node")")
        fi
    done
    "$python" "$here/loopback_check.py" --mqtt "127.0.0.1:$mqtt_port" --http "http://127.0.0.1:$http_port" \
        --password "$admin_password" "${urls[@]}"
}

failover() {
    echo "loopback: stopping n3 (SIGINT, a clean leave)"
    stop_pid "$run/n3.pid" INT
    wait_for "n1 sees 2 nodes" members "http://127.0.0.1:$(node_http n1)" 2
    sleep 5  # HAProxy marks n3 down after two failed checks 2 s apart; until then a retry goes elsewhere
    check
    echo "loopback: starting n3 again"
    start_node n3
    wait_for "n3 healthy" curl -sf "http://127.0.0.1:$(node_http n3)/health"
    wait_for "n1 sees 3 nodes" members "http://127.0.0.1:$(node_http n1)" 3
}

down() {
    stop_pid "$run/haproxy.pid" TERM
    for node in "${nodes[@]}"; do stop_pid "$run/$node.pid" INT; done
    stop_pid "$run/nats.pid" TERM
    psql_admin "DROP DATABASE IF EXISTS \"${db##*/}\" WITH (FORCE)" || true
    echo "loopback: down"
}

case "${1:-}" in
    up) up ;;
    check) check ;;
    failover) failover ;;
    down) down ;;
    all)
        trap down EXIT
        up
        check
        failover
        ;;
    *)
        sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
