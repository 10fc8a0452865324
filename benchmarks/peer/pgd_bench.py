#!/usr/bin/env python3
"""PyTorch peer for `robust bench`: the same CNN, the same digits, the same attacks, written the way a
torchattacks user writes them (every attack on every point, no early stop).

It loads models/mnist-cnn (TF.js Layers format: model.json + weights.bin) into an equivalent torch
module, checks that its predictions agree with robust's on the same digits, and prints one JSON object:

  - ceiling: forward + input gradient of the cross-entropy at batch 128, 1 and N threads;
  - pgd: PGD-40 at eps 0.3 (step eps/4, random start), torchattacks' loop;
  - e2e: the example suite's attacks (FGSM and PGD-40 at each eps, DeepFool L2) on its digits.

Run it through robust, which exports the digits and robust's predictions first:
  npm run bench:peer                      (node bin/robust.js bench --peer-only)
or by hand:
  node bin/robust.js data mnist:test --n 512 --out-x /tmp/x.npy --out-y /tmp/y.npy
  /usr/bin/python3 benchmarks/peer/pgd_bench.py --x /tmp/x.npy --y /tmp/y.npy

Needs Debian's python3-torch and python3-numpy (`apt-get install -y python3-torch python3-numpy`).
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MnistCnn(nn.Module):
    """conv32-conv64-maxpool-dense128-dense10, as models/mnist-cnn/model.json declares it."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.dense1 = nn.Linear(12 * 12 * 64, 128)
        self.logits = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        # TF.js flattens NHWC activations (h, w, c order); permute so dense1's rows line up.
        x = torch.flatten(x.permute(0, 2, 3, 1), 1)
        x = F.relu(self.dense1(x))
        return self.logits(x)


def load_tfjs_weights(model_dir):
    """Read the TF.js weights manifest and convert each tensor to torch's layout."""
    with open(os.path.join(model_dir, "model.json")) as f:
        meta = json.load(f)
    tensors = {}
    for group in meta["weightsManifest"]:
        blob = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            if spec["dtype"] != "float32" or "quantization" in spec:
                raise SystemExit(f"{spec['name']}: only unquantised float32 weights are supported")
            count = int(np.prod(spec["shape"]))
            tensors[spec["name"]] = np.frombuffer(blob, np.float32, count, offset).reshape(spec["shape"])
            offset += 4 * count
    model = MnistCnn()
    state = {}
    for layer in ("conv1", "conv2", "dense1", "logits"):
        kernel = tensors[f"{layer}/kernel"]
        # Conv kernels are HWIO in TF.js, OIHW in torch; dense kernels are [in, out], torch's [out, in].
        weight = kernel.transpose(3, 2, 0, 1) if kernel.ndim == 4 else kernel.T
        state[f"{layer}.weight"] = torch.from_numpy(np.ascontiguousarray(weight))
        state[f"{layer}.bias"] = torch.from_numpy(tensors[f"{layer}/bias"].copy())
    model.load_state_dict(state)
    return model.eval()


def fgsm(model, images, labels, eps):
    """torchattacks.FGSM.forward."""
    images = images.clone().detach().requires_grad_(True)
    cost = nn.CrossEntropyLoss()(model(images), labels)
    grad = torch.autograd.grad(cost, images)[0]
    return torch.clamp(images + eps * grad.sign(), 0, 1).detach()


def pgd(model, images, labels, eps, alpha, steps, random_start=True):
    """torchattacks.PGD.forward: random start, `steps` signed-gradient steps, project, clamp."""
    images = images.clone().detach()
    adv = images.clone().detach()
    if random_start:
        adv = torch.clamp(adv + torch.empty_like(adv).uniform_(-eps, eps), 0, 1).detach()
    loss = nn.CrossEntropyLoss()
    for _ in range(steps):
        adv.requires_grad = True
        cost = loss(model(adv), labels)
        grad = torch.autograd.grad(cost, adv, retain_graph=False, create_graph=False)[0]
        adv = adv.detach() + alpha * grad.sign()
        delta = torch.clamp(adv - images, min=-eps, max=eps)
        adv = torch.clamp(images + delta, min=0, max=1).detach()
    return adv


