#!/usr/bin/env bash
# The committed models' recipe: each architecture trained alone on a 2-core CPU,
# one after the other (2 threads each), in well under 45 minutes per model.
#   bash models/training/train_cpu.sh [runs-folder]     # default .runs/cpu
# Then export each run: see models/README.md ("Reproduce").
set -euo pipefail
export PYTHONUNBUFFERED=1
W=${1:-.runs/cpu}
PY=${PY:-/usr/bin/python3}
T=models/training
mkdir -p "$W"
COMMON=(--threads 2 --batch-size 128 --lr 0.1 --weight-decay 5e-4 --label-smoothing 0.1
        --warmup-epochs 1 --crop-pad 2 --erase-p 0.25 --seed 0)
# Epochs per model: what fits ~35-40 minutes of this machine at its measured step time.
for spec in resnet:16 vgg:18 googlenet:16; do
  arch=${spec%%:*}
  epochs=${spec##*:}
  $PY $T/train.py --arch "$arch" --epochs "$epochs" "${COMMON[@]}" --out "$W/$arch" \
    2>&1 | grep --line-buffered -v Warning | tee "$W/$arch.log"
done
