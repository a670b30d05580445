#!/usr/bin/python3
"""Python baselines for the augmentation benchmark: decode -> operation -> encode, one process.

Reads a job (JSON) on stdin, writes results (JSON) on stdout; bench/augment-suite.ts drives it.
Stacks:
  pillow       PIL.Image decode, PIL operation, PIL encode
  opencv       cv2.imdecode, cv2/numpy operation, cv2.imencode
  torchvision  PIL decode/encode, torchvision.transforms.functional operation (no CutMix in 0.14);
               the catalogue's rows (ColorJitter, GaussianBlur, RandAugment, TrivialAugmentWide) with
               the same fixed draws as the service is sent
Parameters are the fixed ones of bench/augment-cases.ts, so every stack does the same work.
Encoding settings match sharp's defaults: PNG zlib level 6, JPEG quality 80.
"""
import io
import json
import sys
import time

import cv2
import numpy as np
import PIL
import torch
import torchvision
from PIL import Image, ImageFilter
from torchvision.transforms.autoaugment import _apply_op
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

PNG_LEVEL = 6
JPEG_QUALITY = 80


# ---- Pillow ---------------------------------------------------------------------------------

def pil_decode(data):
    im = Image.open(io.BytesIO(data))
    im.load()
    return im if im.mode == 'RGB' else im.convert('RGB')


def pil_encode(im, fmt):
    buf = io.BytesIO()
    if fmt == 'png':
        im.save(buf, 'PNG', compress_level=PNG_LEVEL)
    else:
        im.save(buf, 'JPEG', quality=JPEG_QUALITY)
    return buf.getvalue()


def pil_op(op, im, p, mix):
    if op == 'flip':
        return im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if op == 'rotate':
        return im.rotate(p['angle'], resample=Image.Resampling.BILINEAR, expand=False, fillcolor=tuple(p['fill']))
    if op == 'crop':
        return im.resize(tuple(p['output']), Image.Resampling.LANCZOS, box=tuple(p['box']))
    if op == 'scale':
        return im.resize(tuple(p['output']), Image.Resampling.LANCZOS)
    if op == 'cutout':
        out = im.copy()
        out.paste(tuple(p['fill']), tuple(p['box']))
        return out
    if op == 'cutmix':
        if mix.size != im.size:
            mix = mix.resize(im.size, Image.Resampling.LANCZOS)
        out = im.copy()
        out.paste(mix.crop(tuple(p['box'])), tuple(p['box'][:2]))
        return out
    if op == 'gaussian_blur':
        # Pillow's own blur (an extended box filter of that sigma), not the same kernel: the same job.
        return im.filter(ImageFilter.GaussianBlur(radius=p['sigma']))
    raise ValueError(op)


def pillow_pipeline(case, data, mix_data):
    im = pil_decode(data)
    mix = pil_decode(mix_data) if case['op'] == 'cutmix' else None
    return pil_encode(pil_op(case['op'], im, case['python'], mix), case['format'])


# ---- OpenCV ---------------------------------------------------------------------------------

def cv_decode(data):
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def cv_encode(img, fmt):
    if fmt == 'png':
        ok, buf = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL])
    else:
        ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return buf.tobytes()


def cv_op(op, img, p, mix):
    h, w = img.shape[:2]
    if op == 'flip':
        return cv2.flip(img, 1)
    if op == 'rotate':
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), p['angle'], 1.0)
        return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=tuple(p['fill'][::-1]))
    if op == 'crop':
        x1, y1, x2, y2 = p['box']
        # INTER_AREA: OpenCV's advice for shrinking (antialiased); cheaper than INTER_LANCZOS4.
        return cv2.resize(img[y1:y2, x1:x2], tuple(p['output']), interpolation=cv2.INTER_AREA)
    if op == 'scale':
        return cv2.resize(img, tuple(p['output']), interpolation=cv2.INTER_AREA)
    if op == 'cutout':
        x1, y1, x2, y2 = p['box']
        out = img.copy()
        out[y1:y2, x1:x2] = p['fill'][::-1]
        return out
    if op == 'gaussian_blur':
        k = p['kernel_size']
        return cv2.GaussianBlur(img, (k, k), p['sigma'], borderType=cv2.BORDER_REFLECT_101)
    if op == 'cutmix':
        if mix.shape != img.shape:
            mix = cv2.resize(mix, (w, h), interpolation=cv2.INTER_AREA)
        x1, y1, x2, y2 = p['box']
        out = img.copy()
        out[y1:y2, x1:x2] = mix[y1:y2, x1:x2]
        return out
    raise ValueError(op)


