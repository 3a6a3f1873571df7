"""BiT ResNet-v2 in PyTorch, written from docs/bit.md (sections 1, 2 and 7).

This is the golden reference that bitgrad's C++ model is checked against. It is deliberately a
set of small functions over one dict of parameters keyed by the official .npz names, so that
every tensor has exactly one name on both sides (Python fixtures and C++ loader).

Architecture (fact sheet section 1):
  root:  StdConv 7x7/s2/p3 (3 -> C0), no GN/ReLU, zero pad 1, max-pool 3x3/s2/p0
  4 stages of pre-activation bottleneck units; unit01 of each stage has a projection
  head:  GN + ReLU, global average pool, plain 1x1 conv with bias (no weight standardization)

Parameters live in PyTorch layout (kernels OIHW). load_npz / save_npz convert to and from the
official HWIO layout with the (3, 2, 0, 1) transpose.

Two test-only knobs shrink the model for committed fixtures without changing the wiring:
  base_width  (official 64): C0 = base_width * width_factor; every stage width follows from C0
              by the fact sheet's rules (mid = C0 * 2^s, out = 4 * mid).
  num_groups  (official 32): GroupNorm groups. GN(32) needs every width divisible by 32, which
              makes the narrowest legal R50 ~6M parameters, far too big to commit; tiny fixture
              models therefore use fewer groups. Every real BiT model uses 32.
The C++ model builder mirrors both knobs with the same names and defaults.
"""

import collections
import dataclasses
import os
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

UNITS_PER_STAGE = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
WS_EPS = 1e-10  # inside the sqrt, biased variance (section 1.2)
GN_EPS = 1e-5
OFFICIAL_BASE_WIDTH = 64
OFFICIAL_NUM_GROUPS = 32
PREFIX = "resnet/"


@dataclasses.dataclass(frozen=True)
class BitConfig:
    depth: int = 50  # 50, 101 or 152
    width_factor: int = 1
    head_size: int = 21843
    base_width: int = OFFICIAL_BASE_WIDTH  # test-only knob, see the module docstring
    num_groups: int = OFFICIAL_NUM_GROUPS  # test-only knob, see the module docstring

    def __post_init__(self):
        if self.depth not in UNITS_PER_STAGE:
            raise ValueError(f"BitConfig: depth must be 50, 101 or 152, got {self.depth}")
        if self.width_factor < 1 or self.base_width < 1 or self.head_size < 1:
            raise ValueError(f"BitConfig: widths and head_size must be positive: {self}")
        if self.root_channels % self.num_groups != 0:
            # Every other width is a multiple of the root width, so this check covers them all.
            raise ValueError(
                f"BitConfig: root width {self.root_channels} is not divisible by "
                f"num_groups={self.num_groups}")

    @property
    def root_channels(self):
        return self.base_width * self.width_factor

    @property
    def units(self):
        return UNITS_PER_STAGE[self.depth]

    @property
    def feature_channels(self):
        return 32 * self.root_channels  # 2048 * wf for the official base width

    def stages(self):
        """Yields (block index 1..4, units, cin of unit01, cmid, cout, stride of unit01)."""
        cin = self.root_channels
        for s, n_units in enumerate(self.units):
            cmid = self.root_channels * 2**s
            cout = 4 * cmid
            yield s + 1, n_units, cin, cmid, cout, (1 if s == 0 else 2)
            cin = cout


def unit_prefix(block, unit):
    return f"{PREFIX}block{block}/unit{unit:02d}/"


def param_shapes(cfg):
    """The official .npz keys in file order, each with its shape in the npz layout (HWIO)."""
    shapes = collections.OrderedDict()
    shapes[PREFIX + "root_block/standardized_conv2d/kernel"] = (7, 7, 3, cfg.root_channels)
    for block, n_units, cin0, cmid, cout, _ in cfg.stages():
        for u in range(1, n_units + 1):
            cin = cin0 if u == 1 else cout
            p = unit_prefix(block, u)
            shapes[p + "a/group_norm/gamma"] = (cin,)
            shapes[p + "a/group_norm/beta"] = (cin,)
            shapes[p + "a/standardized_conv2d/kernel"] = (1, 1, cin, cmid)
            if u == 1:
                shapes[p + "a/proj/standardized_conv2d/kernel"] = (1, 1, cin, cout)
            shapes[p + "b/group_norm/gamma"] = (cmid,)
            shapes[p + "b/group_norm/beta"] = (cmid,)
            shapes[p + "b/standardized_conv2d/kernel"] = (3, 3, cmid, cmid)
            shapes[p + "c/group_norm/gamma"] = (cmid,)
            shapes[p + "c/group_norm/beta"] = (cmid,)
            shapes[p + "c/standardized_conv2d/kernel"] = (1, 1, cmid, cout)
    shapes[PREFIX + "group_norm/gamma"] = (cfg.feature_channels,)
    shapes[PREFIX + "group_norm/beta"] = (cfg.feature_channels,)
    shapes[PREFIX + "head/conv2d/kernel"] = (1, 1, cfg.feature_channels, cfg.head_size)
    shapes[PREFIX + "head/conv2d/bias"] = (cfg.head_size,)
    return shapes


