"""Self-check of bit_torch.py against the facts in docs/bit.md, and of the
committed fixtures against the current code.

    /usr/bin/python3 tools/golden/check_bit_torch.py

Prints one line per check and a closing "N passed, N failed"; exits 1 if any check failed.
"""

import os
import sys
import tempfile
import traceback

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bit_torch  # noqa: E402
from bit_torch import BitConfig, BitModel  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(REPO_ROOT, "tests", "golden")
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def expect_raises(fn, *fragments):
    try:
        fn()
    except ValueError as e:
        for fragment in fragments:
            assert fragment in str(e), f"message {str(e)!r} lacks {fragment!r}"
        return
    raise AssertionError(f"no ValueError (expected one naming {fragments})")


# Section 1.1: millions of parameters: body, with a 21843-way head, with a 1000-way head.
PARAM_TABLE = {(50, 1): (23.50, 68.26, 25.55), (50, 3): (211.17, 345.40, 217.32),
               (101, 1): (42.49, 87.25, 44.54), (101, 3): (381.79, 516.02, 387.93),
               (152, 2): (232.24, 321.73, 236.34), (152, 4): (928.34, 1107.30, 936.53)}


@check
def parameter_counts_match_section_1_1():
    for (depth, wf), (body, m21k, m1k) in PARAM_TABLE.items():
        got_body = bit_torch.count_params(BitConfig(depth, wf, 21843), include_head=False) / 1e6
        got_21k = bit_torch.count_params(BitConfig(depth, wf, 21843)) / 1e6
        got_1k = bit_torch.count_params(BitConfig(depth, wf, 1000)) / 1e6
        for name, got, want in [("body", got_body, body), ("21843", got_21k, m21k),
                                ("1000", got_1k, m1k)]:
            assert round(got, 2) == want, f"R{depth}x{wf} {name}: {got:.4f}M != {want}M"


@check
def array_counts_match_section_2_4():
    for depth, want in [(50, 153), (101, 306), (152, 459)]:
        for wf in (1, 2, 3, 4):
            got = len(bit_torch.param_shapes(BitConfig(depth, wf, 10)))
            assert got == want, f"R{depth}x{wf}: {got} arrays, expected {want}"


@check
def key_shapes_match_section_2_2():
    shapes = bit_torch.param_shapes(BitConfig(50, 3, 21843))
    want = {
        "resnet/root_block/standardized_conv2d/kernel": (7, 7, 3, 192),
        "resnet/block1/unit01/a/proj/standardized_conv2d/kernel": (1, 1, 192, 768),
        "resnet/block1/unit02/a/group_norm/gamma": (768,),
        "resnet/block2/unit01/a/standardized_conv2d/kernel": (1, 1, 768, 384),
        "resnet/block2/unit01/b/standardized_conv2d/kernel": (3, 3, 384, 384),
        "resnet/block4/unit03/c/standardized_conv2d/kernel": (1, 1, 1536, 6144),
        "resnet/group_norm/beta": (6144,),
        "resnet/head/conv2d/kernel": (1, 1, 6144, 21843),
        "resnet/head/conv2d/bias": (21843,),
    }
    for key, shape in want.items():
        assert shapes.get(key) == shape, f"{key}: {shapes.get(key)} != {shape}"
    projections = [k for k in shapes if "/proj/" in k]
    assert projections == [f"resnet/block{b}/unit01/a/proj/standardized_conv2d/kernel"
                           for b in range(1, 5)], projections


# Section 1.7: input size -> root conv, block1 (after pad + pool), block2, block3, block4.
SPATIAL_TABLE = {128: (64, 32, 16, 8, 4), 160: (80, 40, 20, 10, 5), 224: (112, 56, 28, 14, 7),
                 384: (192, 96, 48, 24, 12), 448: (224, 112, 56, 28, 14),
                 480: (240, 120, 60, 30, 15)}


@check
def spatial_sizes_match_section_1_7():
    model = BitModel.random(BitConfig(50, 1, 3, base_width=2, num_groups=2), seed=0)
    with torch.no_grad():
        for size, want in SPATIAL_TABLE.items():
            acts = {}
            logits = model(torch.zeros(1, 3, size, size), acts)
            got = tuple(acts[name].shape[-1] for name in
                        ("root", "block1", "block2", "block3", "block4"))
            assert got == want, f"input {size}: {got} != {want}"
            assert acts["pool"].shape[-1] == want[1]
            assert logits.shape == (1, 3)


