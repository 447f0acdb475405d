#!/usr/bin/env bash
# examples/spark_fanfold.py on a local[2] Spark session (PySpark from the
# Python package registry, a Java runtime from Debian's packages when
# missing: about 80 s and 500 MB) gives one run's bytes for a group-by, a
# top per group and a sort. Run by .ci/run only when FANFOLD_CI_SPARK=1.
#
#     bash tests/engines/spark.sh [BIN]   (default target/debug/fanfold)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="$(realpath "${1:-target/debug/fanfold}")"
venv="${FANFOLD_SPARK_VENV:-target/spark-venv}"
if ! command -v java >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check pyspark
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failed=0
check() {
    local name="$1"
    shift
    "$bin" fixtures/flights.csv "$@" >"$tmp/one"
    "$venv/bin/python" examples/spark_fanfold.py --fanfold "$bin" --partitions 5 \
        fixtures/flights.csv -- "$@" >"$tmp/spark" 2>"$tmp/err" || { cat "$tmp/err"; failed=1; return; }
    if cmp -s "$tmp/one" "$tmp/spark" && [ -s "$tmp/one" ]; then
        echo "same: $name ($(wc -c <"$tmp/one") bytes; $(grep -o '[0-9.]* s on .*' "$tmp/err"))"
    else
        echo "DIFFERENT: $name"
        failed=1
    fi
}
check "group-by" --group-by carrier,origin \
    --agg count,sum:distance,mean:arr_delay,median:dep_delay,stddev:arr_delay,first:tailnum,last:tailnum \
    --null NA
check "top 3 per group" --top 3 --sort-by dep_delay:n:desc --group-by carrier --null NA
check "sort" --sort-by dest,arr_delay:n:desc --null NA
exit "$failed"