def is_head_key(key):
    return key.startswith(PREFIX + "head/")


def count_params(cfg, include_head=True):
    return sum(int(np.prod(shape)) for key, shape in param_shapes(cfg).items()
               if include_head or not is_head_key(key))


def torch_shape(npz_shape):
    """The in-memory (OIHW) shape of an npz-layout (HWIO) shape; 1-D shapes are unchanged."""
    if len(npz_shape) == 4:
        h, w, i, o = npz_shape
        return (o, i, h, w)
    return tuple(npz_shape)


def hwio_to_oihw(array):
    return array.transpose(3, 2, 0, 1) if array.ndim == 4 else array


def oihw_to_hwio(array):
    return array.transpose(2, 3, 1, 0) if array.ndim == 4 else array


# ---------------------------------------------------------------------------------------------
# The four building-block ops. Each is the spec for one bitgrad op.

def standardize_weight(w, eps=WS_EPS):
    """Per output filter o of w (O, I, KH, KW): (w - mean_o) / sqrt(biased var_o + eps)."""
    flat = w.reshape(w.shape[0], -1)
    mean = flat.mean(dim=1, keepdim=True)
    var = ((flat - mean) ** 2).mean(dim=1, keepdim=True)  # divide by N, not N - 1
    return ((flat - mean) / torch.sqrt(var + eps)).reshape(w.shape)


def std_conv2d(x, w, stride=1, padding=0):
    """Weight-standardized convolution, no bias: every BiT conv except the head."""
    return F.conv2d(x, standardize_weight(w), None, stride, padding)


def group_norm_relu(x, gamma, beta, num_groups):
    return F.relu(F.group_norm(x, num_groups, gamma, beta, GN_EPS))


def zero_pad_max_pool(x):
    """The root pool: pad one pixel of 0.0 (not -inf) on every side, then 3x3/s2 max-pool."""
    return F.max_pool2d(F.pad(x, (1, 1, 1, 1), value=0.0), kernel_size=3, stride=2, padding=0)


