"""Three small CNN families sized for 28x28x1 Fashion-MNIST.

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
    """Blocks of 3x3 conv + BN + ReLU separated by 2x2 max-pooling (28 -> 14 -> 7 -> 3)."""

    CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"]

    def __init__(self, num_classes=10):
        super().__init__()
        layers, cin = [], 1
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(conv_bn_relu(cin, v))
                cin = v
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.3)
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
    """Conv stem at 28x28, two inception blocks at 14x14, three at 7x7."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(1, 32), conv_bn_relu(32, 64), nn.MaxPool2d(2))
        blocks = [
            Inception(64, 32, 48, 64, 8, 16, 16),       # 128 @14
            Inception(128, 64, 64, 96, 16, 32, 32),     # 224 @14
            nn.MaxPool2d(2),
            Inception(224, 96, 64, 128, 16, 32, 64),    # 320 @7
            Inception(320, 128, 96, 160, 24, 48, 64),   # 400 @7
            Inception(400, 128, 96, 192, 24, 64, 64),   # 448 @7
        ]
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(448, num_classes)

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
    """3x3 stem, three stages of two basic blocks (64@28, 128@14, 256@7)."""

    STAGES = [(64, 1), (128, 2), (256, 2)]

    def __init__(self, num_classes=10, blocks_per_stage=2):
        super().__init__()
        self.stem = conv_bn_relu(1, 64)
        layers, cin = [], 64
        for cout, stride in self.STAGES:
            for i in range(blocks_per_stage):
                layers.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))


ARCHS = {"vgg": VGGNet, "googlenet": GoogLeNet, "resnet": ResNet}

DESCRIPTIONS = {
    "vgg": "VGG-style: 7 x (3x3 conv + BN + ReLU) in blocks 64-64 / 128-128 / 256-256-256 "
           "with 2x2 max-pooling, global average pool, dropout 0.3, linear",
    "googlenet": "GoogLeNet-style: 2 conv stem, 5 inception blocks (1x1 | 1x1->3x3 | 1x1->5x5 | "
                 "maxpool->1x1, BN+ReLU, concatenated) at 14x14 and 7x7, global average pool, "
                 "dropout 0.3, linear",
    "resnet": "ResNet-style: 3x3 stem + 3 stages x 2 basic residual blocks (64@28, 128@14, "
              "256@7), identity shortcuts, 1x1 projection where shape changes, global average "
              "pool, linear",
}


def build(arch, num_classes=10):
    if arch not in ARCHS:
        raise ValueError(f"expected one of {sorted(ARCHS)} for arch, got {arch!r}")
    return ARCHS[arch](num_classes)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
