#!/usr/bin/env bash
# The hotich-sync demo: a central server, three communes in two provinces
# (healthy, flaky, down for a while) as real agent processes behind fault
# proxies, generated records with a few bad rows, the dashboard to watch, and
# a verified end. Loopback only; everything lives in temporary directories.
#
#   bash tests/demo.sh                  # about a minute
#   bash tests/demo.sh --keep-running   # keep the dashboard up until Ctrl-C
#   bash tests/demo.sh --short          # a few seconds
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --release -p hotich-tests --bin hotich-demo -- "$@"
