#!/usr/bin/python3
"""Prints torch.optim.SGD trajectories that tests/optim/sgd_test.cc checks bitgrad's Sgd against.

Run: /usr/bin/python3 tools/golden/gen_sgd_expected.py   (paste the output into the test)
"""
import torch

torch.set_default_dtype(torch.float64)
INITIAL = [0.5, -1.25, 2.0]
GRADS = [[0.1, -0.2, 0.3], [-0.4, 0.5, 0.25], [0.05, 0.0, -0.6]]  # gradients at steps 0, 1, 2
LRS = [0.0, 0.1, 0.05]  # BiT's warmup starts at lr 0
CONFIGS = {
    "plain_momentum": dict(momentum=0.9),
    "weight_decay": dict(momentum=0.9, weight_decay=0.01),
    "nesterov": dict(momentum=0.9, nesterov=True),
    "dampening": dict(momentum=0.5, dampening=0.3),
    "no_momentum": dict(momentum=0.0, weight_decay=0.1),
}

for name, kwargs in CONFIGS.items():
    p = torch.nn.Parameter(torch.tensor(INITIAL))
    opt = torch.optim.SGD([p], lr=1.0, **kwargs)
    rows = []
    for lr, grad in zip(LRS, GRADS):
        for group in opt.param_groups:
            group["lr"] = lr
        p.grad = torch.tensor(grad)
        opt.step()
        rows.append("{" + ", ".join(f"{v:.17g}" for v in p.detach().tolist()) + "}")
    print(f'  {{"{name}", {{{", ".join(rows)}}}}},')
