#!/bin/bash
# The step (bench_step.py's project configuration, 2 threads) with each OpenMP wait fixed before the step's
# process starts, idle and beside N busy Python loops: what a fit that chose its wait on an idle machine meets
# when other work arrives later (docs/performance.md, "Beside other work"). Waits: libgomp's default (spin
# 300,000 rounds, then sleep), GOMP_SPINCOUNT bounds, passive. Rounds interleave the waits, every other round
# in reverse order; one JSON line per step process, then the median ms per step of each wait and load.
#   bash benchmarks/bench_wait.sh
#   SIZE=256 STEPS=8 BUSY="0 4" ROUNDS=2 bash benchmarks/bench_wait.sh
SIZE=${SIZE:-64}
STEPS=${STEPS:-30}
BUSY=${BUSY:-0 1 4}
ROUNDS=${ROUNDS:-3}
WAITS=${WAITS:-default GOMP_SPINCOUNT=3000 GOMP_SPINCOUNT=10000 OMP_WAIT_POLICY=PASSIVE}
cd "$(dirname "$0")/.." || exit 2
measure() {
    pids=()  # the busy loops; background jobs ignore Ctrl-C in a script, so they are killed here
    trap 'kill "${pids[@]}" 2>/dev/null' EXIT
    trap 'exit 130' INT TERM
    for busy in $BUSY; do
        pids=()
        for _ in $(seq "$busy"); do OMP_NUM_THREADS=1 python -c "while True: pass" & pids+=($!); done
        sleep 2
        for round in $(seq "$ROUNDS"); do
            order=$WAITS; [ $((round % 2)) = 0 ] && order=$(printf '%s\n' $WAITS | tac)  # even rounds reversed
            for wait in $order; do
                set -- ; [ "$wait" != default ] && set -- "$wait"
                ms=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$@" python benchmarks/bench_step.py --size "$SIZE" \
                     --threads 2 --steps "$STEPS" --configs project 2>/dev/null \
                     | python -c "import json, sys; print(*[json.loads(l)['ms_per_step'] for l in sys.stdin if l[0] == '{'])")
                echo "{\"busy\": $busy, \"size\": $SIZE, \"wait\": \"$wait\", \"ms_per_step\": ${ms:-null}," \
                     "\"load\": $(cut -d' ' -f1 /proc/loadavg)}"
            done
        done
        [ "$busy" -gt 0 ] && { kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null; }
    done
}
measure | tee /dev/stderr | python -c "
import json, statistics, sys
rows = [json.loads(line) for line in sys.stdin]
for key in dict.fromkeys((r['busy'], r['wait']) for r in rows):
    ms = [r['ms_per_step'] for r in rows if (r['busy'], r['wait']) == key and r['ms_per_step'] is not None]
    print(f'busy {key[0]}  {key[1]:<24}', f'median {statistics.median(ms):8.1f} ms of {ms}' if ms else 'no run')
"
