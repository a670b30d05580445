"""Export trained weights to the model repository layout the inference service reads.

  python3 models/training/export.py --arch resnet --run runs/resnet --dest models/resnet \
      [--cpu-bench models/results/cpu_benchmark.json]

Writes into --dest:
  model.onnx       opset 17, input `input` [batch,1,28,28] float32, output `logits` [batch,10]
  model.fp16.onnx  same interface (float32 in/out), float16 weights and compute inside
  config.json      the repository config (sha256 of each file, preprocessing, training record)
  reference.json   PyTorch fp32 logits of the first test images, for the ONNX Runtime parity check
"""
import argparse
import copy
import hashlib
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import LABELS, MEAN, STD, load_split, normalize  # noqa: E402
from nets import DESCRIPTIONS, build, count_macs, count_parameters  # noqa: E402
from train import load_weights  # noqa: E402

OPSET = 17


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_onnx(model, path, channels=1, size=28):
    model.eval()
    dummy = torch.zeros(2, channels, size, size)
    torch.onnx.export(model, dummy, path, opset_version=OPSET, input_names=["input"],
                      output_names=["logits"], do_constant_folding=True,
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    onnx.checker.check_model(onnx.load(path))


def _fp16_tensor(t):
    return numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name)


def convert_to_fp16(src, dst):
    """float16 weights and activations inside, float32 at the graph's input and output.

    torch 1.13 cannot run half convolutions on CPU, so tracing a .half() model fails;
    converting the exported graph instead gives the same computation on any machine.
    """
    m = onnx.load(src)
    g = m.graph
    for i, init in enumerate(g.initializer):
        if init.data_type == TensorProto.FLOAT:
            g.initializer[i].CopyFrom(_fp16_tensor(init))
    for node in g.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                attr.t.CopyFrom(_fp16_tensor(attr.t))
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.FLOAT16
    inp, out = g.input[0].name, g.output[0].name
    inp16, out16 = inp + "_fp16", out + "_fp16"
    for node in g.node:
        node.input[:] = [inp16 if n == inp else n for n in node.input]
        node.output[:] = [out16 if n == out else n for n in node.output]
    g.node.insert(0, helper.make_node("Cast", [inp], [inp16], to=TensorProto.FLOAT16, name="cast_input_fp16"))
    g.node.append(helper.make_node("Cast", [out16], [out], to=TensorProto.FLOAT, name="cast_logits_fp32"))
    del g.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, dst)


