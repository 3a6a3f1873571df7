"""The layers of bitgrad, lowest first, and the Bazel visibility that keeps dependencies pointing down.

A package may depend on packages in its own folder tree and in lower layers, never on a higher
layer or on a sibling in its own layer (data and models are independent of each other). Each
layer's BUILD files take their default_visibility from layer_visibility(), so an upward dependency
fails the build ("target ... is not visible"), and so does its #include: Bazel rejects headers that
do not come from a declared dependency. Tests may depend on everything; third_party is open to all.

The README's layout table lists the same layers.
"""

LAYERS = [
    ["//core"],
    ["//io", "//autograd"],
    ["//ops"],
    ["//optim", "//dist"],
    ["//models", "//data", "//"],  # "//": the //:bitgrad umbrella over core..optim
    ["//train"],
    ["//examples"],
    ["//tools"],
]

def _tree(package):
    return "//:__pkg__" if package == "//" else package + ":__subpackages__"

def layer_visibility(package):
    """Visibility for `package`'s targets: its own tree, every higher layer, and the tests."""
    for i, layer in enumerate(LAYERS):
        if package in layer:
            above = [_tree(p) for upper in LAYERS[i + 1:] for p in upper]
            return [_tree(package)] + above + ["//tests:__subpackages__"]
    fail("%s is in no layer of tools/layers.bzl" % package)
