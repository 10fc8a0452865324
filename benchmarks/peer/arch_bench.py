"""PyTorch peer of benchmarks/arch_bench.mjs: the same architecture, the same three measurements.

    /usr/bin/python3 benchmarks/peer/arch_bench.py --arch mobilenetv2|resnet18|resnet20|mnist-cnn|mobilenetv3|efficientnet-b0
        [--batch 8] [--steps 10] [--threads 2] [--export-onnx PATH]

torchvision's mobilenet_v2 and resnet18 (random weights, eval mode), ResNet-20 (He et al. 2016, 1x1
conv shortcuts) written here, the MNIST CNN of pgd_bench.py with robust's weights. Memory per example:
the growth of peak RSS (ru_maxrss) from a batch of 1 to --batch, divided by (batch - 1), as robust's side
measures it. Prints one JSON object. --export-onnx writes the same network as ONNX instead, for robust to
load (benchmarks/arch_compare.mjs --onnx).
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout, eps=1e-3)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout, eps=1e-3)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, eps=1e-3))

    def forward(self, x):
        h = torch.relu(self.b1(self.c1(x)))
        h = self.b2(self.c2(h))
        return torch.relu(h + (x if self.short is None else self.short(x)))


class ResNet20(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16, eps=1e-3), nn.ReLU())
        layers, cin = [], 16
        for stage, cout in enumerate([16, 32, 64]):
            for i in range(3):
                layers.append(Block(cin, cout, 2 if stage > 0 and i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))


def build(arch):
    torch.manual_seed(0)
    if arch == "mobilenetv2":
        import torchvision
        return torchvision.models.mobilenet_v2(), (3, 224, 224), 1000
    if arch == "resnet18":
        import torchvision
        return torchvision.models.resnet18(), (3, 224, 224), 1000
    if arch == "mobilenetv3":
        import torchvision
        return torchvision.models.mobilenet_v3_large(), (3, 224, 224), 1000
    if arch == "efficientnet-b0":
        import torchvision
        return torchvision.models.efficientnet_b0(), (3, 224, 224), 1000
    if arch == "resnet20":
        return ResNet20(), (3, 32, 32), 10
    if arch == "mnist-cnn":
        from pgd_bench import load_tfjs_weights
        return load_tfjs_weights(os.path.join(os.path.dirname(__file__), "..", "..", "models", "mnist-cnn")), (1, 28, 28), 10
    raise SystemExit(f"unknown --arch {arch}")


def max_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="mobilenetv2")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--export-onnx", metavar="PATH", help="write the same network (same seed) as ONNX to PATH and stop")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, shape, classes = build(a.arch)
    model = model.eval()
    if a.export_onnx:
        # What a user hands robust: torch.onnx.export with a dynamic batch axis (opset 13).
        torch.onnx.export(model, torch.rand((1, *shape)), a.export_onnx, opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        print(json.dumps({"onnx": a.export_onnx, "arch": a.arch}))
        return
    loss = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(1)

    def inputs(n):
        return torch.rand((n, *shape), generator=gen), torch.tensor([(i * 7) % classes for i in range(n)])

    def grad(x, y):
        xi = x.clone().requires_grad_(True)
        return torch.autograd.grad(loss(model(xi), y), xi)[0]

    x1, y1 = inputs(1)
    grad(x1, y1)
    rss1 = max_rss()
    x, y = inputs(a.batch)
    grad(x, y)
    rss_b = max_rss()

    ceiling = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(3):
            float(grad(x, y)[0, 0, 0, 0])
        ceiling = min(ceiling, time.perf_counter() - t0)

    # torchattacks.PGD's loop, early stop off, eps 8/255, alpha eps/4 (as pgd_bench.py).
    from pgd_bench import pgd
    eps = 8 / 255
    t0 = time.perf_counter()
    adv = pgd(model, x, y, eps, eps / 4, a.steps)
    float(adv[0, 0, 0, 0])
    pgd_seconds = time.perf_counter() - t0

    print(json.dumps({
        "side": "pytorch", "arch": a.arch, "torch": torch.__version__, "threads": a.threads, "batch": a.batch,
        "ceiling": {"seconds": ceiling, "imgStepsPerSecond": 3 * a.batch / ceiling},
        "pgd": {"steps": a.steps, "seconds": pgd_seconds, "imgStepsPerSecond": a.steps * a.batch / pgd_seconds},
        "memory": {"rssPerExampleBytes": (rss_b - rss1) / (a.batch - 1), "peakRssBytes": rss_b},
    }))


if __name__ == "__main__":
    main()
