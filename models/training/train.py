"""Train one architecture on Fashion-MNIST.

Single process:   python3 models/training/train.py --arch resnet --out runs/resnet
Data-parallel:    torchrun --nproc_per_node 2 models/training/train.py --arch resnet --out runs/r
                  (gloo on CPU, nccl on GPU; every rank draws the same epoch permutation and
                  takes every world-th index, as DistributedSampler does)

The whole training set is moved to the device once and augmented there in batches.
Validation accuracy (fixed 5,000-image hold-out) picks the checkpoint; the test set is
only scored once, with that checkpoint. Outputs in --out: weights.npz (state_dict as
numpy, readable by any torch version) and train_log.json.
"""
import argparse
import copy
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from augment import augment, describe  # noqa: E402
from augserve_data import AugserveShards, write_shards  # noqa: E402
from data import load_fashion_mnist, normalize  # noqa: E402
from nets import ARCHS, build, count_parameters  # noqa: E402


# What --augment-service asks the service for: the closest the service's operations come to the
# in-process augmentation (a small RandomResizedCrop for the padded crop, a horizontal flip, and
# a Cutout square for random erasing).
SERVICE_OPS = [
    {"op": "crop", "scale_range": [0.7, 1], "ratio_range": [0.8, 1.25], "output_width": 28, "output_height": 28},
    {"op": "flip", "p": 0.5, "direction": "horizontal"},
    {"op": "cutout", "p": 0.5, "size_ratio": 0.35},
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--arch", required=True, choices=sorted(ARCHS))
    p.add_argument("--out", required=True)
    p.add_argument("--data", default=None, help="folder with the idx .gz files")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=256, help="global batch over all ranks")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--crop-pad", type=int, default=4, help="random-crop padding in pixels")
    p.add_argument("--erase-p", type=float, default=0.5, help="random-erasing probability")
    p.add_argument("--no-augment", action="store_true", help="ablation: no augmentation")
    p.add_argument("--low-res", type=int, default=0,
                   help="progressive resizing: train the first --low-res-epochs at this size")
    p.add_argument("--low-res-epochs", type=int, default=0)
    p.add_argument("--no-lr-decay", action="store_true",
                   help="ablation: constant LR after warm-up instead of cosine decay")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="use only the first N training images")
    p.add_argument("--val-limit", type=int, default=0)
    p.add_argument("--test-limit", type=int, default=0)
    p.add_argument("--steps", type=int, default=0, help="stop after N optimiser steps (smoke)")
    p.add_argument("--max-minutes", type=float, default=0,
                   help="shorten the run (epochs fixed after epoch 2) to fit this wall time")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (torch default reads 1)")
    p.add_argument("--no-amp", action="store_true", help="disable bf16 autocast on CUDA")
    p.add_argument("--augment-service", default=None,
                   help="augment through this augserve URL (POST /v1/augment/shard) instead of in-process")
    p.add_argument("--shard-size", type=int, default=2048, help="samples per shard sent to the service")
    p.add_argument("--augment-format", default="npy", choices=["npy", "png", "jpeg"],
                   help="what the service answers: npy tensors (no decode here) or encoded images")
    p.add_argument("--loader-workers", type=int, default=2, help="DataLoader workers reading the service")
    return p.parse_args(argv)


def setup_distributed():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    distributed = "RANK" in os.environ  # launched by torchrun, even with one process
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device, distributed


def lr_at(step, total, warmup, base, decay):
    """Linear warm-up, then cosine decay to zero (or constant when decay is off)."""
    if step < warmup:
        return base * (step + 1) / warmup
    if not decay:
        return base
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


@torch.no_grad()
def predict(model, x_u8, device, batch=1000, half=False, flip_tta=False):
    """Logits (float32, CPU) of an eval-mode model for uint8 images [N,28,28].

    flip_tta: the mean of the logits of each image and its mirror image."""
    model.eval()
    out = []
    for i in range(0, len(x_u8), batch):
        xb = normalize(x_u8[i:i + batch].to(device)).contiguous(memory_format=torch.channels_last)
        if half:
            xb = xb.half()
        logits = model(xb).float()
        if flip_tta:
            logits = (logits + model(xb.flip(3)).float()) / 2
        out.append(logits.cpu())
    return torch.cat(out)


def accuracy(logits, y):
    return (logits.argmax(1) == y).float().mean().item()