@check
def channel_widths_follow_base_width_and_width_factor():
    cfg = BitConfig(101, 2, 7, base_width=4, num_groups=4)
    model = BitModel.random(cfg, seed=1)
    acts = {}
    with torch.no_grad():
        model(torch.zeros(1, 3, 64, 64), acts)
    got = [acts[n].shape[1] for n in ("root", "block1", "block2", "block3", "block4",
                                      "prelogits")]
    assert got == [8, 32, 64, 128, 256, 256], got


@check
def npz_round_trip_is_exact():
    cfg = BitConfig(50, 1, 6, base_width=4, num_groups=2)
    model = BitModel.random(cfg, seed=3)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with tempfile.TemporaryDirectory() as tmp:
        for compressed in (False, True):
            path = os.path.join(tmp, f"m{int(compressed)}.npz")
            model.save_npz(path, compressed)
            with np.load(path) as npz:
                assert npz.files == list(bit_torch.param_shapes(cfg)), "key order"
                assert all(npz[k].dtype == np.float32 for k in npz.files)
                root = npz["resnet/root_block/standardized_conv2d/kernel"]
            # HWIO on disk: W_npz[h][w][i][o] == W_torch[o][i][h][w].
            w = model.params["resnet/root_block/standardized_conv2d/kernel"].numpy()
            assert root.shape == (7, 7, 3, 4) and root[5, 2, 1, 3] == w[3, 1, 5, 2]
            loaded = BitModel.load_npz(path, base_width=4, num_groups=2)
            assert loaded.cfg == cfg, loaded.cfg
            for key, value in model.params.items():
                assert torch.equal(value, loaded.params[key]), key
            with torch.no_grad():
                assert torch.equal(model(x), loaded(x))


@check
def load_npz_rejects_bad_files_naming_the_key():
    cfg = BitConfig(50, 1, 6, base_width=4, num_groups=2)
    arrays = BitModel.random(cfg, seed=4).numpy_arrays()
    gamma = "resnet/block2/unit03/b/group_norm/gamma"
    with tempfile.TemporaryDirectory() as tmp:
        def write(name, mutate):
            mutated = dict(arrays)
            mutate(mutated)
            path = os.path.join(tmp, name)
            np.savez(path, **mutated)
            return path
        missing = write("missing.npz", lambda a: a.pop(gamma))
        expect_raises(lambda: BitModel.load_npz(missing, 4, 2), gamma, "missing")
        wrong = write("wrong.npz", lambda a: a.__setitem__(gamma, np.zeros(3, np.float32)))
        expect_raises(lambda: BitModel.load_npz(wrong, 4, 2), gamma, "shape")
        extra = write("extra.npz", lambda a: a.__setitem__("resnet/extra", np.zeros(1)))
        expect_raises(lambda: BitModel.load_npz(extra, 4, 2), "resnet/extra")
        no_unit = write("no_unit.npz", lambda a: [a.pop(k) for k in list(a)
                                                  if "block3/unit06/" in k])
        expect_raises(lambda: BitModel.load_npz(no_unit, 4, 2), "[3, 4, 5, 3]")
        expect_raises(lambda: BitModel.load_npz(missing, 3, 2), "base_width=3")
    expect_raises(lambda: BitConfig(50, 1, 6, base_width=4, num_groups=32), "num_groups=32")


