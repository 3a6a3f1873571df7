"""Writes the golden fixtures that bitgrad's C++ tests compare against (see README.md here).

    /usr/bin/python3 tools/golden/gen_fixtures.py                 # committed fixtures -> tests/golden/
    /usr/bin/python3 tools/golden/gen_fixtures.py --out DIR       # the same, elsewhere
    /usr/bin/python3 tools/golden/gen_fixtures.py --r50x1 OUTDIR  # full-size R50x1, not committed

Everything is seeded and deterministic. References are computed in float64 from float32 inputs
and weights, then stored as float32: the stored values are the exact answers rounded once.
Integer data (labels, permutations, attributes) are stored as float32 holding exact integers.
"""

import argparse
import collections
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bit_torch  # noqa: E402
from bit_torch import BitConfig, BitModel  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
F64 = torch.float64

# The committed tiny models (see README.md for why they use the test-only knobs).
TINY_R50 = BitConfig(depth=50, width_factor=1, head_size=5, base_width=4, num_groups=2)
TINY_R101 = BitConfig(depth=101, width_factor=1, head_size=5, base_width=2, num_groups=2)
R50X1 = BitConfig(depth=50, width_factor=1, head_size=10)
ACTIVATIONS = ("root", "pool", "block1", "block2", "block3", "block4", "prelogits")


def as_f32(value):
    if isinstance(value, torch.Tensor):
        value = value.detach().to(torch.float32).numpy()
    return np.ascontiguousarray(np.asarray(value, dtype=np.float32))


def save(path, arrays, compressed=True):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arrays = collections.OrderedDict((k, as_f32(v)) for k, v in arrays.items())
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path) // 1024} KiB, "
          f"{len(arrays)} arrays)")


def f32_randn(gen, *shape, scale=1.0, offset=0.0):
    """Normal noise rounded to float32 and returned as float64 (exactly the stored values)."""
    return (offset + scale * torch.randn(*shape, generator=gen, dtype=F64)).float().double()


def f32_rand_pm1(gen, *shape):
    return (2 * torch.rand(*shape, generator=gen, dtype=F64) - 1).float().double()


def grads_of(output, inputs, upstream):
    return torch.autograd.grad(output, inputs, upstream, retain_graph=True)


# ---------------------------------------------------------------------------------------------
# (a) tiny models: weights, inputs, logits, loss, activations and every gradient

def model_fixture(cfg, seed, batch, size, with_param_grads):
    """Returns (model in float32, io arrays)."""
    gen = torch.Generator().manual_seed(seed + 1)
    model32 = BitModel.random(cfg, seed)
    model = model32.to(F64).requires_grad_()
    x = f32_rand_pm1(gen, batch, 3, size, size).requires_grad_()
    labels = torch.randint(0, cfg.head_size, (batch,), generator=gen)
    acts = {}
    logits = model(x, acts)
    loss = F.cross_entropy(logits, labels)
    wrt = [x] + (model.parameters() if with_param_grads else [])
    grads = torch.autograd.grad(loss, wrt)
    io = collections.OrderedDict(x=x, labels=labels, logits=logits, loss=loss)
    for name in ACTIVATIONS:
        io["act/" + name] = acts[name]
    io["grad/x"] = grads[0]
    if with_param_grads:
        grad_by_key = dict(zip(model.params, grads[1:]))
        for key, value in model.numpy_arrays(grad_by_key).items():
            io["grad/" + key] = value  # npz layout (HWIO), like the weights file
    return model32, io


def save_model(model, path, compressed=False):
    model.save_npz(path, compressed)
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path) // 1024} KiB, "
          f"{len(model.params)} arrays, {bit_torch.count_params(model.cfg)} parameters)")


def write_models(out):
    model, io = model_fixture(TINY_R50, seed=50, batch=2, size=32, with_param_grads=True)
    save_model(model, os.path.join(out, "bit_tiny_r50.npz"))
    save(os.path.join(out, "bit_tiny_r50_io.npz"), io)
    # The same model at 64x64: its last two stages see 4x4 and 2x2 maps, where at 32x32 they see
    # 2x2 and 1x1 (on which a 3x3 conv uses its centre tap alone).
    _, io = model_fixture(TINY_R50, seed=50, batch=2, size=64, with_param_grads=True)
    save(os.path.join(out, "bit_tiny_r50_io64.npz"), io)
    model, io = model_fixture(TINY_R101, seed=101, batch=2, size=32, with_param_grads=False)
    # Deflated, unlike the official files, so that the C++ loader's inflate path is tested too.
    save_model(model, os.path.join(out, "bit_tiny_r101.npz"), compressed=True)
    save(os.path.join(out, "bit_tiny_r101_io.npz"), io)


