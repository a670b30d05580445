#!/usr/bin/python3
"""torchvision + PIL on the resolved parameters bench/fusion-quality.ts drew, against the fused output.

Job on stdin: {"samples": [{"src", "fused", "applied": [{"op", "params"}]}]}; writes
{"fused_vs_torchvision_pil": mean |difference|, "fused_vs_torchvision_tensor": ...} on stdout.
PIL: the DataLoader's backend (RandomResizedCrop antialiased by PIL's bilinear filter); tensor:
torchvision's tensor backend (bilinear without antialiasing, as the service's one warp).
"""
import json
import sys

import numpy as np
import torch
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode


def run(image, applied, tensor):
    for step in applied:
        op, p = step['op'], step['params']
        if op == 'flip':
            if p['direction'] in ('horizontal', 'both'):
                image = F.hflip(image)
            if p['direction'] in ('vertical', 'both'):
                image = F.vflip(image)
        elif op == 'rotate':
            image = F.rotate(image, p['angle'], interpolation=InterpolationMode.BILINEAR, fill=[0, 0, 0] if tensor else 0)
        elif op == 'crop':
            ow, oh = p.get('output_width', p['width']), p.get('output_height', p['height'])
            image = F.resized_crop(image, p['y'], p['x'], p['height'], p['width'], [oh, ow], interpolation=InterpolationMode.BILINEAR)
        elif op == 'cutout':
            array = image.clone() if tensor else np.array(image)
            for x1, y1, x2, y2 in p['boxes']:
                if tensor:
                    array[:, y1:y2, x1:x2] = 0
                else:
                    array[y1:y2, x1:x2] = 0
            image = array if tensor else Image.fromarray(array)
        else:
            raise ValueError(op)
    return image


def main():
    job = json.load(sys.stdin)
    pil, ten = [], []
    for s in job['samples']:
        src, fused = np.load(s['src']), np.load(s['fused']).astype(np.int16)
        out = np.asarray(run(Image.fromarray(src), s['applied'], False)).astype(np.int16)
        pil.append(np.abs(out - fused).mean())
        t = run(torch.from_numpy(src).permute(2, 0, 1).contiguous(), s['applied'], True)
        ten.append(np.abs(t.permute(1, 2, 0).numpy().astype(np.int16) - fused).mean())
    json.dump({'fused_vs_torchvision_pil': round(float(np.mean(pil)), 3), 'fused_vs_torchvision_tensor': round(float(np.mean(ten)), 3)}, sys.stdout)


if __name__ == '__main__':
    main()
