"""PyTorch side of scripts/bench/native-student.ts: the LoRKD student (resnet family) written here in PyTorch.

Same architecture as @lorkd/model's buildStudent for {family: resnet, width, depth, groupNormGroups 4, one input
channel}: stem expert conv 3x3 + GroupNorm + ReLU; `depth` residual blocks (two 3x3 expert convs with GroupNorm, a
1x1 expert projection when the shape changes; block i has width*2^(i//2) channels, even blocks after the first
stride 2); global average pool; one dense head per region. Every conv is an expert conv computed the way lorkd's
EKS `masked` strategy does: the shared conv W0 (+ bias) over the whole batch, plus one low-rank path over all regions
at once (a kxk conv to sum(r) channels, each sample's channels scaled by alpha/r for its own region and 0 elsewhere,
then a 1x1 conv back to Cout). B factors start at zero like lorkd's. AdamW (lr 1e-3, decay 1e-4 on kernels, expert
factors and head kernels), loss = sum over regions of the CE of that region's samples / batch, batch sorted by
region (batch / regions samples each).

usage: LD_PRELOAD=libtcmalloc_minimal.so.4 /usr/bin/python3 native-student-torch.py SIZE BATCH SECONDS THREADS \
           REGIONS RANK WIDTH DEPTH
Prints one line `RESULT {json}`.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

size, batch, seconds, threads = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
regions, rank, width, depth = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
alpha, classes, groups = 16.0, 4, 4
torch.set_num_threads(threads)
torch.manual_seed(1)


def groups_for(c):
    # lorkd's groupsFor: the largest divisor of c that is <= groups
    for g in range(min(groups, c), 1, -1):
        if c % g == 0:
            return g
    return 1


class ExpertConv(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.w0 = nn.Conv2d(cin, cout, k, stride, k // 2)
        self.a = nn.Conv2d(cin, regions * rank, k, stride, k // 2, bias=False)
        self.b = nn.Conv2d(regions * rank, cout, 1, bias=False)
        nn.init.zeros_(self.b.weight)

    def forward(self, x, mask):
        return self.w0(x) + self.b(self.a(x) * mask)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.conv2 = ExpertConv(cin, cout, 3, stride), ExpertConv(cout, cout, 3, 1)
        self.gn1, self.gn2 = nn.GroupNorm(groups_for(cout), cout, eps=1e-5), nn.GroupNorm(groups_for(cout), cout, eps=1e-5)
        self.proj = ExpertConv(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x, mask):
        y = F.relu(self.gn1(self.conv1(x, mask)))
        y = self.gn2(self.conv2(y, mask))
        return F.relu(y + (self.proj(x, mask) if self.proj is not None else x))


class Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ExpertConv(1, width, 3, 1)
        self.gn = nn.GroupNorm(groups_for(width), width, eps=1e-5)
        blocks, c, h = [], width, size
        for i in range(depth):
            ch = width * 2 ** (i // 2)
            stride = 2 if i > 0 and i % 2 == 0 and h >= 4 else 1
            blocks.append(Block(c, ch, stride))
            c, h = ch, -(-h // stride)
        self.blocks = nn.ModuleList(blocks)
        self.heads = nn.ModuleList(nn.Linear(c, classes) for _ in range(regions))

    def forward(self, x, mask, groups_of):
        h = F.relu(self.gn(self.stem(x, mask)))
        for b in self.blocks:
            h = b(h, mask)
        f = h.mean(dim=(2, 3))
        return [self.heads[t](f[s:e]) for t, s, e in groups_of]


net = Student()
decay = [p for n, p in net.named_parameters() if n.endswith("weight") and ".gn" not in n and not n.startswith("gn")]
no_decay = [p for n, p in net.named_parameters() if not (n.endswith("weight") and ".gn" not in n and not n.startswith("gn"))]
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
    "params": sum(p.numel() for p in net.parameters()),
    "info": f"torch {torch.__version__}, {torch.get_num_threads()} threads",
}))
