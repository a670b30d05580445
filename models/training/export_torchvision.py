"""Export torchvision's ResNet-18 (random weights) as an example of a 3-channel model.

  python3 models/training/export_torchvision.py [--dest models/examples/resnet18-imagenet]

Shows how any exported classifier joins the repository: an ONNX file plus a config.json
declaring the ImageNet preprocessing (RGB, shorter side 256, centre crop 224, ImageNet
mean/std). The weights are random (no download here), so predictions are meaningless;
the ~45 MB .onnx is git-ignored and only config.json is committed. Copy the folder to
models/<name>/ (directly under models/) to have the service load it.
"""
import argparse
import hashlib
import json
import os

import torch
import torchvision

OPSET = 17


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser()
    p.add_argument("--dest", default=os.path.join(here, "..", "examples", "resnet18-imagenet"))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    os.makedirs(a.dest, exist_ok=True)
    model = torchvision.models.resnet18(weights=None).eval()
    path = os.path.join(a.dest, "model.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), path, opset_version=OPSET,
                      input_names=["input"], output_names=["logits"], do_constant_folding=True,
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    categories = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    config = {
        "name": "resnet18-imagenet", "version": "1",
        "architecture": "torchvision resnet18 (weights=None: random, for format illustration only)",
        "file": "model.onnx", "sha256": digest,
        "input": {"name": "input", "shape": [-1, 3, 224, 224], "datatype": "FP32", "layout": "NCHW"},
        "output": {"name": "logits", "shape": [-1, 1000], "kind": "logits"},
        "preprocess": {"channels": 3, "resize": 256, "crop": 224,
                       "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "labels": categories,
        "accuracy": None,
        "parameters": sum(p.numel() for p in model.parameters()),
        "notes": f"random weights (torch.manual_seed({a.seed}), torch {torch.__version__}); "
                 "the sha256 matches the file this script writes with that torch version",
    }
    with open(os.path.join(a.dest, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
