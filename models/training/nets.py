"""Three CNN families for 28x28x1 Fashion-MNIST, each in two sizes.

The plain names (vgg, googlenet, resnet) are the served models, trained on a GPU (100-320 M
multiply-adds per image, 40 epochs). The `-cpu` sizes do one 3x3 convolution at 28x28 and the
rest at 14x14 and 7x7 (17-29 M multiply-adds), so that an epoch takes 2-3 minutes on a 2-core
CPU; models/README.md reports what they reach there (training/train_cpu.sh).

All end in global average pooling and a linear layer returning raw logits, so
the exported graphs take any batch size and the service does softmax itself.
"""
import torch
import torch.nn as nn


def conv_bn_relu(cin, cout, k=3, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class VGGNet(nn.Module):
    """Blocks of 3x3 conv + BN + ReLU separated by 2x2 max-pooling."""

    GPU = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"]
    CPU = [32, "M", 64, 64, "M", 128, 128]

    def __init__(self, num_classes=10, cfg=GPU, dropout=0.0):
        super().__init__()
        layers, cin = [], 1
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(conv_bn_relu(cin, v))
                cin = v
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.pool(self.features(x)).flatten(1)
        return self.fc(self.dropout(x))


class Inception(nn.Module):
    """Parallel 1x1, 1x1->3x3, 1x1->5x5 and 3x3-maxpool->1x1 branches, concatenated."""

    def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
        super().__init__()
        self.b1 = conv_bn_relu(cin, c1, 1)
        self.b3 = nn.Sequential(conv_bn_relu(cin, c3r, 1), conv_bn_relu(c3r, c3, 3))
        self.b5 = nn.Sequential(conv_bn_relu(cin, c5r, 1), conv_bn_relu(c5r, c5, 5))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn_relu(cin, cp, 1))
        self.out_channels = c1 + c3 + c5 + cp

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)


class GoogLeNet(nn.Module):
    """Conv stem at 28x28, inception blocks at 14x14 and 7x7 ("M" = 2x2 max-pool)."""

    # (c1, c3 reduce, c3, c5 reduce, c5, pool projection) per block
    CPU = {"stem": [32], "blocks": [(16, 24, 32, 8, 16, 16), (32, 32, 48, 8, 24, 24), "M",
                                    (48, 48, 96, 12, 32, 32), (64, 64, 128, 16, 32, 32)]}
    GPU = {"stem": [32, 64], "blocks": [(32, 48, 64, 8, 16, 16), (64, 64, 96, 16, 32, 32), "M",
                                        (96, 64, 128, 16, 32, 64), (128, 96, 160, 24, 48, 64),
                                        (128, 96, 192, 24, 64, 64)]}

    def __init__(self, num_classes=10, cfg=GPU, dropout=0.0):
        super().__init__()
        stem, cin = [], 1
        for c in cfg["stem"]:
            stem.append(conv_bn_relu(cin, c))
            cin = c
        self.stem = nn.Sequential(*stem, nn.MaxPool2d(2))
        blocks = []
        for b in cfg["blocks"]:
            if b == "M":
                blocks.append(nn.MaxPool2d(2))
            else:
                blocks.append(Inception(cin, *b))
                cin = blocks[-1].out_channels
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.pool(self.blocks(self.stem(x))).flatten(1)
        return self.fc(self.dropout(x))


class BasicBlock(nn.Module):
    """Two 3x3 convs with an identity shortcut; 1x1 projection only when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """3x3 stem, then stages of two basic blocks; a stage with stride 2 halves the size."""

    CPU = {"stem": 24, "stages": [(48, 2), (96, 2)]}                # 24@28, 48@14, 96@7
    GPU = {"stem": 64, "stages": [(64, 1), (128, 2), (256, 2)]}     # 64@28, 128@14, 256@7

    def __init__(self, num_classes=10, cfg=GPU, blocks_per_stage=2):
        super().__init__()
        self.stem = conv_bn_relu(1, cfg["stem"])
        layers, cin = [], cfg["stem"]
        for cout, stride in cfg["stages"]:
            for i in range(blocks_per_stage):
                layers.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))


ARCHS = {
    "vgg": lambda n: VGGNet(n, VGGNet.GPU, dropout=0.3),
    "googlenet": lambda n: GoogLeNet(n, GoogLeNet.GPU, dropout=0.3),
    "resnet": lambda n: ResNet(n, ResNet.GPU),
    "vgg-cpu": lambda n: VGGNet(n, VGGNet.CPU),
    "googlenet-cpu": lambda n: GoogLeNet(n, GoogLeNet.CPU),
    "resnet-cpu": lambda n: ResNet(n, ResNet.CPU),
}

DESCRIPTIONS = {
    "vgg": "VGG-style: 7 x (3x3 conv + BN + ReLU) in blocks 64-64 / 128-128 / 256-256-256 "
           "with 2x2 max-pooling, global average pool, dropout 0.3, linear",
    "googlenet": "GoogLeNet-style: 2 conv stem, 5 inception blocks (1x1 | 1x1->3x3 | 1x1->5x5 | "
                 "maxpool->1x1, BN+ReLU, concatenated) at 14x14 and 7x7, global average pool, "
                 "dropout 0.3, linear",
    "resnet": "ResNet-style: 3x3 stem + 3 stages x 2 basic residual blocks (64@28, 128@14, "
              "256@7), identity shortcuts, 1x1 projection where shape changes, global average "
              "pool, linear",
    "vgg-cpu": "VGG-style: 5 x (3x3 conv + BN + ReLU) in blocks 32 / 64-64 / 128-128 with 2x2 "
               "max-pooling between them (28 -> 14 -> 7), global average pool, linear",
    "googlenet-cpu": "GoogLeNet-style: 3x3 conv stem (32), 4 inception blocks (1x1 | 1x1->3x3 | "
                     "1x1->5x5 | maxpool->1x1, BN+ReLU, concatenated) two at 14x14 (80, 128 "
                     "channels) and two at 7x7 (208, 256), global average pool, linear",
    "resnet-cpu": "ResNet-style: 3x3 stem (24@28) + 2 stages x 2 basic residual blocks (48@14, "
                  "96@7, first block of each with stride 2), identity shortcuts, 1x1 projection "
                  "where the shape changes, global average pool, linear",
}


def build(arch, num_classes=10):
    if arch not in ARCHS:
        raise ValueError(f"expected one of {sorted(ARCHS)} for arch, got {arch!r}")
    return ARCHS[arch](num_classes)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


def count_macs(model, size=28):
    """Multiply-adds of one forward pass on a 1 x size x size image (convolutions and linear layers)."""
    total = [0]

    def conv(m, _inp, out):
        total[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear(m, _inp, out):
        total[0] += out.numel() * m.in_features

    hooks = [m.register_forward_hook(conv) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(linear) for m in model.modules() if isinstance(m, nn.Linear)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, size, size))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total[0]
