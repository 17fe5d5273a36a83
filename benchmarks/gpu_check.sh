#!/usr/bin/env bash
# One short GPU session: the step benchmark at 512x512 (fp32, then TF32), and the PSNR effect of
# TF32 on real fits (64x64 and 512x512, 1000 epochs, fused step; 64x64 also with the eager step).
# Inputs: .gpu_data/00.png (DIV2K 00) and .gpu_data/ref64.png (its 64px downscale), carried along.
# Summaries go to ${OUT:-bench_out}/; run folders to /tmp/gpu_log.
set -u
OUT=${OUT:-bench_out}; mkdir -p "$OUT"
LOG=/tmp/gpu_log
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 benchmarks/bench_step.py --size 512 --device cuda --steps 100 --warmup 10 | tee "$OUT/bench_512_cuda.jsonl"
python3 benchmarks/bench_step.py --size 512 --device cuda --steps 100 --warmup 10 --configs matmul,project --tf32 \
  | tee -a "$OUT/bench_512_cuda.jsonl"
fit() {  # name image extra-options...
  local name=$1 img=$2; shift 2
  python3 main.py --input_path "$img" --transform sym_power --num_epochs 1000 --log_epoch 500 --save_dir $LOG/$name \
    --quiet --no_images "$@" >> "$OUT/main.log" 2>&1
  echo "$name $(python3 -c "import json,glob; r=json.load(open(glob.glob('$LOG/$name/*/*/results.json')[0])); print({e: round(m['psnr'], 3) for e, m in r['mean'].items()}, r['time_s'])")" \
    | tee -a "$OUT/fits.txt"
}
fit r64_fused .gpu_data/ref64.png
fit r64_eager .gpu_data/ref64.png --eager
fit r64_tf32 .gpu_data/ref64.png --tf32
fit r512_fp32 .gpu_data/00.png
fit r512_tf32 .gpu_data/00.png --tf32
grep -i -E "warning|error" "$OUT/main.log" | sort | uniq -c | head -5
