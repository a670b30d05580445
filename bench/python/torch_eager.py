#!/usr/bin/python3
"""PyTorch eager baseline for the inference benchmark: decode + preprocess + forward, one process.

Reads a job (JSON) on stdin, writes results (JSON) on stdout; bench/inference-suite.ts drives it.
The net is the same architecture as the served ONNX graph (export_model.build), with random
weights; preprocessing is the torchvision pipeline the configs describe (Resize(resize),
CenterCrop(crop), ToTensor, Normalize(mean, std)) on PIL-decoded images. torch uses every core
(Debian's build defaults to one thread).
"""
import io
import json
import os
import sys
import time

import torch
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_model import build  # noqa: E402


def one_run(fn, batch, seconds, amount):
    lat = []
    start = time.perf_counter()
    deadline = start + seconds
    while (len(lat) < amount) if amount else (time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn()
        lat.append((time.perf_counter() - t0) * 1000)
    return {'items': len(lat) * batch, 'seconds': time.perf_counter() - start, 'latencies_ms': lat}


def main():
    job = json.load(sys.stdin)
    torch.set_num_threads(os.cpu_count() or 1)
    budget = job['budget']
    results = []
    for m in job['models']:
        model, _ = build(m['arch'])
        model.eval()
        pre = m['preprocess']
        mode = 'L' if pre['channels'] == 1 else 'RGB'
        tf = transforms.Compose([
            transforms.Resize(pre['resize']),
            transforms.CenterCrop(pre['crop']),
            transforms.ToTensor(),
            transforms.Normalize(pre['mean'], pre['std']),
        ])
        with open(m['input'], 'rb') as f:
            data = f.read()

        def prepare():
            return tf(Image.open(io.BytesIO(data)).convert(mode))

        for batch in m['batches']:
            def step():
                with torch.inference_mode():
                    x = torch.stack([prepare() for _ in range(batch)])
                    return model(x)

            for _ in range(budget['warmup']):
                step()
            runs = [one_run(step, batch, budget['seconds'], budget.get('amount')) for _ in range(budget['runs'])]
            # The forward pass alone, on a prepared batch, to split preprocessing from compute.
            x = torch.stack([prepare() for _ in range(batch)])

            def forward():
                with torch.inference_mode():
                    return model(x)

            forward_runs = [one_run(forward, batch, budget['seconds'] / 2, budget.get('amount')) for _ in range(budget['runs'])]
            results.append({'model': m['name'], 'batch': batch, 'runs': runs, 'forward_runs': forward_runs})
            print(f"torch {m['name']} batch={batch} done", file=sys.stderr, flush=True)
    json.dump({'torch_threads': torch.get_num_threads(), 'results': results}, sys.stdout)


if __name__ == '__main__':
    main()