# ---------------------------------------------------------------------------------------------
# (b) per-op fixtures, forward and backward

CONV_CASES = [
    # name, x shape, (O, C/groups, KH, KW), bias, stride, padding, dilation, groups
    ("basic", (2, 3, 7, 6), (4, 3, 3, 3), True, (1, 1), (1, 1), (1, 1), 1),
    ("strided", (2, 3, 9, 11), (5, 3, 3, 2), True, (2, 3), (1, 0), (1, 1), 1),
    ("grouped", (2, 4, 6, 5), (6, 2, 3, 3), True, (1, 1), (1, 1), (1, 1), 2),
    ("depthwise", (1, 3, 5, 5), (3, 1, 3, 3), False, (1, 1), (1, 1), (1, 1), 3),
    ("dilated", (1, 3, 8, 7), (4, 3, 3, 3), False, (1, 1), (2, 1), (2, 1), 1),
    ("proj_1x1_s2", (2, 8, 7, 6), (16, 8, 1, 1), False, (2, 2), (0, 0), (1, 1), 1),
    ("root_7x7_s2_p3", (1, 3, 11, 10), (4, 3, 7, 7), False, (2, 2), (3, 3), (1, 1), 1),
    ("strided_3x3_p1_odd", (1, 4, 7, 7), (4, 4, 3, 3), False, (2, 2), (1, 1), (1, 1), 1),
]


def conv_fixture(gen):
    arrays = collections.OrderedDict()
    for name, xs, ws, has_bias, stride, padding, dilation, groups in CONV_CASES:
        x = f32_randn(gen, *xs).requires_grad_()
        w = f32_randn(gen, *ws, scale=0.5).requires_grad_()
        b = f32_randn(gen, ws[0], scale=0.5).requires_grad_() if has_bias else None
        y = F.conv2d(x, w, b, stride, padding, dilation, groups)
        dy = f32_randn(gen, *y.shape)
        inputs = [x, w] + ([b] if has_bias else [])
        grads = grads_of(y, inputs, dy)
        p = name + "/"
        arrays.update({p + "x": x, p + "w": w})
        if has_bias:
            arrays[p + "b"] = b
        arrays.update({p + "stride": stride, p + "padding": padding, p + "dilation": dilation,
                       p + "groups": [groups], p + "y": y, p + "dy": dy,
                       p + "dx": grads[0], p + "dw": grads[1]})
        if has_bias:
            arrays[p + "db"] = grads[2]
    return arrays


def ws_conv_fixture(gen):
    arrays = collections.OrderedDict()
    # "tiny_var": filter variances (~1e-12) far below eps = 1e-10, so putting eps outside the
    # sqrt, or using the unbiased variance, gives visibly different answers.
    cases = [("basic", (2, 3, 6, 5), (5, 3, 3, 3), 1.0, (1, 1), (1, 1)),
             ("strided_1x1", (2, 4, 5, 5), (6, 4, 1, 1), 1.0, (2, 2), (0, 0)),
             ("tiny_var", (1, 2, 4, 4), (3, 2, 3, 3), 1e-6, (1, 1), (1, 1))]
    for name, xs, ws, scale, stride, padding in cases:
        x = f32_randn(gen, *xs).requires_grad_()
        # A different mean per filter: the standardization must remove it.
        w = (f32_randn(gen, *ws, scale=scale)
             + f32_randn(gen, ws[0], 1, 1, 1, scale=0.25)).float().double().requires_grad_()
        w_hat = bit_torch.standardize_weight(w)
        y = F.conv2d(x, w_hat, None, stride, padding)
        dy = f32_randn(gen, *y.shape)
        dx, dw = grads_of(y, [x, w], dy)
        dw_hat = f32_randn(gen, *ws)
        (dw_from_hat,) = grads_of(bit_torch.standardize_weight(w), [w], dw_hat)
        p = name + "/"
        arrays.update({p + "x": x, p + "w": w, p + "stride": stride, p + "padding": padding,
                       p + "eps": [bit_torch.WS_EPS], p + "w_hat": w_hat, p + "y": y,
                       p + "dy": dy, p + "dx": dx, p + "dw": dw,
                       p + "dw_hat": dw_hat, p + "dw_from_hat": dw_from_hat})
    return arrays


