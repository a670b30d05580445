#!/usr/bin/env bash
# One GPU session that trains everything the model zoo commits.
#   OUT=/some/dir bash models/training/device_run.sh
# Main models first (weights land in $OUT before the ablation starts, so a timeout
# still leaves them), then the ablation and transfer runs. Small nets leave a big GPU
# idle between kernel launches, so each phase runs its jobs as concurrent processes.
set -o pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT}
W=${WORK:-/tmp/zoo-runs}
MAIN_MIN=${MAIN_MIN:-3.0}
ABL_MIN=${ABL_MIN:-2.5}
mkdir -p "$W"
T=models/training
PY=${PY:-python3}
ARGS=${ARGS:-}            # extra train.py flags, e.g. for a CPU smoke run
TARGS=${TARGS:-}          # extra transfer.py flags
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || true
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
$PY -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.get_available_providers())' 2>/dev/null || true

t0=$(date +%s)
for a in vgg googlenet resnet; do
  $PY $T/train.py --arch $a --out "$W/$a" --max-minutes "$MAIN_MIN" --threads 4 $ARGS > "$W/$a.log" 2>&1 &
done
wait
cat "$W"/vgg.log "$W"/googlenet.log "$W"/resnet.log
for a in vgg googlenet resnet; do
  tar cf "$OUT/$a.tar" -C "$W" "$a" "$a.log"
done
echo "main phase seconds: $(( $(date +%s) - t0 ))"

EP=$($PY -c "import json; print(json.load(open('$W/resnet/train_log.json'))['epochs'])" 2>/dev/null || echo 40)
t1=$(date +%s)
$PY $T/train.py --arch resnet --no-augment --epochs "$EP" --max-minutes "$ABL_MIN" --threads 4 $ARGS --out "$W/ablation-no-augment" > "$W/ablation-no-augment.log" 2>&1 &
$PY $T/train.py --arch resnet --no-lr-decay --epochs "$EP" --max-minutes "$ABL_MIN" --threads 4 $ARGS --out "$W/ablation-no-lr-decay" > "$W/ablation-no-lr-decay.log" 2>&1 &
[ "${TRANSFER:-1}" = 1 ] && $PY $T/transfer.py --out "$W/transfer" --threads 4 $TARGS > "$W/transfer.log" 2>&1 &
wait
# The nccl code path on one GPU: a few DDP steps through torchrun.
timeout 90 torchrun --nproc_per_node 1 $T/train.py --arch resnet --epochs 1 --steps 20 --limit 5120 \
  --out "$W/ddp-nccl" > "$W/ddp-nccl.log" 2>&1 || echo "ddp-nccl smoke failed"
cat "$W"/ablation-*.log "$W"/transfer.log "$W"/ddp-nccl.log
rm -f "$W"/ablation-*/weights.npz "$W"/ddp-nccl/weights.npz
tar cf "$OUT/extra.tar" -C "$W" ablation-no-augment ablation-no-augment.log ablation-no-lr-decay \
  ablation-no-lr-decay.log transfer transfer.log ddp-nccl ddp-nccl.log
echo "second phase seconds: $(( $(date +%s) - t1 ))"
