#!/usr/bin/env bash
# The main job end to end on this machine: a central server, one commune
# agent, 1,000 generated records imported, synced and exported.
# Everything lives in a temporary directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p hotich-agent -p hotich-server -p hotich-tests
bin=target/release
work=$(mktemp -d)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== 1. Central server (SQLite) on a free port"
"$bin/hotich-server" serve --listen 127.0.0.1:0 --database "$work/central.db" > "$work/server.out" 2> "$work/server.log" &
server_pid=$!
for _ in $(seq 50); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/server.out")
echo "   $url"

echo "== 2. District IT registers the commune's agent (the token is shown once)"
token=$("$bin/hotich-server" agent add --database "$work/central.db" --commune 00004 --name "UBND xã Tân Lập" --json \
        | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')

echo "== 3. The commune PC is set up"
agent=("$bin/hotich-agent" --data-dir "$work/agent")
"${agent[@]}" init --server "$url" --token "$token" --commune 00004

echo "== 4. An official imports 1,000 digitized records"
"$bin/bench" gen --records 1000 --out "$work/so-ho-tich.jsonl" --commune 00004 > /dev/null
"${agent[@]}" import "$work/so-ho-tich.jsonl"
"${agent[@]}" status

echo "== 5. \"Sync now\""
"${agent[@]}" sync
"${agent[@]}" status

echo "== 6. The central database holds each record once"
"$bin/hotich-server" export --database "$work/central.db" > "$work/export.jsonl"
echo "   $(wc -l < "$work/export.jsonl") records exported; first one:"
head -c 400 "$work/export.jsonl"; echo " ..."
"${agent[@]}" verify
