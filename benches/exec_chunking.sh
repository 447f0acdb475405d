#!/bin/sh
# The automatic chunk size with an external step: 2,000 records (8.7 KiB)
# through a step that takes 50 ms a record, at --concurrency 64, with the
# default chunking against --chunk-size 1, for --exec (a Perl filter per
# chunk that sleeps 50 ms a data line) and --exec-persistent (a Perl
# worker that sleeps 50 ms a line). Prints a Markdown table: the chunks,
# records/s (records / elapsed_secs from --stats-json; median of ROUNDS
# runs, default 3) and the default's share of --chunk-size 1. Not a test:
# it measures.
#
#   cargo build --release && sh benches/exec_chunking.sh
set -eu
F=${FANFOLD:-target/release/fanfold}
N=${N:-2000}
C=${C:-64}
ROUNDS=${ROUNDS:-3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
{ echo n; seq 1 "$N"; } > "$dir/in.csv"
SPAWN="perl -e '\$| = 1; while (<STDIN>) { select(undef, undef, undef, 0.05) if \$. > 1; print }'"
WORKER="perl -e '\$| = 1; while (<STDIN>) { select(undef, undef, undef, 0.05); print }'"
echo "| step | chunking | chunks | records/s (median of $ROUNDS) | of --chunk-size 1 |"
echo "|---|---|---|---|---|"
for mode in exec exec-persistent; do
    if [ "$mode" = exec ]; then cmd=$SPAWN; else cmd=$WORKER; fi
    for chunking in "--chunk-size 1" default; do
        opt=""
        [ "$chunking" = default ] || opt=$chunking
        : > "$dir/rates"
        for _ in $(seq "$ROUNDS"); do
            # shellcheck disable=SC2086
            "$F" "$dir/in.csv" $opt --concurrency "$C" "--$mode" "$cmd" \
                --no-progress --stats-json "$dir/stats.json" > "$dir/out.csv"
            cmp -s "$dir/in.csv" "$dir/out.csv" || { echo "$mode $chunking: output differs" >&2; exit 1; }
            python3 - "$dir/stats.json" >> "$dir/rates" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(s["chunks"], s["records_read"] / s["elapsed_secs"])
PY
        done
        python3 - "$dir/rates" "$mode" "$chunking" "$dir/base" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
rate = statistics.median(float(r[1]) for r in rows)
mode, chunking, base = sys.argv[2], sys.argv[3], sys.argv[4]
if chunking != "default":
    open(base, "w").write(str(rate))
    share = "1.00"
else:
    share = f"{rate / float(open(base).read()):.2f}"
print(f"| `--{mode}` | {'`' + chunking + '`' if chunking != 'default' else 'default'} | {rows[0][0]} | {rate:,.0f} | {share} |")
PY
    done
done
