#!/usr/bin/python3
"""The PyTorch side of the shard benchmark: a DataLoader with 2 workers, torchvision + PIL.

Reads a job (JSON) on stdin: {"dir", "samples", "runs", "workers", "batch_size", "variants"}, and
writes {"versions", "results": {variant: [images/s per run]}} on stdout; bench/shard-suite.ts
drives it. Variants, run in turn within each run so that the machine's noise falls on all alike:
  defaults       torchvision's defaults for the same steps: RandomRotation with nearest neighbour,
                 RandomResizedCrop with bilinear, RandomErasing (hole kept inside the image); tensor out
  same-ops       the service's operations: bilinear rotation about the centre filled black,
                 RandomResizedCrop with Lanczos-3 (PIL's LANCZOS), a Cutout square whose centre is
                 uniform over all pixels, clipped at the border, filled black; uint8 tensor out
  same-ops-jpeg  the same, then encoded as the service encodes: JPEG quality 90, 4:2:0, no Huffman
                 optimisation; bytes out
  recipe         issue 24's recipe: flip p=0.5, RandomRotation ±15° bilinear filled black (same size),
                 RandomResizedCrop 224 scale 0.35-1 bilinear, one 56×56 Cutout square; uint8 tensor out
The images are read into memory once, as the service gets them in the request, and decoded per sample.
"""
import io
import json
import os
import random
import sys
import time

import PIL
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from torchvision.transforms import InterpolationMode

JPEG_QUALITY = 90
CROP = 224
CUTOUT_P = 0.5
CUTOUT_SIZE_RATIO = 0.25


class Cutout:
    """The service's cutout: one square of side ratio x shorter side (or `side` pixels), centre uniform, clipped."""

    def __init__(self, p=CUTOUT_P, side=None):
        self.p, self.side = p, side

    def __call__(self, im):
        if random.random() >= self.p:
            return im
        w, h = im.size
        side = self.side or max(1, round(CUTOUT_SIZE_RATIO * min(w, h)))
        cx, cy = random.randrange(w), random.randrange(h)
        x1, y1 = cx - side // 2, cy - side // 2
        box = (max(0, x1), max(0, y1), min(w, x1 + side), min(h, y1 + side))
        if box[0] < box[2] and box[1] < box[3]:
            im = im.copy()
            im.paste((0, 0, 0), box)
        return im


def jpeg(im):
    buf = io.BytesIO()
    im.save(buf, 'JPEG', quality=JPEG_QUALITY, optimize=False, subsampling=2)
    return buf.getvalue()


def pipelines():
    same = [
        transforms.RandomHorizontalFlip(0.5),
        transforms.RandomRotation(15, interpolation=InterpolationMode.BILINEAR, fill=0),
        transforms.RandomResizedCrop(CROP, scale=(0.5, 1), ratio=(0.75, 1.3333), interpolation=InterpolationMode.LANCZOS),
        Cutout(),
    ]
    return {
        'defaults': transforms.Compose([
            transforms.RandomHorizontalFlip(0.5), transforms.RandomRotation(15),
            transforms.RandomResizedCrop(CROP, scale=(0.5, 1), ratio=(0.75, 1.3333)), transforms.PILToTensor(),
            transforms.RandomErasing(p=CUTOUT_P, scale=(0.0625, 0.0625), ratio=(1, 1), value=0)]),
        'same-ops': transforms.Compose(same + [transforms.PILToTensor()]),
        'same-ops-jpeg': transforms.Compose(same + [jpeg]),
        'recipe': transforms.Compose([
            transforms.RandomHorizontalFlip(0.5),
            transforms.RandomRotation(15, interpolation=InterpolationMode.BILINEAR, fill=0),
            transforms.RandomResizedCrop(CROP, scale=(0.35, 1), interpolation=InterpolationMode.BILINEAR),
            Cutout(p=1, side=56), transforms.PILToTensor()]),
    }


class Images(Dataset):
    def __init__(self, images, samples, transform):
        self.images, self.samples, self.transform = images, samples, transform

    def __len__(self):
        return self.samples

    def __getitem__(self, i):
        with Image.open(io.BytesIO(self.images[i % len(self.images)])) as im:
            return self.transform(im.convert('RGB'))


def collate(batch):
    return torch.stack(batch) if isinstance(batch[0], torch.Tensor) else batch


def worker_init(_):
    torch.set_num_threads(1)


def main():
    job = json.load(sys.stdin)
    torch.set_num_threads(1)
    names = sorted(os.listdir(job['dir']))
    images = []
    for name in names:
        with open(os.path.join(job['dir'], name), 'rb') as f:
            images.append(f.read())
    found = pipelines()
    results = {v: [] for v in job['variants']}
    for _ in range(job['runs']):
        for variant in job['variants']:
            loader = DataLoader(Images(images, job['samples'], found[variant]), batch_size=job['batch_size'],
                                num_workers=job['workers'], collate_fn=collate, worker_init_fn=worker_init)
            started = time.perf_counter()
            count = 0
            for batch in loader:
                count += len(batch)
            results[variant].append(count / (time.perf_counter() - started))
    json.dump({'versions': {'python': sys.version.split()[0], 'torch': torch.__version__, 'torchvision': torchvision.__version__, 'pillow': PIL.__version__},
               'results': results}, sys.stdout)


if __name__ == '__main__':
    main()
