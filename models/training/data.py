"""Fashion-MNIST loading: idx reader, the fixed validation split, normalisation.

Images stay uint8 until they reach the training device; normalisation uses the
same mean/std that every model's config.json declares, so the inference
service's preprocessing of a 28x28 PNG reproduces these tensors exactly.
"""
import gzip
import os
import struct

import numpy as np
import torch

MEAN = 0.2860
STD = 0.3530
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
VAL_SIZE = 5000
SPLIT_SEED = 0

_CANDIDATES = [
    os.environ.get("FASHION_MNIST_DIR", ""),
    os.path.join(os.path.dirname(__file__), "..", "..", ".data", "fashion-mnist"),
    "/usr/share/datasets/fashion-mnist",
]


def find_data_dir(explicit=None):
    """Return the first folder holding the four idx .gz files."""
    for d in [explicit] + _CANDIDATES if explicit else _CANDIDATES:
        if d and os.path.exists(os.path.join(d, "t10k-labels-idx1-ubyte.gz")):
            return os.path.abspath(d)
    raise FileNotFoundError(
        "Fashion-MNIST not found; install dataset-fashion-mnist or set FASHION_MNIST_DIR")


def read_idx(path):
    """Read an idx1/idx3 file (optionally gzipped) into a numpy uint8 array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"expected uint8 idx file for {path}, got header {raw[:4]!r}")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(split, data_dir=None):
    """Return (images uint8 [N,28,28], labels int64 [N]) for 'train' or 't10k'."""
    d = find_data_dir(data_dir)
    x = read_idx(os.path.join(d, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(d, f"{split}-labels-idx1-ubyte.gz"))
    return torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))


def load_fashion_mnist(data_dir=None):
    """Train/val/test uint8 tensors; validation is a fixed, seeded 5,000-image hold-out of train."""
    x, y = load_split("train", data_dir)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(SPLIT_SEED))
    tr, va = perm[:-VAL_SIZE], perm[-VAL_SIZE:]
    xt, yt = load_split("t10k", data_dir)
    return {"train": (x[tr], y[tr]), "val": (x[va], y[va]), "test": (xt, yt)}


def normalize(u8):
    """uint8 [N,28,28] (or float in [0,1] [N,1,28,28]) -> normalised float32 [N,1,28,28]."""
    x = u8.float().div(255.0) if u8.dtype == torch.uint8 else u8
    if x.dim() == 3:
        x = x.unsqueeze(1)
    return (x - MEAN) / STD
