#!/bin/bash
# The time of a subset of the test suite beside N busy Python loops, for checkouts given as arguments
# (docs/performance.md, "The test suite"), interleaved; the load average before and after each.
#   git archive 7317a61 | (mkdir -p /tmp/base38 && tar -x -C /tmp/base38)
#   BUSY=4 TESTS="tests/test_layers.py tests/test_speed.py" bash benchmarks/bench_suite_load.sh /tmp/base38 .
BUSY=${BUSY:-4}
TESTS=${TESTS:-tests/test_layers.py tests/test_speed.py}
pids=()  # the busy loops; background jobs ignore Ctrl-C in a script, so they are killed here
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
for dir in "$@"; do
    pids=()
    for _ in $(seq "$BUSY"); do python -c "while True: pass" & pids+=($!); done
    sleep 2
    before=$(cut -d' ' -f1 /proc/loadavg)
    start=$(date +%s.%N)
    (cd "$dir" && python -m pytest -q -p no:cacheprovider $TESTS > /dev/null 2>&1)
    rc=$?
    end=$(date +%s.%N)
    kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null
    echo "{\"checkout\": \"$dir\", \"busy\": $BUSY, \"exit\": $rc, \"wall_s\": $(echo "$end - $start" | bc), \"load_before\": $before, \"load_after\": $(cut -d' ' -f1 /proc/loadavg)}"
done
