#!/usr/bin/env bash
# Farm cold cycle before/after: `run --once` on an empty database, 3 runs of
# each binary alternated; wall time, CPU time and peak RSS per run (BENCHMARKS.md,
# "Language identification").
#   scripts/langid_cycle.sh FARM_DIR PORT BEFORE_BIN AFTER_BIN [RUNS]
# The farm must be served already (shared/feedfarm/serve.sh FARM_DIR PORT).
set -euo pipefail
farm=$1; port=$2; before=$3; after=$4; runs=${5:-3}
work=$(mktemp -d)
{
  printf '[fetch]\nallow_private_networks = true\n[poll]\nper_host_concurrency = 16\nper_host_spacing = "0s"\n'
  printf '[store]\npath = "%s/farm.db"\n' "$work"
  while read -r p; do printf '[[feed]]\nurl = "http://127.0.0.1:%s%s"\n' "$port" "$p"; done < "$farm/paths.txt"
} > "$work/farm.toml"
for i in $(seq 1 "$runs"); do
  for which in before after; do
    bin=$before; [[ $which == after ]] && bin=$after
    rm -f "$work"/farm.db*
    /usr/bin/time -o "$work/time.txt" -f "wall %e s, cpu %U user + %S sys, maxrss %M KB" \
      "$bin" --config "$work/farm.toml" run --once > "$work/out.txt" 2>"$work/err.txt"
    printf '%s run %d: %s  (%s)\n' "$which" "$i" "$(cat "$work/time.txt")" "$(head -c 60 "$work/out.txt")"
  done
done
rm -rf "$work"