def save_weights(state, path):
    np.savez(path, **{k: v.detach().cpu().numpy() for k, v in state.items()})


def load_weights(path):
    with np.load(path) as z:
        return {k: torch.from_numpy(z[k].copy()) for k in z.files}


def state_hash(model):
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def train(args):
    torch.set_num_threads(args.threads)
    rank, world, device, distributed = setup_distributed()
    torch.manual_seed(args.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    use_amp = device.type == "cuda" and not args.no_amp
    is_main = rank == 0
    os.makedirs(args.out, exist_ok=True)

    data = load_fashion_mnist(args.data)
    xtr, ytr = data["train"]
    xva, yva = data["val"]
    xte, yte = data["test"]
    if args.limit:
        xtr, ytr = xtr[:args.limit], ytr[:args.limit]
    if args.val_limit:
        xva, yva = xva[:args.val_limit], yva[:args.val_limit]
    if args.test_limit:
        xte, yte = xte[:args.test_limit], yte[:args.test_limit]
    xtr_d, ytr_d = xtr.to(device), ytr.to(device)

    # channels_last: cuDNN's fast path on GPU, and 10-15 % faster oneDNN convolutions on CPU
    model = build(args.arch).to(device).to(memory_format=torch.channels_last)
    n_params = count_parameters(model)
    net = model
    if distributed:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                          weight_decay=args.weight_decay, nesterov=True)

    per_rank = args.batch_size // world
    if per_rank < 1 or args.batch_size % world:
        raise ValueError(f"expected batch size divisible by world size {world}, got {args.batch_size}")
    steps_per_epoch = max(1, len(xtr) // args.batch_size)
    epochs = args.epochs
    total_steps = epochs * steps_per_epoch
    warmup = int(args.warmup_epochs * steps_per_epoch)
    aug_gen = torch.Generator(device=device)
    aug_gen.manual_seed(args.seed * 1000 + rank)
    service_data = None
    if args.augment_service:
        # The training split as WebDataset shards (PNG + .cls), written once; the service augments
        # them every epoch with seeds from (seed, epoch, key), so a rerun sees the same tensors.
        shard_dir = os.path.join(args.out, "shards")
        paths = write_shards(xtr.numpy(), ytr.numpy(), shard_dir, args.shard_size)
        service_data = AugserveShards(paths, args.augment_service, SERVICE_OPS, seed=args.seed,
                                      format=args.augment_format, shuffle_buffer=4 * args.batch_size)

    log = {"arch": args.arch, "args": vars(args), "parameters": n_params, "world_size": world,
           "device": (torch.cuda.get_device_name(device) if device.type == "cuda"
                      else f"cpu ({os.cpu_count()} cores, {args.threads} threads)"),
           "load_average_at_start": list(os.getloadavg()),
           "torch": torch.__version__, "distributed": distributed, "amp": "bf16 autocast" if use_amp else "fp32",
           "augmentation": ([] if args.no_augment else
                            [f"augserve {args.augment_service}: {json.dumps(SERVICE_OPS)}"] if args.augment_service
                            else describe(args.crop_pad, args.erase_p)),
           "optimizer": f"SGD nesterov momentum {args.momentum}, weight decay {args.weight_decay}, "
                        f"batch {args.batch_size}, lr {args.lr}, label smoothing {args.label_smoothing}",
           "resolution": (f"{args.low_res}x{args.low_res} (bilinear, antialiased) for the first "
                          f"{args.low_res_epochs} epochs, then 28x28" if args.low_res else "28x28"),
           "lr_schedule": (f"linear warm-up {args.warmup_epochs} epoch, then "
                           + ("constant" if args.no_lr_decay else "cosine to 0")),
           "train_size": len(xtr), "val_size": len(xva), "epochs_log": []}
    if is_main:
        print(f"[{args.arch}] params={n_params} device={log['device']} world={world} "
              f"train={len(xtr)} steps/epoch={steps_per_epoch}", flush=True)

    best_acc, best_state, best_epoch = -1.0, None, -1
    step = 0
    t_start = time.time()
    epoch = 0
    while epoch < epochs:
        t0 = time.time()
        net.train()
        perm = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(args.seed * 100003 + epoch))
        shard = perm[:steps_per_epoch * args.batch_size][rank::world].to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        batches = None
        seen = 0
        if service_data is not None:
            service_data.set_epoch(epoch)
            batches = iter(torch.utils.data.DataLoader(service_data, batch_size=per_rank, drop_last=True,
                                                       num_workers=args.loader_workers))
        for i in range(steps_per_epoch):
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total_steps, warmup, args.lr, not args.no_lr_decay)
            if batches is not None:
                got = next(batches, None)
                if got is None:
                    break
                xb, yb = got[0].to(device).float().div_(255.0), torch.as_tensor(got[1]).to(device)
            else:
                idx = shard[i * per_rank:(i + 1) * per_rank]
                xb = xtr_d[idx].float().div_(255.0).unsqueeze(1)
                yb = ytr_d[idx]
                if not args.no_augment:
                    xb = augment(xb, aug_gen, args.crop_pad, args.erase_p)
            if args.low_res and epoch < args.low_res_epochs:
                xb = F.interpolate(xb, size=(args.low_res, args.low_res), mode="bilinear",
                                   align_corners=False, antialias=True)
            xb = normalize(xb).contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = net(xb)
                loss = F.cross_entropy(logits.float(), yb, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += 1
            loss_sum += loss.detach()
            correct += (logits.argmax(1) == yb).sum()
            step += 1
            if args.steps and step >= args.steps:
                break
        n_seen = max(1, seen)
        entry = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"],
                 "train_loss": loss_sum.item() / n_seen,
                 "train_top1": correct.item() / (n_seen * per_rank)}
        if is_main:
            val_acc = accuracy(predict(model, xva, device), yva)
            entry["val_top1"] = val_acc
            if val_acc >= best_acc:
                best_acc, best_epoch = val_acc, epoch + 1
                best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        entry["seconds"] = time.time() - t0
        log["epochs_log"].append(entry)
        if is_main:
            print(f"[{args.arch}] epoch {epoch + 1}/{epochs} " + " ".join(
                f"{k}={v:.4f}" for k, v in entry.items() if k != "epoch"), flush=True)
        if args.max_minutes and epoch == 1:
            # Epoch 2 only: epoch 1 carries cudnn autotuning and allocator warm-up.
            left = args.max_minutes * 60 - (time.time() - t_start)
            fit = torch.tensor([max(2, min(epochs, 2 + int(left / (time.time() - t0))))])
            if distributed:
                dist.broadcast(fit, 0)
            if int(fit) < epochs:
                epochs = int(fit)
                total_steps = epochs * steps_per_epoch
                if is_main:
                    print(f"[{args.arch}] time budget: shortening to {epochs} epochs", flush=True)
        epoch += 1
        if args.steps and step >= args.steps:
            break
    train_seconds = time.time() - t_start

    if distributed:
        # BN running stats are rank-local between DDP's pre-forward broadcasts; sync before hashing.
        for b in model.buffers():
            dist.broadcast(b, 0)
        with open(os.path.join(args.out, f"rank{rank}.sha256"), "w") as f:
            f.write(state_hash(model) + "\n")
        dist.barrier()

    if is_main:
        model.load_state_dict(best_state)
        test_logits = predict(model, xte, device)
        log.update({"epochs": epochs, "steps": step, "best_epoch": best_epoch,
                    "validation_top1": best_acc, "train_seconds": round(train_seconds, 1),
                    "test_images": len(xte), "test_top1_pytorch_fp32": accuracy(test_logits, yte),
                    "validation_top1_flip_tta": accuracy(predict(model, xva, device, flip_tta=True), yva),
                    "test_top1_pytorch_fp32_flip_tta": accuracy(
                        predict(model, xte, device, flip_tta=True), yte)})
        if device.type == "cuda":
            half = copy.deepcopy(model).half()
            log["test_top1_pytorch_fp16_cuda"] = accuracy(predict(half, xte, device, half=True), yte)
        save_weights(best_state, os.path.join(args.out, "weights.npz"))
        with open(os.path.join(args.out, "train_log.json"), "w") as f:
            json.dump(log, f, indent=1)
        print(f"[{args.arch}] done: best epoch {best_epoch} val={best_acc:.4f} "
              f"test={log['test_top1_pytorch_fp32']:.4f} "
              f"fp16={log.get('test_top1_pytorch_fp16_cuda', float('nan')):.4f} "
              f"train_seconds={train_seconds:.1f}", flush=True)
    if distributed:
        dist.destroy_process_group()
    return log


if __name__ == "__main__":
    train(parse_args())