def group_norm_fixture(gen):
    arrays = collections.OrderedDict()
    # "offset": a large common offset; a one-pass E[x^2] - E[x]^2 variance loses it in float32.
    cases = [("basic", (2, 6, 5, 4), 3, 0.0), ("two_per_group", (2, 8, 3, 3), 4, 0.0),
             ("one_group", (1, 4, 3, 2), 1, 0.0), ("offset", (2, 4, 4, 4), 2, 50.0)]
    for name, xs, groups, offset in cases:
        x = f32_randn(gen, *xs, offset=offset).requires_grad_()
        gamma = f32_randn(gen, xs[1], scale=0.3, offset=1.0).requires_grad_()
        beta = f32_randn(gen, xs[1], scale=0.3).requires_grad_()
        y = F.group_norm(x, groups, gamma, beta, bit_torch.GN_EPS)
        y_relu = F.relu(y)
        dy = f32_randn(gen, *xs)
        dx, dgamma, dbeta = grads_of(y, [x, gamma, beta], dy)
        dx_r, dgamma_r, dbeta_r = grads_of(y_relu, [x, gamma, beta], dy)
        xg = x.detach().reshape(xs[0], groups, -1)
        p = name + "/"
        arrays.update({p + "x": x, p + "gamma": gamma, p + "beta": beta,
                       p + "groups": [groups], p + "eps": [bit_torch.GN_EPS],
                       p + "mean": xg.mean(dim=2),
                       p + "rstd": 1.0 / torch.sqrt(xg.var(dim=2, unbiased=False)
                                                    + bit_torch.GN_EPS),
                       p + "y": y, p + "y_relu": y_relu, p + "dy": dy,
                       p + "dx": dx, p + "dgamma": dgamma, p + "dbeta": dbeta,
                       p + "dx_relu": dx_r, p + "dgamma_relu": dgamma_r,
                       p + "dbeta_relu": dbeta_r})
    return arrays


def max_pool_fixture(gen):
    arrays = collections.OrderedDict()
    # Mostly negative inputs so that the zero padding (not -inf) decides many border outputs.
    for name, xs in [("even", (2, 3, 8, 8)), ("odd", (1, 2, 9, 7))]:
        x = f32_randn(gen, *xs, offset=-0.7).requires_grad_()
        padded = F.pad(x, (1, 1, 1, 1), value=0.0)
        y = bit_torch.zero_pad_max_pool(x)
        dy = f32_randn(gen, *y.shape)
        (dx,) = grads_of(y, [x], dy)
        p = name + "/"
        arrays.update({p + "x": x, p + "padded": padded, p + "y": y,
                       p + "y_neg_inf_pad": F.max_pool2d(x.detach(), 3, 2, 1),
                       p + "dy": dy, p + "dx": dx})
    return arrays


def cross_entropy_fixture(gen):
    n, k, lam = 6, 5, 0.3
    logits = f32_randn(gen, n, k, scale=2.0).requires_grad_()
    labels = torch.randint(0, k, (n,), generator=gen)
    perm = torch.randperm(n, generator=gen)
    target = bit_torch.mixup_targets(labels, perm, lam, k, F64)
    loss = bit_torch.soft_target_cross_entropy(logits, target)
    (dlogits,) = grads_of(loss, [logits], torch.tensor(1.0, dtype=F64))
    loss_hard = F.cross_entropy(logits, labels)
    (dlogits_hard,) = grads_of(loss_hard, [logits], torch.tensor(1.0, dtype=F64))
    # The official two-term form, for comparison: it must equal `loss`.
    loss_two_term = (lam * F.cross_entropy(logits, labels)
                     + (1 - lam) * F.cross_entropy(logits, labels[perm]))
    # The input blend and its backward.
    x = f32_randn(gen, n, 3, 2, 2).requires_grad_()
    x_mixed = lam * x + (1 - lam) * x[perm]
    dx_mixed = f32_randn(gen, *x.shape)
    (dx,) = grads_of(x_mixed, [x], dx_mixed)
    return collections.OrderedDict(
        logits=logits, labels=labels, perm=perm, lam=lam, target=target, loss=loss,
        dlogits=dlogits, loss_two_term=loss_two_term, loss_hard=loss_hard,
        dlogits_hard=dlogits_hard, x=x, x_mixed=x_mixed, dx_mixed=dx_mixed, dx=dx)


