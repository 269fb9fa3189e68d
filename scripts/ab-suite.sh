#!/usr/bin/env bash
# A/B of a change on the state suite: zstate built from the working tree against zstate built
# from a base revision, in alternating rounds (the base first in odd rounds, the change first in
# even ones), one JVM at a time. Prints per row the geometric mean of each side's ops/ms, their
# ratio, and the lowest and highest ratio of a single round: a change is measured when every
# round agrees, not when one run does (on a 2-core VM one suite run moves 10-15% from the next).
#
#   scripts/ab-suite.sh HEAD 4 --kinds map --regimes hot,pool --ops mapGet,mapUpdate
#   scripts/ab-suite.sh main~2 6 --kinds value --regimes hot --ops valueGet --warmup 3 --iterations 6
#
# Give an even number of rounds, so each side runs first as often: of two one-round runs of the
# same code, the side that ran second was 1.29x and 1.44x faster.
#
# Arguments: the base revision, the rounds, then the state suite's own (docs/benchmarks.md);
# --backends is zstate unless given (the first backend's column is compared: zstate or a variant
# such as zstate-reaper). The allocator and statebackend jars differ between the sides; the
# benchmarks and everything else are the working tree's (they must run on the base's jars too). Builds the working tree with `mvn install` (as the README's build does) and
# the base in a temporary git worktree with `mvn package` (nothing of it is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
    sed -n '2,/^set -euo/{/^#/p}' "$0"
    exit 2
fi
base=$1
rounds=$2
shift 2
args=("$@")
if [[ " ${args[*]} " != *" --backends "* ]]; then
    args+=(--backends zstate)
fi
# the first backend named: its column of the report is compared (zstate, or a variant such as zstate-reaper)
first=zstate
for ((i = 0; i < ${#args[@]} - 1; i++)); do
    if [ "${args[i]}" = --backends ]; then
        first=${args[i + 1]%%,*}
    fi
done
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "ab-suite: building the change (working tree) and the base ($(git rev-parse --short "$base"))"
# Maven's output goes to a log, shown if a build fails
build() {
    if ! "$@" > "$work/build.log" 2>&1; then
        cat "$work/build.log"
        echo "ab-suite: the build failed: $*" >&2
        exit 1
    fi
}
build mvn -q -B install -DskipTests
build mvn -q -B dependency:build-classpath -pl benchmarks -Dmdep.outputFile="$work/cp.txt"
git worktree add --detach "$work/base" "$base" >/dev/null 2>&1
build mvn -q -B -f "$work/base/pom.xml" package -DskipTests -pl allocator,statebackend
for module in allocator statebackend; do
    mkdir -p "$work/new" "$work/old"
    cp "$module"/target/zstate-"$module"-*[0-9T].jar "$work/new/zstate-$module.jar"
    cp "$work/base/$module"/target/zstate-"$module"-*[0-9T].jar "$work/old/zstate-$module.jar"
done

# one suite run of a side: its rows as "side round operation regime ops/ms"
run() {
    local side=$1 round=$2 cp
    cp=$(sed -e "s#[^:]*/zstate-allocator-[^:/]*\.jar#$work/$side/zstate-allocator.jar#" \
        -e "s#[^:]*/zstate-statebackend-[^:/]*\.jar#$work/$side/zstate-statebackend.jar#" "$work/cp.txt")
    echo "ab-suite: round $round of $rounds, $side"
    if ! (cd benchmarks && java -Xmx3g -XX:MaxDirectMemorySize=3g -cp "target/classes:$cp" \
        io.zstate.benchmarks.state.StateSuite --report "$work/$side-$round.md" "${args[@]}") \
        > "$work/$side-$round.log" 2>&1; then
        tail -20 "$work/$side-$round.log"
        echo "ab-suite: the $side run of round $round failed (above)" >&2
        exit 1
    fi
    sed -n '/^| operation | regime/,/^$/p' "$work/$side-$round.log" \
        | awk -F'|' -v side="$side" -v round="$round" -v backend="$first" 'NF > 4 {
            op = $2; regime = $3; gsub(/ /, "", op); gsub(/ /, "", regime)
            if (op == "operation") { # a header: the column of the backend compared
                column = 0
                for (c = 4; c <= NF; c++) { name = $c; gsub(/ /, "", name); if (name == backend) column = c }
                next
            }
            if (column == 0) next
            split($column, v, "±"); gsub(/ /, "", v[1])
            if (op !~ /^-/ && v[1] ~ /^[0-9.]+$/) print side, round, op, regime, v[1] }' \
        >> "$work/rows"
}

for round in $(seq 1 "$rounds"); do
    if [ $((round % 2)) -eq 1 ]; then run old "$round"; run new "$round"; else run new "$round"; run old "$round"; fi
done

echo
echo "| operation | regime | base ops/ms | change ops/ms | change / base | lowest, highest of a round |"
echo "|---|---|---:|---:|---:|---|"
awk '{
    key = $3 " " $4; v[$1, $2, key] = $5; sum[$1, key] += log($5); n[$1, key]++
    if (!(key in seen)) { seen[key] = 1; order[++keys] = key }
    if ($2 > rounds) rounds = $2
} END {
    for (k = 1; k <= keys; k++) {
        key = order[k]; split(key, p, " ")
        if (n["old", key] == 0 || n["new", key] == 0) continue
        lo = ""; hi = ""
        for (r = 1; r <= rounds; r++) if (("old", r, key) in v && ("new", r, key) in v) {
            ratio = v["new", r, key] / v["old", r, key]
            if (lo == "" || ratio < lo) lo = ratio; if (hi == "" || ratio > hi) hi = ratio
        }
        old = exp(sum["old", key] / n["old", key]); new = exp(sum["new", key] / n["new", key])
        printf "| %s | %s | %.0f | %.0f | %.2fx | %.2fx, %.2fx |\n", p[1], p[2], old, new, new / old, lo, hi
    }
}' "$work/rows"