@check
def weight_standardization_section_1_2():
    w = torch.randn(5, 3, 3, 3, dtype=torch.float64) * 3 + 2
    w_hat = bit_torch.standardize_weight(w).reshape(5, -1)
    assert torch.allclose(w_hat.mean(1), torch.zeros(5, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(w_hat.var(1, unbiased=False), torch.ones(5, dtype=torch.float64))
    # eps inside the sqrt: a filter with variance v gives (w - mean) / sqrt(v + 1e-10).
    tiny = torch.tensor([[1.0, -1.0]], dtype=torch.float64).reshape(1, 2, 1, 1) * 1e-5
    got = bit_torch.standardize_weight(tiny).flatten()
    want = 1e-5 / np.sqrt(1e-10 + 1e-10)
    assert torch.allclose(got, torch.tensor([want, -want], dtype=torch.float64)), got
    constant = torch.full((1, 2, 3, 3), 0.5, dtype=torch.float64)
    assert torch.equal(bit_torch.standardize_weight(constant), torch.zeros_like(constant))


@check
def root_pool_pads_with_zero_not_minus_infinity():
    x = -1 - torch.rand(1, 1, 6, 6)  # all negative, as a root conv output can be
    zero_pad = bit_torch.zero_pad_max_pool(x)
    neg_inf_pad = F.max_pool2d(x, 3, 2, 1)
    assert zero_pad.shape == neg_inf_pad.shape == (1, 1, 3, 3)
    assert torch.equal(zero_pad[0, 0, 0, :], torch.zeros(3)), "border windows see the zero pad"
    assert torch.equal(zero_pad[0, 0, :, 0], torch.zeros(3))
    assert (neg_inf_pad < 0).all()
    assert torch.equal(zero_pad[0, 0, 1:, 1:], neg_inf_pad[0, 0, 1:, 1:]), "interior agrees"


@check
def mixup_soft_target_equals_two_term_loss():
    logits = torch.randn(4, 6, dtype=torch.float64)
    labels = torch.tensor([0, 5, 2, 2])
    perm = torch.tensor([2, 0, 3, 1])
    lam = 0.35
    soft = bit_torch.soft_target_cross_entropy(
        logits, bit_torch.mixup_targets(labels, perm, lam, 6, torch.float64))
    two_term = lam * F.cross_entropy(logits, labels) + (1 - lam) * F.cross_entropy(
        logits, labels[perm])
    assert torch.allclose(soft, two_term), (soft, two_term)


@check
def unit_wiring_matches_section_1_5():
    """Rebuilds one projection unit by hand, in a different formulation, and compares."""
    cfg = BitConfig(50, 1, 3, base_width=4, num_groups=2)
    model = BitModel.random(cfg, seed=5, dtype=torch.float64)
    x = torch.randn(1, 16, 8, 8, dtype=torch.float64)  # block2/unit01 input: 16 ch
    w = {k.split("unit01/")[1]: v for k, v in model.params.items()
         if k.startswith("resnet/block2/unit01/")}

    def gn_relu(t, name):
        n, c, h, wd = t.shape
        g = t.reshape(n, 2, -1)
        normed = ((g - g.mean(2, keepdim=True)) /
                  torch.sqrt(g.var(2, unbiased=False, keepdim=True) + 1e-5)).reshape(t.shape)
        gamma, beta = w[name + "/group_norm/gamma"], w[name + "/group_norm/beta"]
        return torch.clamp(normed * gamma[:, None, None] + beta[:, None, None], min=0)

    def ws(name):
        k = w[name + "/standardized_conv2d/kernel"]
        mu = k.mean(dim=(1, 2, 3), keepdim=True)
        sd = torch.sqrt(((k - mu) ** 2).mean(dim=(1, 2, 3), keepdim=True) + 1e-10)
        return (k - mu) / sd

    pre = gn_relu(x, "a")
    shortcut = F.conv2d(pre, ws("a/proj"), stride=2)
    h = F.conv2d(pre, ws("a"))
    h = F.conv2d(gn_relu(h, "b"), ws("b"), stride=2, padding=1)
    h = F.conv2d(gn_relu(h, "c"), ws("c"))
    want = h + shortcut
    got = model._unit(x, 2, 1, 2)
    assert got.shape == (1, 32, 4, 4) and torch.allclose(got, want), (got - want).abs().max()


@check
def committed_fixtures_match_the_code():
    if not os.path.exists(os.path.join(GOLDEN, "bit_tiny_r50.npz")):
        raise AssertionError("tests/golden is missing: run gen_fixtures.py")
    for name, bw, groups, has_grads in [("bit_tiny_r50", 4, 2, True),
                                        ("bit_tiny_r101", 2, 2, False)]:
        model = BitModel.load_npz(os.path.join(GOLDEN, name + ".npz"), bw, groups,
                                  torch.float64).requires_grad_()
        with np.load(os.path.join(GOLDEN, name + "_io.npz")) as io:
            x = torch.from_numpy(io["x"]).double().requires_grad_()
            logits = model(x)
            loss = F.cross_entropy(logits, torch.from_numpy(io["labels"]).long())
            assert np.allclose(logits.detach().numpy(), io["logits"], rtol=1e-5, atol=1e-6)
            assert np.allclose(loss.item(), io["loss"], rtol=1e-6)
            grads = torch.autograd.grad(loss, [x] + model.parameters())
            assert np.allclose(grads[0].numpy(), io["grad/x"], rtol=1e-5, atol=1e-7)
            if has_grads:
                by_key = model.numpy_arrays(dict(zip(model.params, grads[1:])))
                for key, value in by_key.items():
                    assert np.allclose(value, io["grad/" + key], rtol=1e-5, atol=1e-7), key


def main():
    passed = failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"PASS {fn.__name__}")
            passed += 1
        except Exception:  # noqa: BLE001 - report every failing check, then the summary
            print(f"FAIL {fn.__name__}\n{traceback.format_exc()}")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
