#!/usr/bin/env python3
"""PyTorch peer of lorkd's reference CNN (packages/compute/src/reference-cnn.ts), for scripts/bench/train.ts.

Same architecture and parameterisation: NHWC-equivalent convs with TensorFlow 'same' padding (extra pad at
bottom/right), conv biases, ReLU, residual blocks 32,32,64 s2,64 s2 with 1x1 projection shortcuts, global
average pool, dense; softmax cross-entropy (mean over the batch), Adam. A benchmark peer, not product code.

  timing:     torch_train.py --size 28 --batch 64 --seconds 15 --threads 2
  loss curve: torch_train.py --curve DIR   (DIR from train.ts: meta.json, params.bin, x.bin, y.bin)
Prints one JSON object on stdout.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def same_pads(size, k, s):
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class SameConv(nn.Module):
    """Conv2d with TensorFlow 'same' padding for a fixed input size."""

    def __init__(self, cin, cout, k, stride, in_size):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=0, bias=True)
        top, bottom = same_pads(in_size, k, stride)
        self.sym = top == bottom
        self.pad = (top, bottom, top, bottom)  # left, right, top, bottom (square images)
        if self.sym:
            self.conv.padding = (top, top)

    def forward(self, x):
        if not self.sym:
            x = F.pad(x, self.pad)
        return self.conv(x)


class Block(nn.Module):
    def __init__(self, cin, cout, stride, in_size):
        super().__init__()
        out_size = math.ceil(in_size / stride)
        self.conv1 = SameConv(cin, cout, 3, stride, in_size)
        self.conv2 = SameConv(cout, cout, 3, 1, out_size)
        self.shortcut = SameConv(cin, cout, 1, stride, in_size) if (stride != 1 or cin != cout) else None

    def forward(self, x):
        h = F.relu(self.conv1(x))
        h = self.conv2(h)
        s = self.shortcut(x) if self.shortcut is not None else x
        return F.relu(h + s)


class ReferenceCnn(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        size = cfg["imageSize"]
        self.stem = SameConv(cfg["inChannels"], cfg["stem"], 3, 1, size)
        blocks = []
        cin = cfg["stem"]
        for b in cfg["blocks"]:
            blocks.append(Block(cin, b["channels"], b["stride"], size))
            size = math.ceil(size / b["stride"])
            cin = b["channels"]
        self.blocks = nn.ModuleList(blocks)
        self.dense = nn.Linear(cin, cfg["classes"])

    def forward(self, x):
        h = F.relu(self.stem(x))
        for b in self.blocks:
            h = b(h)
        return self.dense(h.mean(dim=(2, 3)))


def default_config(size):
    return {
        "imageSize": size,
        "inChannels": 1,
        "stem": 32,
        "blocks": [
            {"channels": 32, "stride": 1},
            {"channels": 32, "stride": 1},
            {"channels": 64, "stride": 2},
            {"channels": 64, "stride": 2},
        ],
        "classes": 10,
    }


def torch_param(model, name):
    """Maps a lorkd parameter name (e.g. block2/shortcut/w) to the torch tensor."""
    parts = name.split("/")
    kind = parts[-1]
    if parts[0] == "dense":
        return model.dense.weight if kind == "w" else model.dense.bias
    mod = model.stem if parts[0] == "stem" else getattr(model.blocks[int(parts[0][5:])], parts[1])
    return mod.conv.weight if kind == "w" else mod.conv.bias


def load_params(model, layout, flat):
    with torch.no_grad():
        for p in layout:
            vals = flat[p["offset"] : p["offset"] + p["size"]].reshape(p["shape"])
            t = torch.from_numpy(np.ascontiguousarray(vals))
            if len(p["shape"]) == 4:  # HWIO -> OIHW
                t = t.permute(3, 2, 0, 1)
            elif len(p["shape"]) == 2:  # [in, out] -> [out, in]
                t = t.t()
            torch_param(model, p["name"]).copy_(t)


def run_curve(directory, threads):
    meta = json.load(open(os.path.join(directory, "meta.json")))
    cfg = meta["config"]
    model = ReferenceCnn(cfg)
    flat = np.fromfile(os.path.join(directory, "params.bin"), dtype="<f4")
    load_params(model, meta["layout"], flat)
    n, size, steps = meta["batch"], cfg["imageSize"], meta["steps"]
    xs = np.fromfile(os.path.join(directory, "x.bin"), dtype="<f4").reshape(steps, n, size, size, cfg["inChannels"])
    ys = np.fromfile(os.path.join(directory, "y.bin"), dtype="<i4").reshape(steps, n)
    opt = torch.optim.Adam(model.parameters(), lr=meta["learningRate"], betas=(0.9, 0.999), eps=1e-8)
    losses = []
    for i in range(steps):
        x = torch.from_numpy(xs[i]).permute(0, 3, 1, 2).contiguous()
        y = torch.from_numpy(ys[i]).long()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    return {"losses": losses}


def run_timing(size, batch, seconds, channels_last):
    torch.manual_seed(0)
    model = ReferenceCnn(default_config(size))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 1, size, size)
    y = torch.randint(0, 10, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    steps = 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    while True:
        step()
        steps += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and steps >= 3:
            break
    cpu = time.process_time() - c0
    return {"samples_per_s": steps * batch / elapsed, "steps": steps, "seconds": elapsed, "cpu_seconds": cpu}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--curve", help="directory written by train.ts for the loss-curve comparison")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "tcmalloc": "tcmalloc" in os.environ.get("LD_PRELOAD", ""),
    }
    if args.curve:
        info.update(run_curve(args.curve, args.threads))
    else:
        info.update(run_timing(args.size, args.batch, args.seconds, args.channels_last))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
