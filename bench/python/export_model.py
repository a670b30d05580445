#!/usr/bin/python3
"""Exports an untrained model to ONNX with a model-repository config.json, for the benchmark.

  /usr/bin/python3 bench/python/export_model.py --arch resnet18 --out bench/work/models/resnet18

resnet18: torchvision's ResNet-18 at 224x224x3 (random weights, ImageNet preprocessing, 1000
labels). vgg, googlenet, resnet: the Fashion-MNIST architectures of models/training/nets.py at
28x28x1 (random weights), the stand-ins used only while the trained models are not committed.
Weights do not change the cost of a forward pass, so random ones are enough for timing.
Opset 17, dynamic batch axis, input "input", output "logits".
"""
import argparse
import hashlib
import json
import os
import sys

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'models', 'training'))

FASHION_LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                  'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']


def build(arch):
    """The module and its config fields; shared with torch_eager.py so both run the same net."""
    torch.manual_seed(0)
    if arch == 'resnet18':
        model = torchvision.models.resnet18(weights=None)
        return model, {
            'architecture': 'torchvision resnet18 (random weights, benchmark only)',
            'shape': [3, 224, 224],
            'preprocess': {'channels': 3, 'resize': 256, 'crop': 224,
                           'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225]},
            'labels': [f'class {i}' for i in range(1000)],
        }
    from nets import build as build_net  # models/training/nets.py
    return build_net(arch), {
        'architecture': f'models/training/nets.py {arch} (random weights, benchmark stand-in)',
        'shape': [1, 28, 28],
        'preprocess': {'channels': 1, 'resize': 28, 'crop': 28, 'mean': [0.2860], 'std': [0.3530]},
        'labels': FASHION_LABELS,
    }


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--arch', required=True, choices=['resnet18', 'vgg', 'googlenet', 'resnet'])
    p.add_argument('--out', required=True)
    p.add_argument('--name', default=None)
    args = p.parse_args()
    model, spec = build(args.arch)
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, 'model.onnx')
    example = torch.zeros(2, *spec['shape'])
    torch.onnx.export(model, example, path, opset_version=17, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    config = {
        'name': args.name or args.arch,
        'version': '1',
        'architecture': spec['architecture'],
        'file': 'model.onnx',
        'sha256': sha256(path),
        'input': {'name': 'input', 'shape': [-1, *spec['shape']], 'datatype': 'FP32', 'layout': 'NCHW'},
        'output': {'name': 'logits', 'shape': [-1, len(spec['labels'])], 'kind': 'logits'},
        'preprocess': spec['preprocess'],
        'labels': spec['labels'],
        'parameters': sum(t.numel() for t in model.parameters()),
    }
    with open(os.path.join(args.out, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    print(json.dumps({'path': path, 'sha256': config['sha256']}))


if __name__ == '__main__':
    main()
