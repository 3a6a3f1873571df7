"""The layers of bitgrad, lowest first, and the Bazel visibility that keeps dependencies down.

A package may depend on packages in its own folder tree and in lower layers, never on a higher
layer or on a sibling in its own layer (data and models are independent of each other). Each
layer's BUILD files take their default_visibility from layer_visibility(), so an upward or
sideways dependency fails the build ("target ... is not visible"), and so does its #include:
Bazel rejects headers that do not come from a declared dependency. Tests may depend on
everything; third_party is open to all. A package outside the table, such as a user's own op
(docs/custom_ops.md), may depend on every layer: it stands above them all.

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

def _group_name(package):
    return "users_of_" + ("root" if package == "//" else package[2:].replace("/", "_"))

def _tree_spec(package):
    # In a package_group, "//" is the root package alone and "//x/..." the tree of //x.
    return "//" if package == "//" else package + "/..."

def layer_visibility(package):
    """Visibility for `package`'s targets: every package but the lower layers and its siblings."""
    for layer in LAYERS:
        if package in layer:
            return ["//tools:" + _group_name(package)]
    fail("%s is in no layer of tools/layers.bzl" % package)

def layer_package_groups():
    """The package groups layer_visibility() names (tools/BUILD.bazel): for each package, all
    packages ("//...") less the trees of the lower layers and of its siblings in its layer."""
    for i, layer in enumerate(LAYERS):
        below = [p for lower in LAYERS[:i] for p in lower]
        for package in layer:
            refused = below + [p for p in layer if p != package]
            native.package_group(
                name = _group_name(package),
                packages = ["//..."] + ["-" + _tree_spec(p) for p in refused],
            )
