"""Images/s delivered to a training loop: through augserve vs in-process torchvision.

  python3 models/training/bench_augserve.py --service http://127.0.0.1:3001 --images 10000

Both sides run the same operations on the same Fashion-MNIST images (train.py's SERVICE_OPS:
RandomResizedCrop to 28x28 at scale 0.7-1, horizontal flip p=0.5, a 0.35-side square cut out
with p=0.5) and hand uint8 [1,28,28] tensors to the loop through a DataLoader with the same
number of workers; the clock runs from the first request to the last batch.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from augserve_data import AugserveShards, write_shards  # noqa: E402
from data import load_split  # noqa: E402
from train import SERVICE_OPS  # noqa: E402


class TorchvisionSet(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y
        side = SERVICE_OPS[2]["size_ratio"]
        self.tf = transforms.Compose([
            transforms.RandomResizedCrop(28, scale=tuple(SERVICE_OPS[0]["scale_range"]), ratio=tuple(SERVICE_OPS[0]["ratio_range"])),
            transforms.RandomHorizontalFlip(0.5),
            transforms.PILToTensor(),
            transforms.RandomErasing(p=0.5, scale=(side * side, side * side), ratio=(1, 1), value=0),
        ])

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.tf(Image.fromarray(self.x[i])), int(self.y[i])


def timed(loader):
    start = time.perf_counter()
    n = 0
    for xb, _ in loader:
        n += len(xb)
    return n, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--service", required=True)
    p.add_argument("--images", type=int, default=10000)
    p.add_argument("--shard-size", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(1)
    x, y = load_split("train")
    x, y = x[:a.images].numpy(), y[:a.images].numpy()
    folder = tempfile.mkdtemp(prefix="augserve-bench-")
    paths = write_shards(x, y, folder, a.shard_size)
    results = {"images": a.images, "workers": a.workers, "batch_size": a.batch_size, "ops": SERVICE_OPS,
               "cpus": os.cpu_count(), "load_average_at_start": list(os.getloadavg()), "service": [], "torchvision": []}
    for r in range(a.repeats):
        ds = AugserveShards(paths, a.service, SERVICE_OPS, seed=1, epoch=r)
        n, s = timed(DataLoader(ds, batch_size=a.batch_size, num_workers=a.workers))
        results["service"].append(round(n / s, 1))
        n, s = timed(DataLoader(TorchvisionSet(x, y), batch_size=a.batch_size, shuffle=True, num_workers=a.workers))
        results["torchvision"].append(round(n / s, 1))
        print(f"repeat {r}: service {results['service'][-1]} images/s, torchvision {results['torchvision'][-1]} images/s", flush=True)
    results["service_median"] = float(np.median(results["service"]))
    results["torchvision_median"] = float(np.median(results["torchvision"]))
    results["ratio"] = round(results["service_median"] / results["torchvision_median"], 2)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