def opencv_pipeline(case, data, mix_data):
    img = cv_decode(data)
    mix = cv_decode(mix_data) if case['op'] == 'cutmix' else None
    return cv_encode(cv_op(case['op'], img, case['python'], mix), case['format'])


# ---- torchvision ----------------------------------------------------------------------------

def tv_op(op, im, p):
    if op == 'flip':
        return TF.hflip(im)
    if op == 'rotate':
        return TF.rotate(im, p['angle'], interpolation=InterpolationMode.BILINEAR, expand=False, fill=p['fill'])
    if op == 'crop':
        x1, y1, x2, y2 = p['box']
        ow, oh = p['output']
        return TF.resized_crop(im, y1, x1, y2 - y1, x2 - x1, [oh, ow])  # default: bilinear, antialiased
    if op == 'scale':
        ow, oh = p['output']
        return TF.resize(im, [oh, ow])
    if op == 'cutout':
        # Cutout is RandomErasing's erase(): tensors only, so the PIL image goes through a tensor.
        x1, y1, x2, y2 = p['box']
        t = TF.pil_to_tensor(im)
        value = torch.tensor(p['fill'], dtype=torch.uint8).view(3, 1, 1)
        return TF.to_pil_image(TF.erase(t, y1, x1, y2 - y1, x2 - x1, value))
    if op == 'color_jitter':
        adjust = {'brightness': TF.adjust_brightness, 'contrast': TF.adjust_contrast,
                  'saturation': TF.adjust_saturation, 'hue': TF.adjust_hue}
        for name in p['order']:
            im = adjust[name](im, p[name])
        return im
    if op == 'gaussian_blur':
        return TF.gaussian_blur(im, [p['kernel_size'], p['kernel_size']], [p['sigma'], p['sigma']])
    if op in ('randaugment', 'trivialaugment'):
        # What RandAugment / TrivialAugmentWide run once their draws are made (nearest, no fill).
        for name, magnitude in p['ops']:
            im = _apply_op(im, name, magnitude, interpolation=InterpolationMode.NEAREST, fill=None)
        return im
    return None


def torchvision_pipeline(case, data, mix_data):
    im = pil_decode(data)
    return pil_encode(tv_op(case['op'], im, case['python']), case['format'])


STACKS = {'pillow': pillow_pipeline, 'opencv': opencv_pipeline, 'torchvision': torchvision_pipeline}


CATALOGUE = ('color_jitter', 'gaussian_blur', 'randaugment', 'trivialaugment')


def applies(stack, op):
    if stack == 'torchvision':
        return op != 'cutmix'
    # Pillow and OpenCV have no ColorJitter hue or augmentation policies of their own; both blur.
    return op not in CATALOGUE or op == 'gaussian_blur'


def percentile(values, p):
    s = sorted(values)
    rank = min(len(s) - 1, max(0, -(-p * len(s) // 100) - 1))
    return s[int(rank)]


def one_run(fn, seconds, amount):
    lat = []
    start = time.perf_counter()
    deadline = start + seconds
    while (len(lat) < amount) if amount else (time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn()
        lat.append((time.perf_counter() - t0) * 1000)
    return {'items': len(lat), 'seconds': time.perf_counter() - start, 'latencies_ms': lat}


def versions():
    return {
        'python': sys.version.split()[0],
        'pillow': PIL.__version__,
        'opencv': cv2.__version__,
        'opencv_threads': cv2.getNumThreads(),
        'numpy': np.__version__,
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'torch_threads': torch.get_num_threads(),
    }


def main():
    job = json.load(sys.stdin)
    budget = job['budget']
    files = {}

    def read(path):
        if path not in files:
            with open(path, 'rb') as f:
                files[path] = f.read()
        return files[path]

    results = []
    for case in job['cases']:
        data, mix_data = read(case['input']), read(case['mix'])
        for stack in job['stacks']:
            if not applies(stack, case['op']):
                continue
            fn = STACKS[stack]
            out = fn(case, data, mix_data)
            with Image.open(io.BytesIO(out)) as check:
                dims = list(check.size)
            for _ in range(budget['warmup']):
                fn(case, data, mix_data)
            runs = [one_run(lambda: fn(case, data, mix_data), budget['seconds'], budget.get('amount'))
                    for _ in range(budget['runs'])]
            results.append({
                'input': case['input_name'], 'op': case['op'], 'stack': stack,
                'output': {'width': dims[0], 'height': dims[1], 'bytes': len(out)},
                'runs': runs,
            })
            print(f"python {stack} {case['input_name']} {case['op']} done", file=sys.stderr, flush=True)
    json.dump({'versions': versions(), 'results': results}, sys.stdout)


if __name__ == '__main__':
    if sys.argv[1:] == ['--versions']:
        json.dump(versions(), sys.stdout)
    else:
        main()
