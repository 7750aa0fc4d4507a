"""PyTorch side of scripts/bench/native-ops.ts: one conv layer's forward, input and weight gradient times.

usage: native-ops-torch.py N H CI CO K S REPS  -> `RESULT [{"wall": s, "cpu": s}] * 3` (fwd, dx, dW)
"""
import json
import sys
import time

import torch

n, h, ci, co, k, s, reps = (int(a) for a in sys.argv[1:8])
torch.set_num_threads(2)
pad = (k - 1) // 2  # 'same' for odd k at stride 1; the layer shapes match tfjs for these layers
x = torch.rand(n, ci, h, h)
w = torch.rand(co, ci, k, k)
y = torch.nn.functional.conv2d(x, w, None, s, pad)
dy = torch.rand_like(y)


def timed(f):
    f()
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(reps):
        f()
    return {"wall": (time.perf_counter() - t0) / reps, "cpu": (time.process_time() - c0) / reps}


def bwd(mask):
    return torch.ops.aten.convolution_backward(dy, x, w, None, [s, s], [pad, pad], [1, 1], False, [0, 0], 1, mask)


out = [
    timed(lambda: torch.nn.functional.conv2d(x, w, None, s, pad)),
    timed(lambda: bwd([True, False, False])),
    timed(lambda: bwd([False, True, False])),
]
print("RESULT " + json.dumps(out))
