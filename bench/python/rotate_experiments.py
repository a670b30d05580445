#!/usr/bin/python3
"""OpenCV's and Pillow's side of bench/rotate-experiments.ts: where their rotate time goes.

  /usr/bin/python3 bench/python/rotate_experiments.py [rounds=25]

The bench's 1024x768 JPEG (bench/work/inputs, written by the bench) rotated 15 degrees with the
bench's parameters (bench/python/augment_baseline.py), interleaved, one image at a time; median
wall ms and CPU ms (process time, every thread) of: decode alone, encode alone (quality 80), the
rotation alone on decoded pixels, and the whole request, with OpenCV on 1 thread and on its
default (one per core), and Pillow's BILINEAR rotate.
"""
import io
import os
import statistics
import sys
import time

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from augment_baseline import cv_decode, cv_encode, cv_op, pil_decode, pil_encode, pil_op  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 25
PATH = 'bench/work/inputs/photo-1024x768.jpg'
PARAMS = {'angle': 15, 'fill': [128, 128, 128]}

data = open(PATH, 'rb').read()
img = cv_decode(data)
pim = pil_decode(data)
default_threads = cv2.getNumThreads()

variants = []  # (name, OpenCV threads or None, function)
for threads in (1, default_threads):
    variants += [
        (f'OpenCV {threads} thread(s): decode alone', threads, lambda: cv_decode(data)),
        (f'OpenCV {threads} thread(s): encode alone', threads, lambda: cv_encode(img, 'jpeg')),
        (f'OpenCV {threads} thread(s): warpAffine alone', threads, lambda: cv_op('rotate', img, PARAMS, None)),
        (f'OpenCV {threads} thread(s): whole request', threads, lambda: cv_encode(cv_op('rotate', cv_decode(data), PARAMS, None), 'jpeg')),
    ]
variants += [
    ('Pillow: decode alone', None, lambda: pil_decode(data)),
    ('Pillow: encode alone', None, lambda: pil_encode(pim, 'jpeg')),
    ('Pillow: rotate alone (BILINEAR)', None, lambda: pil_op('rotate', pim, PARAMS, None)),
    ('Pillow: whole request', None, lambda: pil_encode(pil_op('rotate', pil_decode(data), PARAMS, None), 'jpeg')),
]


def set_threads(threads):
    # Changing OpenCV's thread count rebuilds its pool on the next parallel call: done here, untimed.
    if threads is not None and cv2.getNumThreads() != threads:
        cv2.setNumThreads(threads)
        cv_op('rotate', img, PARAMS, None)


wall = [[] for _ in variants]
cpu = [[] for _ in variants]
for _, threads, fn in variants:
    set_threads(threads)
    fn()
for _ in range(ROUNDS):
    for i, (_, threads, fn) in enumerate(variants):
        set_threads(threads)
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        wall[i].append((time.perf_counter() - t0) * 1000)
        cpu[i].append((time.process_time() - c0) * 1000)
cv2.setNumThreads(default_threads)

print(f'load average {", ".join(f"{v:.2f}" for v in os.getloadavg())}; {ROUNDS} rounds; opencv {cv2.__version__} '
      f'(default threads {default_threads}), pillow {Image.__version__}, numpy {np.__version__}')
print('| variant | wall ms (median) | CPU ms (median) |')
print('| --- | --- | --- |')
for i, (name, _, _) in enumerate(variants):
    print(f'| {name} | {statistics.median(wall[i]):.2f} | {statistics.median(cpu[i]):.2f} |')
