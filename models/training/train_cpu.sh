#!/usr/bin/env bash
# The CPU recipe: the -cpu nets trained on a 2-core CPU, one after the other (2 threads each),
# each meant to fit 45 minutes. Measured: models/README.md ("Training on this CPU").
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
# Epochs per model, sized from timed training steps to fit 45 minutes. Measured since: the
# ResNet run took 48 min (155-250 s per epoch, augmentation and validation included, with
# other work on the machine); VGG's first epoch 124 s.
# SPECS picks a subset, e.g. SPECS="vgg-cpu:15" bash models/training/train_cpu.sh
for spec in ${SPECS:-resnet-cpu:16 vgg-cpu:15 googlenet-cpu:14}; do
  arch=${spec%%:*}
  epochs=${spec##*:}
  $PY $T/train.py --arch "$arch" --epochs "$epochs" "${COMMON[@]}" --out "$W/$arch" \
    2>&1 | grep --line-buffered -v Warning | tee "$W/$arch.log"
done
