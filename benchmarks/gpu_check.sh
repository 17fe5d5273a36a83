#!/usr/bin/env bash
# One short GPU session: the step benchmark at 512x512, main.py's per-step time measured from
# outside ((T(350) - T(50)) / 300), and 64px reproduction runs (fused and eager steps).
# Inputs: .gpu_data/00.png (DIV2K 00) and .gpu_data/ref64.png (its 64px downscale).
# Summaries go to ${OUT:-bench_out}/; run folders to /tmp/gpu_log.
set -u
OUT=${OUT:-bench_out}; mkdir -p "$OUT"
LOG=/tmp/gpu_log
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 benchmarks/bench_step.py --size 512 --device cuda --steps 100 --warmup 10 | tee "$OUT/bench_512_cuda.jsonl"
for n in 50 350; do
  t0=$EPOCHREALTIME
  python3 main.py --input_path .gpu_data/00.png --transform sym_power --num_epochs $n --log_epoch $n \
    --save_dir $LOG/t$n --quiet --no_images >> "$OUT/main.log" 2>&1
  echo "$n $(python3 -c "print($EPOCHREALTIME - $t0)")" | tee -a "$OUT/main_512_times.txt"
done
for mode in ${REPRO_MODES:-}; do
  extra=""; [ $mode = eager ] && extra="--eager"
  python3 main.py --input_path .gpu_data/ref64.png --transform sym_power --num_epochs 1000 --log_epoch 500 $extra \
    --save_dir $LOG/r64_$mode --quiet --no_images >> "$OUT/main.log" 2>&1
  echo "$mode $(python3 -c "import json,glob; r=json.load(open(glob.glob('$LOG/r64_$mode/*/*/results.json')[0])); print({e: m['psnr'] for e, m in r['mean'].items()}, r['time_s'])")" \
    | tee -a "$OUT/repro64.txt"
done
tail -5 "$OUT/main.log"
