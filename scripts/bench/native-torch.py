"""PyTorch side of scripts/bench/native.ts: the same reference CNN (NCHW), Adam 1e-3, random data.

usage: LD_PRELOAD=libtcmalloc_minimal.so.4 /usr/bin/python3 native-torch.py SIZE BATCH SECONDS THREADS [none|group]
Prints one line `RESULT {json}`.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

size, batch, seconds, threads = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
group_norm = len(sys.argv) > 5 and sys.argv[5] == "group"


def norm(c):
    # Same as the tfjs reference CNN's GroupNorm: 4 groups, per-sample statistics, eps 1e-5, affine.
    return nn.GroupNorm(4, c, eps=1e-5) if group_norm else nn.Identity()
torch.set_num_threads(threads)
torch.manual_seed(1)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.n1, self.n2 = norm(cout), norm(cout)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, 0) if stride != 1 or cin != cout else None

    def forward(self, x):
        a = F.relu(self.n1(self.conv1(x)))
        m = self.n2(self.conv2(a))
        return F.relu(m + (self.shortcut(x) if self.shortcut is not None else x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 32, 3, 1, 1)
        self.n0 = norm(32)
        self.blocks = nn.Sequential(Block(32, 32, 1), Block(32, 32, 1), Block(32, 64, 2), Block(64, 64, 2))
        self.dense = nn.Linear(64, 10)

    def forward(self, x):
        h = self.blocks(F.relu(self.n0(self.stem(x))))
        return self.dense(h.mean(dim=(2, 3)))


def flops_per_sample():
    s, f, cin = size, 2 * size * size * 9 * 32, 32
    for cout, stride in [(32, 1), (32, 1), (64, 2), (64, 2)]:
        o = -(-s // stride)
        f += 2 * o * o * 9 * cin * cout + 2 * o * o * 9 * cout * cout
        if stride != 1 or cin != cout:
            f += 2 * o * o * cin * cout
        s, cin = o, cout
    return f + 2 * cin * 10


net = Net()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
x = torch.rand(batch, 1, size, size)
y = torch.arange(batch) * 7 % 10
losses = []


def step():
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(net(x), y)
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
cpu_secs = time.process_time() - c0
sps = steps * batch / secs
print("RESULT " + json.dumps({
    "mode": "torch", "size": size, "batch": batch, "steps": steps, "seconds": secs, "cpuSeconds": cpu_secs, "samplesPerSec": sps,
    "gflops": sps * 3 * flops_per_sample() / 1e9, "losses": losses[:5],
    "info": f"torch {torch.__version__}, {torch.get_num_threads()} threads, norm {'group' if group_norm else 'none'}",
}))
