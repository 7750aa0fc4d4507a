"""PyTorch side of scripts/bench/native-student.ts: the LoRKD student, built here in PyTorch from lorkd's own graph.

The graph is @lorkd/model's `model.arch.nodes` as JSON (conv, gn, relu, add, gap; resnet family), so PyTorch runs
exactly the student lorkd trains, whatever its current architecture; the bench checks parameter counts and every
conv's output shape on both sides. Every conv is an expert conv computed the way lorkd's EKS `masked` strategy does:
the shared conv W0 (+ bias) over the whole batch, plus one low-rank path over all regions at once (a kxk conv to
sum(r) channels, each sample's channels scaled by alpha/r for its own region and 0 elsewhere, then a 1x1 conv back
to Cout). B factors start at zero like lorkd's. GroupNorm is nn.GroupNorm (eps 1e-5). `gap` is the global average
pool, or average and max pools concatenated when the node has twice the channels. One dense head per region.
AdamW (lr 1e-3, decay 1e-4 on conv kernels, expert factors and head kernels); loss = sum over regions of the CE of
that region's samples / batch; the batch is sorted by region (batch / regions samples each).

usage: LD_PRELOAD=libtcmalloc_minimal.so.4 /usr/bin/python3 native-student-torch.py SIZE BATCH SECONDS THREADS \
           REGIONS RANK ARCH_JSON_FILE
Prints one line `RESULT {json}`.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

size, batch, seconds, threads = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
regions, rank = int(sys.argv[5]), int(sys.argv[6])
with open(sys.argv[7]) as f:
    arch = json.load(f)
nodes, classes, alpha = arch["nodes"], arch["classes"], arch["alpha"]
torch.set_num_threads(threads)
torch.manual_seed(1)
conv_shapes, n_convs = [], [0]  # every expert conv's output HxWxC, in execution order (the arch signature)


class ExpertConv(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.w0 = nn.Conv2d(cin, cout, k, stride, k // 2)
        self.a = nn.Conv2d(cin, regions * rank, k, stride, k // 2, bias=False)
        self.b = nn.Conv2d(regions * rank, cout, 1, bias=False)
        nn.init.zeros_(self.b.weight)

    def forward(self, x, mask):
        y = self.w0(x) + self.b(self.a(x) * mask)
        if len(conv_shapes) < n_convs[0]:
            conv_shapes.append(f"{y.shape[2]}x{y.shape[3]}x{y.shape[1]}")
        return y


class Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs, self.gns = nn.ModuleDict(), nn.ModuleDict()
        for i, n in enumerate(nodes):
            if n["op"] == "conv":
                self.convs[str(i)] = ExpertConv(n["inChannels"], n["filters"], n["kernel"], n["stride"])
            elif n["op"] == "gn":
                self.gns[str(i)] = nn.GroupNorm(n["groups"], n["shape"][2], eps=1e-5)
            elif n["op"] not in ("input", "relu", "add", "gap"):
                raise SystemExit(f"native-student-torch.py: node op {n['op']} is not supported (resnet family only)")
        self.heads = nn.ModuleList(nn.Linear(arch["featureChannels"], classes) for _ in range(regions))

    def forward(self, x, mask, groups_of):
        vals = [x]
        for i, n in enumerate(nodes):
            op = n["op"]
            if op == "input":
                continue
            if op == "conv":
                v = self.convs[str(i)](vals[n["input"]], mask)
            elif op == "gn":
                v = self.gns[str(i)](vals[n["input"]])
            elif op == "relu":
                v = F.relu(vals[n["input"]])
            elif op == "add":
                v = vals[n["inputs"][0]] + vals[n["inputs"][1]]
            else:  # gap
                h = vals[n["input"]]
                v = h.mean(dim=(2, 3))
                if n["shape"][0] == 2 * h.shape[1]:
                    v = torch.cat([v, h.amax(dim=(2, 3))], 1)
            vals.append(v)
        f = vals[-1]
        return [self.heads[t](f[s:e]) for t, s, e in groups_of]


net = Student()
n_convs[0] = sum(1 for m in net.modules() if isinstance(m, ExpertConv))
decay = [p for n, p in net.named_parameters() if n.endswith("weight") and not n.startswith("gns.")]
no_decay = [p for n, p in net.named_parameters() if not (n.endswith("weight") and not n.startswith("gns."))]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
x = torch.rand(batch, 1, size, size)
per = batch // regions
region_of = torch.tensor([min(i // per, regions - 1) for i in range(batch)])
groups_of = [(t, int((region_of < t).sum()), int((region_of <= t).sum())) for t in range(regions)]
y = torch.arange(batch) * 7 % classes
mask = torch.zeros(batch, regions * rank, 1, 1)
for i in range(batch):
    t = int(region_of[i])
    mask[i, t * rank:(t + 1) * rank] = alpha / rank
losses = []


def step():
    opt.zero_grad(set_to_none=True)
    logits = net(x, mask, groups_of)
    loss = sum(F.cross_entropy(z, y[s:e], reduction="sum") for z, (_, s, e) in zip(logits, groups_of)) / batch
    loss.backward()
    opt.step()
    losses.append(float(loss))


for _ in range(3):
    step()
steps, t0, c0 = 0, time.perf_counter(), time.process_time()
while steps < 3 or time.perf_counter() - t0 < seconds:
    step()
    steps += 1
secs = time.perf_counter() - t0
print("RESULT " + json.dumps({
    "mode": "torch", "size": size, "batch": batch, "steps": steps, "seconds": secs,
    "cpuSeconds": time.process_time() - c0, "samplesPerSec": steps * batch / secs, "losses": losses[:5],
    "signature": f"{sum(p.numel() for p in net.parameters())} {','.join(conv_shapes)}",
    "info": f"torch {torch.__version__}, {torch.get_num_threads()} threads",
}))
