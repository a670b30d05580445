"""Measure CPU training speed per architecture and extrapolate a full epoch.

  python3 models/training/bench_cpu.py --out models/results/cpu_benchmark.json

Times a few real training steps (same batch size, augmentation and optimiser as
train.py) plus inference over a validation slice, then scales to the 55,000-image
training split and 5,000-image validation pass that one epoch of train.py performs.
`seconds_per_epoch` is process CPU time / threads (an idle machine's wall time);
`wall_seconds_per_epoch` is what this run saw, including other processes' load.
"""
import argparse
import json
import os
import platform
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from augment import augment  # noqa: E402
from data import load_fashion_mnist, normalize  # noqa: E402
from nets import build, count_parameters  # noqa: E402
from train import predict  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--archs", default="vgg,googlenet,resnet,vgg-cpu,googlenet-cpu,resnet-cpu")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d = load_fashion_mnist()
    xtr, ytr = d["train"]
    xva = d["val"][0][:1000]
    steps_per_epoch = len(xtr) // a.batch_size
    gen = torch.Generator().manual_seed(0)
    results = {"threads": a.threads, "load_average_at_start": os.getloadavg(), "cpu": platform.processor() or platform.machine(),
               "cpu_count": os.cpu_count(), "torch": torch.__version__,
               "batch_size": a.batch_size, "timed_steps": a.steps,
               "train_images_per_epoch": steps_per_epoch * a.batch_size, "archs": {}}
    for arch in a.archs.split(","):
        m = build(arch)
        opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
        m.train()

        def step(i):
            idx = torch.arange(i * a.batch_size, (i + 1) * a.batch_size)
            xb = normalize(augment(xtr[idx].float().div(255.0).unsqueeze(1), gen))
            loss = F.cross_entropy(m(xb), ytr[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()

        step(0)
        t0, c0 = time.time(), time.process_time()
        for i in range(1, a.steps + 1):
            step(i)
        wall_step = (time.time() - t0) / a.steps
        cpu_step = (time.process_time() - c0) / a.steps
        t0, c0 = time.time(), time.process_time()
        predict(m, xva, torch.device("cpu"))
        wall_val, cpu_val = (time.time() - t0) * 5, (time.process_time() - c0) * 5
        # Wall time is inflated when other processes share the cores; process CPU time
        # divided by the thread count is what an otherwise idle machine would take.
        results["archs"][arch] = {
            "parameters": count_parameters(m),
            "wall_seconds_per_step": round(wall_step, 3),
            "cpu_seconds_per_step": round(cpu_step, 3),
            "wall_seconds_per_epoch": round(wall_step * steps_per_epoch + wall_val, 1),
            "seconds_per_epoch": round((cpu_step * steps_per_epoch + cpu_val) / a.threads, 1),
        }
        print(arch, results["archs"][arch], flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
