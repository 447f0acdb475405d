#!/bin/sh
# One-record chunks through a 50 ms step, a process per chunk (`--exec`)
# against persistent workers (`--exec-persistent`), at concurrency 1, 8
# and 64. Prints a Markdown table: chunks/s (from --stats-json's
# elapsed_secs), the share of linear (concurrency / 50 ms), the p95 chunk
# latency, the overhead per chunk (median latency - 50 ms), and the
# speedup_vs_concurrency_1 estimate. Not a test: it measures.
#
#   cargo build --release && sh benches/exec_modes.sh
#
# N (default 2000) chunks each, but 300 at concurrency 1 (15 s of sleep).
set -eu
F=${FANFOLD:-target/release/fanfold}
N=${N:-2000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
SPAWN="sh -c 'sleep 0.05; cat'"
WORKER="perl -e '\$| = 1; while (<STDIN>) { select(undef, undef, undef, 0.05); print }'"
echo "| mode | concurrency | chunks | chunks/s | of linear | p95 latency | overhead per chunk | speedup estimate | workers |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in 1 8 64; do
    n=$N
    [ "$c" = 1 ] && n=300
    { echo n; seq 1 "$n"; } > "$dir/in.csv"
    for mode in exec exec-persistent; do
        if [ "$mode" = exec ]; then cmd=$SPAWN; else cmd=$WORKER; fi
        "$F" "$dir/in.csv" --chunk-size 1 --concurrency "$c" "--$mode" "$cmd" \
            --no-progress --stats-json "$dir/stats.json" > "$dir/out.csv"
        cmp -s "$dir/in.csv" "$dir/out.csv" || { echo "$mode $c: output differs" >&2; exit 1; }
        python3 - "$dir/stats.json" "$mode" "$c" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
e, c = s["exec"], int(sys.argv[3])
rate = e["chunks"] / s["elapsed_secs"]
print(f"| `--{sys.argv[2]}` | {c} | {e['chunks']} | {rate:,.0f} | {rate / (c / 0.05):.0%} "
      f"| {e['latency_p95_secs'] * 1000:.1f} ms | {(e['latency_p50_secs'] - 0.05) * 1000:.1f} ms "
      f"| {e['speedup_vs_concurrency_1']:.1f} | {e['workers_started']} |")
PY
    done
done
