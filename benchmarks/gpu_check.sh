#!/usr/bin/env bash
# The one prepared GPU check (issue 10): under 8 minutes on one GPU.
#
#   bash benchmarks/gpu_check.sh [DATA_DIR]     # DATA_DIR holds closed_drawer_{prior,task}.h5
#
# Make the data on a CPU machine first (the GPU machine has no pybullet), ignored by git:
#   cog collect --setup closed-drawer --out-dir gpu_data --prior-episodes 300 --task-episodes 300
# and carry gpu_data/ with the device tool. Only torch, numpy, h5py and tqdm are needed there.
#
# 1. updates/s of the `cog` and `fast` presets at batch 256, float32, bf16 and
#    bf16-first-layer, eager, next to
#    the straightforward implementation; then the `cog` preset compiled with CUDA graphs;
# 2. a short image COG run of the `cog` (paper) preset on the closed-drawer data, camera only,
#    bf16, for STEPS steps, without evaluation (the GPU machine has no pybullet), exported to
#    $OUT/cog_closed_drawer_policy.pt to be evaluated on a CPU machine with
#    `cog eval --policy FILE --env cog/ClosedDrawerGrasp-v0 --episodes 50`.
# Everything goes to $OUT (default runs/gpu_check): the log, train.csv and the policy.
# DEVICE=cpu STEPS=20 SPEED_REPEATS=1 runs the same script on a CPU, to check the script.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-gpu_data}
OUT=${OUT:-runs/gpu_check}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-4000}
SPEED_REPEATS=${SPEED_REPEATS:-3}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
start=$(date +%s)
section() { echo; echo "== $1 ($(( $(date +%s) - start )) s)"; }

section "environment"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv 2>/dev/null || true

section "updates/s, eager (float32, bf16, bf16-first-layer)"
timeout 240 $PY benchmarks/train_speed.py --device "$DEVICE" --presets cog fast \
    --repeats "$SPEED_REPEATS"

section "updates/s, cog preset compiled with CUDA graphs (reduce-overhead)"
mode=reduce-overhead
[ "$DEVICE" = cpu ] && mode=default
timeout 200 $PY benchmarks/train_speed.py --device "$DEVICE" --presets cog --precisions bf16 \
    --repeats "$SPEED_REPEATS" --no-reference --compile "$mode"

section "short COG run from the camera: cog preset, bf16, $STEPS steps"
run="$OUT/cog_closed_drawer"
rm -rf "$run"
timeout 240 $PY -m cog.cli train --prior "$DATA/closed_drawer_prior.h5" \
    --task "$DATA/closed_drawer_task.h5" --obs image --net cog --precision bf16 \
    --device "$DEVICE" --steps "$STEPS" --bc-warmup-steps 1000 --checkpoint-every 1000 \
    --log-every 250 --no-progress --out "$run"
cp "$run/train.csv" "$OUT/cog_closed_drawer_train.csv" 2>/dev/null
$PY -m cog.cli export --run "$run" --out "$OUT/cog_closed_drawer_policy.pt"
rm -rf "$run"  # the checkpoint (with optimiser state) is too large to bring back
$PY - "$OUT/cog_closed_drawer_train.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows[:: max(1, len(rows) // 8)] + rows[-1:]:
    print(f"step {r['step']:>6}  q/data {float(r['q/data']):8.2f}  "
          f"updates/s {float(r['perf/updates_per_s']):8.1f}")
PY
section "done"