def fuse_conv_bn(model):
    """Fold every BatchNorm2d that directly follows a Conv2d (same parent) into the conv."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    for parent in model.modules():
        names = [n for n, _ in parent.named_children()]
        for first, second in zip(names, names[1:]):
            conv, bn = getattr(parent, first), getattr(parent, second)
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                setattr(parent, first, fuse_conv_bn_eval(conv, bn))
                setattr(parent, second, torch.nn.Identity())
    return model


def round_weights_fp16(model):
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())
    return model


def store_weights_fp16(path):
    """Keep float32 compute but store float initializers as float16 followed by a Cast.

    Lossless when the weights are already fp16-representable (round_weights_fp16 after
    fuse_conv_bn); halves the file. ONNX Runtime folds the Casts when the session loads.
    """
    m = onnx.load(path)
    g = m.graph
    casts = []
    for i, init in enumerate(g.initializer):
        if init.data_type == TensorProto.FLOAT:
            name = init.name
            t16 = _fp16_tensor(init)
            t16.name = name + "_fp16"
            g.initializer[i].CopyFrom(t16)
            casts.append(helper.make_node("Cast", [t16.name], [name], to=TensorProto.FLOAT,
                                          name=f"cast_{name}_fp32"))
    for c in reversed(casts):
        g.node.insert(0, c)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def fp16_emulated_top1(model):
    """Test top-1 with fp16 weights and fp16 activations, emulated on a CPU without fp16 kernels.

    Every parameter and buffer is rounded to float16, the input too, and every leaf module's
    output is rounded to float16 before the next layer reads it; products are summed in
    float32, as GPU fp16 convolutions with fp32 accumulation do. torch 1.13 has no half
    convolutions on CPU and ONNX Runtime's CPU provider upcasts fp16 graphs, so this is the
    measurement of 16-bit arithmetic a machine without a GPU can make.
    """
    m = round_weights_fp16(copy.deepcopy(model)).eval()
    to16 = lambda t: t.half().float()  # noqa: E731
    for mod in m.modules():
        if not list(mod.children()):
            mod.register_forward_hook(lambda _m, _i, out: to16(out))
    x, y = load_split("t10k")
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (m(to16(normalize(x[i:i + 1000]))).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def write_reference(model, path, n):
    """PyTorch fp32 logits (CPU) of the first n test images, identified by index."""
    x, y = load_split("t10k")
    with torch.no_grad():
        logits = model.eval()(normalize(x[:n])).numpy()
    ref = {"dataset": "fashion-mnist t10k", "indices": list(range(n)),
           "labels": y[:n].tolist(), "preprocess": {"mean": [MEAN], "std": [STD]},
           "runtime": f"pytorch {torch.__version__} (cpu, fp32)",
           "logits": [[float(f"{v:.7g}") for v in row] for row in logits]}
    with open(path, "w") as f:
        json.dump(ref, f, separators=(",", ":"))
    return ref


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", required=True, choices=sorted(DESCRIPTIONS))
    p.add_argument("--run", required=True, help="train.py --out folder (weights.npz, train_log.json)")
    p.add_argument("--dest", required=True)
    p.add_argument("--name", default=None, help="model name in config.json (default: folder name)")
    p.add_argument("--cpu-bench", default=None, help="bench_cpu.py output for the CPU estimate")
    p.add_argument("--reference", type=int, default=256, help="test images in reference.json")
    p.add_argument("--no-fp16", action="store_true")
    p.add_argument("--fp16-weights", action="store_true",
                   help="store model.onnx weights as fp16 (fp32 compute) to fit the 10 MB file cap")
    a = p.parse_args()
    torch.set_num_threads(2)
    os.makedirs(a.dest, exist_ok=True)
    name = a.name or os.path.basename(os.path.abspath(a.dest))

    model = build(a.arch)
    model.load_state_dict(load_weights(os.path.join(a.run, "weights.npz")))
    model.eval()
    with open(os.path.join(a.run, "train_log.json")) as f:
        log = json.load(f)

    onnx_path = os.path.join(a.dest, "model.onnx")
    fp16_path = os.path.join(a.dest, "model.fp16.onnx")
    if not a.no_fp16:
        export_onnx(model, fp16_path)
        convert_to_fp16(fp16_path, fp16_path)
    served = model
    if a.fp16_weights:
        served = round_weights_fp16(fuse_conv_bn(copy.deepcopy(model)))
    export_onnx(served, onnx_path)
    if a.fp16_weights:
        store_weights_fp16(onnx_path)
    write_reference(served, os.path.join(a.dest, "reference.json"), a.reference)

    cpu_epoch = None
    if a.cpu_bench and os.path.exists(a.cpu_bench):
        with open(a.cpu_bench) as f:
            cpu_epoch = json.load(f)["archs"].get(a.arch, {}).get("seconds_per_epoch")

    pytorch_acc = {"dataset": "fashion-mnist-test", "images": log["test_images"],
                   "top1": log["test_top1_pytorch_fp32"],
                   "runtime": f"pytorch {log['torch']} ({log['device']}, fp32)"}
    config = {
        "name": name, "version": "1",
        "architecture": DESCRIPTIONS[a.arch],
        "file": "model.onnx", "sha256": sha256_file(onnx_path),
        "input": {"name": "input", "shape": [-1, 1, 28, 28], "datatype": "FP32", "layout": "NCHW"},
        "output": {"name": "logits", "shape": [-1, 10], "kind": "logits"},
        "preprocess": {"channels": 1, "resize": 28, "crop": 28, "mean": [MEAN], "std": [STD]},
        "labels": LABELS,
        "accuracy": pytorch_acc,
        "parameters": count_parameters(model),
        "multiply_adds": count_macs(model),
        "training": {
            "epochs": log["epochs"], "best_epoch": log["best_epoch"],
            "optimizer": log["optimizer"], "lr_schedule": log["lr_schedule"],
            "augmentation": log["augmentation"], "seed": log["args"]["seed"],
            "device": f"{log['device']} ({log['amp']}, torch {log['torch']})",
            "train_seconds": log["train_seconds"],
            "validation_top1": log["validation_top1"],
            "validation_images": log["val_size"], "train_images": log["train_size"],
        },
        "variants": {},
    }
    if cpu_epoch is not None:
        config["training"]["cpu_seconds_per_epoch_estimate"] = cpu_epoch
    if a.fp16_weights:
        config["notes"] = ("model.onnx computes in float32 but stores its weights as float16 "
                           "(BatchNorm folded into the convolutions, then rounded) so the file "
                           "stays under 10 MB; reference.json holds that model's PyTorch logits")
    if not a.no_fp16:
        acc16 = None
        if "test_top1_pytorch_fp16_cuda" in log:
            acc16 = dict(pytorch_acc, top1=log["test_top1_pytorch_fp16_cuda"],
                         runtime=f"pytorch {log['torch']} ({log['device']}, fp16)")
        config["variants"]["fp16"] = {"file": "model.fp16.onnx", "sha256": sha256_file(fp16_path),
                                      "accuracy": acc16}
        if "test_top1_pytorch_fp16_cuda" not in log:
            # No GPU in the run: 16-bit arithmetic measured by emulation (evaluate.ts keeps this).
            config["variants"]["fp16"]["fp16_arithmetic_accuracy"] = {
                "dataset": "fashion-mnist-test", "images": 10000, "top1": fp16_emulated_top1(model),
                "runtime": f"pytorch {torch.__version__} (cpu): fp16 weights, input and every layer's "
                           "output rounded to fp16, fp32 accumulation"}
    with open(os.path.join(a.dest, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"exported {name}: {onnx_path} ({os.path.getsize(onnx_path)} bytes), "
          f"params {config['parameters']}")


if __name__ == "__main__":
    main()
