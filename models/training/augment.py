"""Batched augmentation as tensor ops, so it runs where the data already lives.

The whole training set sits on the device as one tensor; a DataLoader with PIL
transforms would leave a GPU idle. Every function takes an explicit
torch.Generator on the batch's device, so a seed replays the same batches.
"""
import math

import torch
import torch.nn.functional as F


def _uniform(n, lo, hi, gen, device):
    return torch.rand(n, generator=gen, device=device) * (hi - lo) + lo


def random_crop(x, pad, gen):
    """Zero-pad by `pad` then crop back to the original size at a random offset per image."""
    n, _, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=dev)
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=dev)
    rows = (oy[:, None] + torch.arange(h, device=dev))[:, :, None]
    cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, :]
    b = torch.arange(n, device=dev)[:, None, None]
    return padded[b, 0, rows, cols].unsqueeze(1)


def horizontal_flip(x, p, gen):
    flip = torch.rand(x.shape[0], generator=gen, device=x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_erasing(x, p, gen, area_range=(0.02, 0.25), ratio_range=(0.3, 3.3)):
    """Replace one random rectangle per selected image by uniform noise (Zhong et al. 2017)."""
    n, _, h, w = x.shape
    dev = x.device
    erase = torch.rand(n, generator=gen, device=dev) < p
    area = _uniform(n, *area_range, gen, dev) * (h * w)
    ratio = torch.exp(_uniform(n, math.log(ratio_range[0]), math.log(ratio_range[1]), gen, dev))
    eh = torch.sqrt(area * ratio).round().clamp(1, h)
    ew = torch.sqrt(area / ratio).round().clamp(1, w)
    y0 = (torch.rand(n, generator=gen, device=dev) * (h - eh + 1)).floor()
    x0 = (torch.rand(n, generator=gen, device=dev) * (w - ew + 1)).floor()
    ys = torch.arange(h, device=dev)[None, :, None]
    xs = torch.arange(w, device=dev)[None, None, :]
    inside = ((ys >= y0[:, None, None]) & (ys < (y0 + eh)[:, None, None])
              & (xs >= x0[:, None, None]) & (xs < (x0 + ew)[:, None, None]))
    mask = (inside & erase[:, None, None]).unsqueeze(1)
    noise = torch.rand(x.shape, generator=gen, device=dev)
    return torch.where(mask, noise, x)


def describe(pad=4, erase_p=0.5):
    """The augmentation of `augment(..., pad, erase_p)` in words, for training logs."""
    return [f"random_crop(28, padding={pad})", "horizontal_flip(p=0.5)",
            f"random_erasing(p={erase_p}, area=[0.02,0.25], ratio=[0.3,3.3], fill=uniform noise)"]


def augment(x01, gen, pad=4, erase_p=0.5):
    """Training augmentation on a float batch in [0,1], shape [N,1,28,28]."""
    x = random_crop(x01, pad, gen)
    x = horizontal_flip(x, 0.5, gen)
    return random_erasing(x, erase_p, gen)