def deepfool(model, images, labels, steps=50, overshoot=0.02):
    """torchattacks.DeepFool: per image, a full Jacobian (one backward pass per class) per step.
    Returns the adversarial images and the number of image-gradient evaluations spent."""
    adv = [images[i : i + 1].clone().detach() for i in range(len(images))]
    active = [True] * len(images)
    evaluations = 0
    for _ in range(steps):
        if not any(active):
            break
        for i in range(len(images)):
            if not active[i]:
                continue
            image = adv[i].requires_grad_(True)
            fs = model(image)[0]
            label = int(labels[i])
            if int(fs.argmax()) != label:
                active[i] = False
                adv[i] = image.detach()
                continue
            ws = []
            for k in range(len(fs)):
                if image.grad is not None:
                    image.grad.zero_()
                fs[k].backward(retain_graph=k + 1 < len(fs))
                ws.append(image.grad.clone().detach())
            evaluations += len(fs)
            ws = torch.stack(ws)
            image = image.detach()
            others = [k for k in range(len(fs)) if k != label]
            f_prime = (fs[others] - fs[label]).detach()
            w_prime = ws[others] - ws[label]
            value = torch.abs(f_prime) / torch.norm(torch.flatten(w_prime, 1), p=2, dim=1)
            hat = int(torch.argmin(value))
            delta = torch.abs(f_prime[hat]) * w_prime[hat] / (torch.norm(w_prime[hat], p=2) ** 2)
            adv[i] = torch.clamp(image + (1 + overshoot) * delta, 0, 1).detach()
    return torch.cat(adv).detach(), evaluations


def predict(model, x, batch=500):
    with torch.no_grad():
        return torch.cat([model(x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)])


def ceiling(model, x, y, threads, warmup, iterations, rounds=3):
    """Forward + input gradient of the summed cross-entropy only: the most an attack step can reach.
    The fastest of `rounds` timed rounds counts, as robust's does: a ceiling is what the machine allows."""
    torch.set_num_threads(threads)
    loss = nn.CrossEntropyLoss(reduction="sum")

    def step():
        xi = x.clone().requires_grad_(True)
        grad = torch.autograd.grad(loss(model(xi), y), xi)[0]
        return float(grad[0, 0, 0, 0])

    for _ in range(warmup):
        step()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(iterations):
            step()
        times.append(time.perf_counter() - t0)
    seconds = min(times)
    evaluations = iterations * len(x)
    return {"threads": threads, "batchSize": len(x), "iterations": iterations, "rounds": rounds, "seconds": seconds,
            "gradientEvaluations": evaluations, "imageGradientStepsPerSecond": evaluations / seconds}


def pgd_bench(model, x, y, eps, steps, batch):
    t0 = time.perf_counter()
    robust = 0
    for i in range(0, len(x), batch):
        xb, yb = x[i : i + batch], y[i : i + batch]
        adv = pgd(model, xb, yb, eps, eps / 4, steps)
        robust += int((predict(model, adv) == yb).sum())
    seconds = time.perf_counter() - t0
    evaluations = steps * len(x)
    return {"n": len(x), "eps": eps, "steps": steps, "batchSize": batch, "earlyStop": False, "seconds": seconds,
            "gradientEvaluations": evaluations, "imageGradientStepsPerSecond": evaluations / seconds,
            "robustAccuracy": robust / len(x)}


