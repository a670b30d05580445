"""Transfer learning: pre-train on classes 0-4, fine-tune on classes 5-9 with few images.

  python3 models/training/transfer.py --out runs/transfer

Compares (a) the net pre-trained on all training images of classes 0-4 then fine-tuned on
100 images/class of classes 5-9, against (b) the same net trained from scratch on those
500 images only. Both are scored on the 5,000 test images of classes 5-9 after a fixed
number of epochs: with 100 images/class there is no honest validation set to pick from.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from augment import augment  # noqa: E402
from data import load_fashion_mnist, normalize  # noqa: E402
from nets import ARCHS, build  # noqa: E402
from train import accuracy, predict  # noqa: E402

SOURCE = [0, 1, 2, 3, 4]
TARGET = [5, 6, 7, 8, 9]


def subset(x, y, classes):
    keep = torch.isin(y, torch.tensor(classes))
    return x[keep], y[keep] - classes[0]


def fit(model, x_u8, y, epochs, lr, batch, device, seed, tag):
    """SGD nesterov + cosine decay with on-device augmentation; returns seconds spent."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps_per_epoch = max(1, len(x_u8) // batch)
    total = epochs * steps_per_epoch
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    xd, yd = x_u8.to(device), y.to(device)
    t0, step = time.time(), 0
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xd), generator=torch.Generator().manual_seed(seed + epoch)).to(device)
        for i in range(steps_per_epoch):
            for g in opt.param_groups:
                g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
            idx = perm[i * batch:(i + 1) * batch]
            xb = normalize(augment(xd[idx].float().div(255.0).unsqueeze(1), gen))
            loss = F.cross_entropy(model(xb), yd[idx], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        if (epoch + 1) % max(1, epochs // 5) == 0:
            print(f"[transfer:{tag}] epoch {epoch + 1}/{epochs} loss={loss.item():.4f}", flush=True)
    return time.time() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet", choices=sorted(ARCHS))
    p.add_argument("--out", required=True)
    p.add_argument("--data", default=None)
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--pretrain-epochs", type=int, default=15)
    p.add_argument("--finetune-epochs", type=int, default=40)
    p.add_argument("--finetune-lr", type=float, default=0.01)
    p.add_argument("--scratch-lr", type=float, default=0.05)
    p.add_argument("--limit", type=int, default=0, help="cap pre-training images (smoke)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    os.makedirs(a.out, exist_ok=True)

    d = load_fashion_mnist(a.data)
    xs, ys = subset(*d["train"], SOURCE)
    if a.limit:
        xs, ys = xs[:a.limit], ys[:a.limit]
    xt_all, yt_all = subset(*d["train"], TARGET)
    g = torch.Generator().manual_seed(a.seed)
    few = torch.cat([torch.nonzero(yt_all == c).flatten()[
        torch.randperm(int((yt_all == c).sum()), generator=g)[:a.per_class]] for c in range(5)])
    xf, yf = xt_all[few], yt_all[few]
    xtest, ytest = subset(*d["test"], TARGET)

    torch.manual_seed(a.seed)
    pre = build(a.arch, num_classes=5).to(device)
    t_pre = fit(pre, xs, ys, a.pretrain_epochs, 0.1, 256, device, a.seed, "pretrain")
    pre.fc = nn.Linear(pre.fc.in_features, 5).to(device)
    t_ft = fit(pre, xf, yf, a.finetune_epochs, a.finetune_lr, 64, device, a.seed + 1, "finetune")
    acc_ft = accuracy(predict(pre, xtest, device), ytest)

    torch.manual_seed(a.seed)
    scratch = build(a.arch, num_classes=5).to(device)
    t_sc = fit(scratch, xf, yf, a.finetune_epochs, a.scratch_lr, 64, device, a.seed + 1, "scratch")
    acc_sc = accuracy(predict(scratch, xtest, device), ytest)

    result = {
        "arch": a.arch, "source_classes": SOURCE, "target_classes": TARGET,
        "pretrain_images": len(xs), "pretrain_epochs": a.pretrain_epochs,
        "finetune_images": len(xf), "finetune_epochs": a.finetune_epochs,
        "finetune_lr": a.finetune_lr, "scratch_lr": a.scratch_lr,
        "test_images": len(xtest),
        "test_top1_finetuned": acc_ft, "test_top1_scratch": acc_sc,
        "seconds": {"pretrain": round(t_pre, 1), "finetune": round(t_ft, 1), "scratch": round(t_sc, 1)},
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
    }
    with open(os.path.join(a.out, "transfer.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"[transfer] fine-tuned={acc_ft:.4f} scratch={acc_sc:.4f}", flush=True)


if __name__ == "__main__":
    main()