def soft_target_cross_entropy(logits, target_probs):
    """Mean over the batch of -sum_k t[n,k] * log_softmax(logits)[n,k]."""
    return -(target_probs * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def mixup_targets(labels, perm, lam, num_classes, dtype):
    """lam * onehot(y) + (1 - lam) * onehot(y[perm]); the CE of this equals the official
    lam * CE(logits, y) + (1 - lam) * CE(logits, y[perm])."""
    onehot = F.one_hot(labels, num_classes).to(dtype)
    return lam * onehot + (1.0 - lam) * onehot[perm]


# ---------------------------------------------------------------------------------------------

class BitModel:
    """Parameters (a dict: npz key -> torch tensor, kernels OIHW) plus the forward pass."""

    def __init__(self, cfg, params):
        self.cfg = cfg
        expected = param_shapes(cfg)
        if list(params) != list(expected):
            missing = [k for k in expected if k not in params]
            extra = [k for k in params if k not in expected]
            raise ValueError(f"BitModel: parameter keys do not match {cfg}: missing {missing[:5]}"
                             f", unexpected {extra[:5]}")
        for key, shape in expected.items():
            if tuple(params[key].shape) != torch_shape(shape):
                raise ValueError(f"BitModel: {key} has shape {tuple(params[key].shape)}, "
                                 f"expected {torch_shape(shape)} (OIHW)")
        self.params = params

    @classmethod
    def random(cls, cfg, seed, dtype=torch.float32):
        """Deterministic random weights. Kernels are N(0, 1) (weight standardization removes
        their scale), GN gamma = 1 + 0.2 N(0,1), beta = 0.2 N(0,1), head kernel 0.1 N(0,1) and
        head bias 0.1 N(0,1): everything nonzero so that every gradient is exercised."""
        gen = torch.Generator().manual_seed(seed)
        params = collections.OrderedDict()
        for key, shape in param_shapes(cfg).items():
            noise = torch.randn(torch_shape(shape), generator=gen, dtype=torch.float64)
            if key.endswith("/gamma"):
                value = 1.0 + 0.2 * noise
            elif key.endswith("/beta"):
                value = 0.2 * noise
            elif is_head_key(key):
                value = 0.1 * noise
            else:
                value = noise
            # Round to float32 first so that a float64 model holds exactly the saved values.
            params[key] = value.to(torch.float32).to(dtype)
        return cls(cfg, params)

    @classmethod
    def load_npz(cls, path, base_width=OFFICIAL_BASE_WIDTH, num_groups=OFFICIAL_NUM_GROUPS,
                 dtype=torch.float32):
        """Reads an official-layout .npz. Depth, width factor and head size come from the file;
        base_width and num_groups cannot be told apart from the file and must be given."""
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in npz.files}
        cfg = infer_config(arrays, base_width, num_groups, path)
        expected = param_shapes(cfg)
        params = collections.OrderedDict()
        for key, shape in expected.items():
            if key not in arrays:
                raise ValueError(f"{path}: missing array {key} (shape {shape})")
            if tuple(arrays[key].shape) != shape:
                raise ValueError(f"{path}: {key} has shape {arrays[key].shape}, expected {shape}")
            params[key] = torch.from_numpy(
                np.ascontiguousarray(hwio_to_oihw(arrays[key]))).to(dtype)
        extra = sorted(set(arrays) - set(expected))
        if extra:
            raise ValueError(f"{path}: unexpected arrays {extra[:5]} for {cfg}")
        return cls(cfg, params)

    def save_npz(self, path, compressed=False):
        """Writes the official layout: resnet/... keys in the official order, HWIO kernels,
        float32; stored uncompressed unless `compressed` (zip deflate)."""
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        # Through an open file, so that numpy adds no ".npz" to `path`; into place atomically.
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".tmp-")
        try:
            with os.fdopen(fd, "wb") as file:
                (np.savez_compressed if compressed else np.savez)(file, **self.numpy_arrays())
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

    def numpy_arrays(self, tensors=None):
        """tensors (default: the parameters) keyed by npz name, as float32 npz-layout arrays."""
        tensors = self.params if tensors is None else tensors
        return collections.OrderedDict(
            (key, np.ascontiguousarray(oihw_to_hwio(
                tensors[key].detach().to(torch.float32).numpy())))
            for key in self.params)

    def parameters(self):
        return list(self.params.values())

    def to(self, dtype):
        return BitModel(self.cfg, collections.OrderedDict(
            (k, v.detach().to(dtype)) for k, v in self.params.items()))

    def requires_grad_(self, flag=True):
        for v in self.params.values():
            v.requires_grad_(flag)
        return self

    def _unit(self, x, block, u, stride):
        p = unit_prefix(block, u)
        w = self.params
        g = self.cfg.num_groups
        pre = group_norm_relu(x, w[p + "a/group_norm/gamma"], w[p + "a/group_norm/beta"], g)
        proj_key = p + "a/proj/standardized_conv2d/kernel"
        # The projection reads the pre-activation; the identity shortcut reads raw x.
        shortcut = std_conv2d(pre, w[proj_key], stride) if proj_key in w else x
        h = std_conv2d(pre, w[p + "a/standardized_conv2d/kernel"])
        h = group_norm_relu(h, w[p + "b/group_norm/gamma"], w[p + "b/group_norm/beta"], g)
        h = std_conv2d(h, w[p + "b/standardized_conv2d/kernel"], stride, 1)  # stride on the 3x3
        h = group_norm_relu(h, w[p + "c/group_norm/gamma"], w[p + "c/group_norm/beta"], g)
        h = std_conv2d(h, w[p + "c/standardized_conv2d/kernel"])
        return h + shortcut  # no activation after the add

    def forward(self, x, activations=None):
        """x: (N, 3, H, W) in [-1, 1] -> logits (N, head_size). If activations is a dict, the
        intermediate tensors root, pool, block1..block4 and prelogits are stored in it."""
        w = self.params
        acts = activations if activations is not None else {}
        h = std_conv2d(x, w[PREFIX + "root_block/standardized_conv2d/kernel"], 2, 3)
        acts["root"] = h
        h = zero_pad_max_pool(h)
        acts["pool"] = h
        for block, n_units, _, _, _, stride in self.cfg.stages():
            for u in range(1, n_units + 1):
                h = self._unit(h, block, u, stride if u == 1 else 1)
            acts[f"block{block}"] = h
        h = group_norm_relu(h, w[PREFIX + "group_norm/gamma"], w[PREFIX + "group_norm/beta"],
                            self.cfg.num_groups)
        h = h.mean(dim=(2, 3), keepdim=True)  # global average pool first, then the head conv
        acts["prelogits"] = h.flatten(1)
        logits = F.conv2d(h, w[PREFIX + "head/conv2d/kernel"], w[PREFIX + "head/conv2d/bias"])
        return logits.flatten(1)

    __call__ = forward


def infer_config(arrays, base_width, num_groups, where="npz"):
    """The BitConfig implied by a dict of npz arrays (npz layout)."""
    root_key = PREFIX + "root_block/standardized_conv2d/kernel"
    head_key = PREFIX + "head/conv2d/bias"
    for key in (root_key, head_key):
        if key not in arrays:
            raise ValueError(f"{where}: missing array {key}")
    units = []
    for block in range(1, 5):
        n = 0
        while unit_prefix(block, n + 1) + "a/standardized_conv2d/kernel" in arrays:
            n += 1
        units.append(n)
    depths = [d for d, u in UNITS_PER_STAGE.items() if tuple(units) == u]
    if not depths:
        raise ValueError(f"{where}: units per block {units} match no BiT depth "
                         f"{dict(UNITS_PER_STAGE)}")
    root_channels = arrays[root_key].shape[3]
    if root_channels % base_width != 0:
        raise ValueError(f"{where}: root width {root_channels} is not a multiple of "
                         f"base_width={base_width}")
    return BitConfig(depth=depths[0], width_factor=root_channels // base_width,
                     head_size=arrays[head_key].shape[0], base_width=base_width,
                     num_groups=num_groups)