def e2e(model, x, y, attacks, eps_list, steps, batch):
    """The suite as a torchattacks script evaluates it: a clean pass, then every attack at every eps on every
    point, robust accuracy per attack and eps, and the per-point worst case over the Linf attacks."""
    t0 = time.perf_counter()
    clean = predict(model, x) == y
    rows, evaluations = [], 0
    worst = {eps: clean.clone() for eps in eps_list}
    for name in attacks:
        a0 = time.perf_counter()
        spent = 0
        if name in ("fgsm", "pgd"):
            for eps in eps_list:
                robust = torch.zeros(len(x), dtype=torch.bool)
                for i in range(0, len(x), batch):
                    xb, yb = x[i : i + batch], y[i : i + batch]
                    adv = fgsm(model, xb, yb, eps) if name == "fgsm" else pgd(model, xb, yb, eps, eps / 4, steps)
                    spent += len(xb) * (1 if name == "fgsm" else steps)
                    robust[i : i + batch] = predict(model, adv) == yb
                robust &= clean
                worst[eps] &= robust
                rows.append({"key": f"{name}@linf:{eps:g}", "attack": name, "eps": eps,
                             "robustAccuracy": float(robust.float().mean())})
        elif name == "deepfool":
            advs = []
            for i in range(0, len(x), batch):
                adv, used = deepfool(model, x[i : i + batch], y[i : i + batch])
                advs.append(adv)
                spent += used
            adv = torch.cat(advs)
            broken = (predict(model, adv) != y) & clean
            dist = torch.norm(torch.flatten(adv - x, 1), dim=1)[broken]
            rows.append({"key": "deepfool@l2:min", "attack": name, "eps": None,
                         "robustAccuracy": float((clean & ~broken).float().mean()),
                         "attackSuccessRate": float(broken.sum()) / max(1, int(clean.sum())),
                         "medianL2": float(dist.median()) if len(dist) else None})
        else:
            print(f"pgd_bench.py: no peer for attack {name}; skipped", file=sys.stderr)
            continue
        evaluations += spent
        for row in rows:
            if row["attack"] == name and "seconds" not in row:
                row["seconds"] = time.perf_counter() - a0
                row["gradientEvaluations"] = spent
    seconds = time.perf_counter() - t0
    return {"n": len(x), "batchSize": batch, "attacks": attacks, "eps": eps_list, "seconds": seconds,
            "gradientEvaluations": evaluations, "imageGradientStepsPerSecond": evaluations / seconds, "cleanAccuracy": float(clean.float().mean()), "results": rows,
            "worstCase": [{"key": f"worst@linf:{eps:g}", "eps": eps, "robustAccuracy": float(worst[eps].float().mean())}
                          for eps in eps_list]}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--x", required=True, help="digits, float32 NHWC .npy (robust data --out-x)")
    p.add_argument("--y", required=True, help="labels .npy (robust data --out-y)")
    p.add_argument("--robust-pred", help="robust's predicted labels on the same digits (.npy), to check agreement")
    p.add_argument("--model", default=os.path.join(here, "..", "..", "models", "mnist-cnn"))
    p.add_argument("--threads", default="auto",
                   help="threads for PGD and the suite: a number, or auto (whichever ceiling was faster, 1 or all cores)")
    p.add_argument("--ceiling-iterations", type=int, default=5, help="calls per timed round (3 rounds)")
    p.add_argument("--pgd-n", type=int, default=256)
    p.add_argument("--pgd-steps", type=int, default=40)
    p.add_argument("--pgd-eps", type=float, default=0.3)
    p.add_argument("--pgd-batch", type=int, default=128)
    p.add_argument("--suite-x", help="the suite's digits (.npy); default: the first --suite-n of --x")
    p.add_argument("--suite-y", help="the suite's labels (.npy)")
    p.add_argument("--suite-n", type=int, default=200)
    p.add_argument("--suite-eps", default="0.05,0.1,0.2,0.3")
    p.add_argument("--suite-attacks", default="fgsm,pgd,deepfool")
    p.add_argument("--suite-steps", type=int, default=40)
    p.add_argument("--suite-batch", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="also write the JSON here")
    a = p.parse_args()

    default_threads = torch.get_num_threads()
    cores = os.cpu_count() or 1
    torch.manual_seed(a.seed)
    model = load_tfjs_weights(a.model)
    for param in model.parameters():
        param.requires_grad_(False)

    def read(xp, yp):
        x_nhwc = np.load(xp).astype(np.float32)
        return (torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))),
                torch.from_numpy(np.load(yp).astype(np.int64)))

    x, y = read(a.x, a.y)
    torch.set_num_threads(cores)
    pred = predict(model, x)
    agreement = None
    if a.robust_pred:
        theirs = torch.from_numpy(np.load(a.robust_pred).astype(np.int64))
        agreement = float((pred[: len(theirs)] == theirs).float().mean())
        if agreement < 0.99:
            raise SystemExit(f"pgd_bench.py: torch and robust agree on only {100 * agreement:.1f}% of predictions; "
                             "the weights were not converted correctly")

    batch = min(a.pgd_batch, len(x))
    ceilings = [ceiling(model, x[:batch], y[:batch], t, 3, a.ceiling_iterations) for t in sorted({1, cores})]
    if a.threads == "auto":
        threads = max(ceilings, key=lambda c: c["imageGradientStepsPerSecond"])["threads"]
    else:
        threads = int(a.threads)
    torch.set_num_threads(threads)
    out = {
        "schema": "robust-bench-peer/v1",
        "framework": "pytorch",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "defaultThreads": default_threads,
        "threads": threads,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "n": len(x),
        "cleanAccuracy": float((pred == y).float().mean()),
        "agreement": agreement,
        "ceiling": ceilings,
    }
    n = min(a.pgd_n, len(x))
    out["pgd"] = pgd_bench(model, x[:n], y[:n], a.pgd_eps, a.pgd_steps, batch)
    sx, sy = read(a.suite_x, a.suite_y) if a.suite_x and a.suite_y else (x, y)
    m = min(a.suite_n, len(sx))
    eps_list = [float(e) for e in a.suite_eps.split(",") if e]
    attacks = [s for s in a.suite_attacks.split(",") if s]
    out["e2e"] = e2e(model, sx[:m], sy[:m], attacks, eps_list, a.suite_steps, a.suite_batch)
    text = json.dumps(out, indent=2)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
