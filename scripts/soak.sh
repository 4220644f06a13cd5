#!/bin/sh
# Soak test (issue 9): `feedwatch run` against the feedfarm while the farm
# changes, sampling the daemon's memory and the WAL size.
#
#   scripts/soak.sh /tmp/farm 18080 30 target/release/feedwatch > soak.tsv
#
# The farm must be generated (cycle 0) and served on the port. Every 60 s the
# farm advances one cycle (~10 % of feeds gain items); every 30 s a sample:
# elapsed seconds, cycle, RSS (kB), peak RSS (kB), WAL bytes, DB bytes, items.
# The daemon polls every feed every 30 s (fixed interval). Stops it with
# SIGTERM at the end and checks the database.
set -eu
farm=$1 port=$2 minutes=$3 bin=$4
work=$(mktemp -d /tmp/soak-XXXXXX)
db=$work/soak.db
gen=$(dirname "$0")/../../shared/feedfarm/generate.py
feeds=$(wc -l < "$farm/paths.txt")
{
  printf '[store]\npath = "%s"\n[poll]\ninterval = "30s"\nconcurrency = 64\nper_host_concurrency = 64\nper_host_spacing = "0s"\n[fetch]\nallow_private_networks = true\n\n' "$db"
  sed "s#^#[[feed]]\nurl = \"http://127.0.0.1:$port#; s#\$#\"\n#" "$farm/paths.txt"
} > "$work/soak.toml"
"$bin" --config "$work/soak.toml" --log-level warn run 2> "$work/daemon.log" &
pid=$!
start=$(date +%s) cycle=0 next_cycle=60
printf 'seconds\tcycle\trss_kb\thwm_kb\twal_bytes\tdb_bytes\titems\n'
while [ $(( $(date +%s) - start )) -lt $(( minutes * 60 )) ]; do
  sleep 30
  now=$(( $(date +%s) - start ))
  if [ "$now" -ge "$next_cycle" ]; then
    cycle=$((cycle + 1)); next_cycle=$((next_cycle + 60))
    python3 "$gen" --out "$farm" --feeds "$feeds" --cycle "$cycle" > /dev/null
  fi
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  wal=$(stat -c %s "$db-wal" 2>/dev/null || echo 0)
  size=$(stat -c %s "$db")
  items=$(python3 -c "import sqlite3,sys; print(sqlite3.connect('file:$db?mode=ro', uri=True).execute('select count(*) from items').fetchone()[0])")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$now" "$cycle" "$rss" "$hwm" "$wal" "$size" "$items"
done
kill -TERM $pid; wait $pid || true
"$bin" --config "$work/soak.toml" db check >&2
echo "work dir: $work (daemon.log)" >&2
