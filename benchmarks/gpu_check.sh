#!/usr/bin/env bash
# The GPU check, about 8 minutes on one H100 (fp32, TF32 off unless said):
#   (c) the step benchmark at 512x512: products alone, the published step, this project's step, the
#       same step replayed from a CUDA graph (experimental), and the products and step with TF32;
#   (a) paper scale: DIV2K 00 and 01 at 512x512, rows scale_1.0 and sym_power, 5000 epochs, the
#       default (fused) step: PSNR and ssim_ref at 500 / 1000 / 3000 / 5000 per image, time per fit;
#   (b) sym_power, both images, 1000 epochs with --eager and with the fused step (same schedule):
#       every logged PSNR of the two should agree within 0.1 dB.
# Inputs: .gpu_data/00.png and .gpu_data/01.png (DIV2K test 00 and 01), carried along:
#   mkdir -p .gpu_data && cp ../shared/data/div2k/test_data/0[01].png .gpu_data/
#   echo /.gpu_data/ >> .git/info/exclude
# Summaries go to ${OUT:-bench_out}/ (fits.txt, bench_512_cuda.jsonl, main.log); run folders to $GPU_LOG
# (default /tmp/gpu_log).
# EPOCHS / SHORT shrink (a) / (b) for a dry run on a CPU; PART=step runs (c) alone (about 5 minutes).
# (c) also times the experimental configurations: `graph` (the project's step replayed from a CUDA graph),
# `compiled` and `compiled_max` (the plain step through torch.compile, default and max-autotune, bounded
# by AUTOTUNE_S seconds), and profiles PROFILE steps of each into profile.txt (top kernels).
set -u
OUT=${OUT:-bench_out}; mkdir -p "$OUT"
LOG=${GPU_LOG:-/tmp/gpu_log}
EPOCHS=${EPOCHS:-5000}; SHORT=${SHORT:-1000}; DEVICE=${DEVICE:-cuda}; STEPS=${STEPS:-100}
PART=${PART:-all}; PROFILE=${PROFILE:-10}; AUTOTUNE_S=${AUTOTUNE_S:-240}
export PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no GPU"
  python3 -c "import torch; print('torch', torch.__version__)"; } | tee "$OUT/gpu.txt"

python3 benchmarks/bench_step.py --size 512 --device "$DEVICE" --steps "$STEPS" --warmup 10 \
  --configs matmul,published,project,graph,compiled --profile "$PROFILE" 2> "$OUT/profile.txt" \
  | tee "$OUT/bench_512_cuda.jsonl"
python3 benchmarks/bench_step.py --size 512 --device "$DEVICE" --steps "$STEPS" --warmup 10 \
  --configs matmul,project --tf32 | tee -a "$OUT/bench_512_cuda.jsonl"
# max-autotune compiles for minutes (it times Triton matrix products against cuBLAS): bounded
timeout "$AUTOTUNE_S" python3 benchmarks/bench_step.py --size 512 --device "$DEVICE" --steps "$STEPS" --warmup 10 \
  --configs published,compiled_max | tee -a "$OUT/bench_512_cuda.jsonl" || echo "compiled_max: stopped after $AUTOTUNE_S s"
[ "$PART" = step ] && exit 0

fit() {  # tag transform epochs extra-options...
  local tag=$1 transform=$2 epochs=$3; shift 3
  local t0=$(date +%s.%N)
  python3 main.py --input_path .gpu_data --transform "$transform" --num_epochs "$epochs" --log_epoch 500 \
    --save_dir "$LOG" --up_folder_name gpu_check --tag "$tag" --quiet --no_images --device "$DEVICE" "$@" \
    >> "$OUT/main.log" 2>&1 || echo "$tag: main.py failed (exit $?)" | tee -a "$OUT/failures.txt"
  echo "$tag wall_s $(python3 -c "import time; print(round(time.time() - $t0, 1))")" >> "$OUT/walls.txt"
}
summary() {  # per-image table of every finished run so far (rewritten after each fit)
python3 - "$LOG/gpu_check" "$OUT/walls.txt" > "$OUT/fits.txt" <<'EOF'
import glob, json, os, sys
walls = dict(line.split(" wall_s ") for line in open(sys.argv[2]).read().splitlines())
runs = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*", "results.json"))):
    tag = os.path.basename(os.path.dirname(path)).rsplit("_", 2)[0]
    runs[tag] = json.load(open(path))
for tag, r in runs.items():
    n = len(r["samples"])
    print(f"{tag}: complete {r['complete']}, training {r['time_s']:.1f} s for {n} fits "
          f"({r['time_s'] / n:.1f} s per fit), process wall {walls.get(tag, '?')} s")
    for name, epochs in r["samples"].items():
        print(f"  {name}: " + "  ".join(f"{e}: {m['psnr']:.3f} dB / {m['ssim_ref']:.5f}" for e, m in epochs.items()))
eager, fused = runs.get("b_sym_power_eager"), runs.get("b_sym_power_fused")
if eager and fused:
    gaps = [abs(eager["samples"][s][e]["psnr"] - fused["samples"][s][e]["psnr"])
            for s in eager["samples"] for e in eager["samples"][s]]
    print(f"(b) eager vs fused, {len(gaps)} logged PSNRs: largest gap {max(gaps):.4f} dB "
          f"({'within' if max(gaps) < 0.1 else 'NOT within'} 0.1 dB)")
EOF
}
for run in "a_scale_1.0 min_max $EPOCHS" "a_sym_power sym_power $EPOCHS" "b_sym_power_eager sym_power $SHORT --eager" \
           "b_sym_power_fused sym_power $SHORT"; do
  fit $run
  summary
done
cat "$OUT/fits.txt"
grep -i -E "warning|error|traceback" "$OUT/main.log" | sort | uniq -c | head -8
