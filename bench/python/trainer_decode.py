#!/usr/bin/python3
"""The trainer's side of a shard answer: CPU time to turn one member into a uint8 tensor.

Reads a job (JSON) on stdin: {"npy": [paths], "jpeg": [paths], "repeat": n}; writes
{"npy_us": cpu µs per sample, "jpeg_us": ...} on stdout (process CPU time, one thread, medians of
`repeat` passes). npy: numpy.load + torch.from_numpy (augserve_data.npy_to_tensor); jpeg: PIL
decode + asarray + torch.from_numpy(...).permute (augserve_data.to_tensor).
"""
import io
import json
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image


def per_sample(blobs, convert, repeat):
    passes = []
    for _ in range(repeat):
        started = time.process_time()
        for blob in blobs:
            convert(blob)
        passes.append((time.process_time() - started) / len(blobs) * 1e6)
    return statistics.median(passes)


def from_npy(blob):
    return torch.from_numpy(np.load(io.BytesIO(blob), allow_pickle=False))


def from_jpeg(blob):
    with Image.open(io.BytesIO(blob)) as image:
        return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)


def main():
    job = json.load(sys.stdin)
    torch.set_num_threads(1)
    read = lambda paths: [open(p, 'rb').read() for p in paths]
    npy, jpeg = read(job['npy']), read(job['jpeg'])
    json.dump({'npy_us': per_sample(npy, from_npy, job['repeat']), 'jpeg_us': per_sample(jpeg, from_jpeg, job['repeat'])}, sys.stdout)


if __name__ == '__main__':
    main()