def write_ops(out):
    gen = torch.Generator().manual_seed(7)
    for name, build in [("conv2d", conv_fixture), ("ws_conv2d", ws_conv_fixture),
                        ("group_norm", group_norm_fixture), ("max_pool", max_pool_fixture),
                        ("cross_entropy", cross_entropy_fixture)]:
        save(os.path.join(out, "ops", name + ".npz"), build(gen))


# ---------------------------------------------------------------------------------------------
# (c) five SGD-momentum steps of the tiny R50 with a fixed mixup lambda and permutation

SGD_LRS = (0.0, 0.1, 0.1, 0.05, 0.05)  # lr = 0 at step 0, as in BiT: the buffer still fills
SGD_MOMENTUM = 0.9


def sgd_fixture(model_path):
    gen = torch.Generator().manual_seed(5)
    model = BitModel.load_npz(model_path, TINY_R50.base_width, TINY_R50.num_groups, F64)
    model.requires_grad_()
    initial = collections.OrderedDict((key, value.detach().clone())
                                      for key, value in model.params.items())
    n, k, lam = 4, TINY_R50.head_size, 0.7
    x = f32_rand_pm1(gen, n, 3, 32, 32)
    labels = torch.randint(0, k, (n,), generator=gen)
    perm = torch.randperm(n, generator=gen)
    x_mixed = lam * x + (1 - lam) * x[perm]
    target = bit_torch.mixup_targets(labels, perm, lam, k, F64)
    # torch semantics: buf = momentum * buf + grad (buf = grad at the first step); p -= lr * buf.
    opt = torch.optim.SGD(model.parameters(), lr=SGD_LRS[0], momentum=SGD_MOMENTUM)
    losses = []
    for lr in SGD_LRS:
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        loss = bit_torch.soft_target_cross_entropy(model(x_mixed), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        final_loss = bit_torch.soft_target_cross_entropy(model(x_mixed), target)
    arrays = collections.OrderedDict(
        x=x, labels=labels, perm=perm, lam=lam, lr=SGD_LRS, momentum=SGD_MOMENTUM,
        loss=losses, final_loss=final_loss)
    # What the five updates did to each parameter, keyed by its name in bit_tiny_r50.npz: every
    # element, since sums would not see a standardized kernel move (its gradient sums to zero).
    for key, value in model.params.items():
        arrays["change/" + key] = value.detach() - initial[key]
    return arrays


def write_sgd(out):
    save(os.path.join(out, "bit_tiny_r50_sgd.npz"),
         sgd_fixture(os.path.join(out, "bit_tiny_r50.npz")))


# ---------------------------------------------------------------------------------------------

def write_r50x1(out):
    """A random full-size R50x1 (10-way head, ~100 MB): for on-demand runs, never committed."""
    model, io = model_fixture(R50X1, seed=1, batch=2, size=128, with_param_grads=False)
    os.makedirs(out, exist_ok=True)
    save_model(model, os.path.join(out, "bit_r50x1.npz"))
    save(os.path.join(out, "bit_r50x1_io.npz"), io)
    # The input batch and the reference logits as plain .npy files, for bit_predict
    # (tools/golden/check_bit_predict.sh).
    for name in ("x", "logits"):
        np.save(os.path.join(out, f"bit_r50x1_{name}.npy"), as_f32(io[name]))
        print(f"wrote {os.path.relpath(os.path.join(out, f'bit_r50x1_{name}.npy'))}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "golden"),
                        help="where the committed fixtures go (default: tests/golden)")
    parser.add_argument("--r50x1", metavar="OUTDIR",
                        help="instead, write a random full-size R50x1 and its io to OUTDIR")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one reduction order, so reruns give identical bytes
    if args.r50x1:
        write_r50x1(args.r50x1)
        return
    write_models(args.out)
    write_ops(args.out)
    write_sgd(args.out)


if __name__ == "__main__":
    main()
