"""cc_proto: generates C++ from .proto files with the system protoc (Debian protobuf-compiler 3.21).

proto_library needs @com_google_protobuf, which cannot be fetched offline; protoc from Debian and
the matching libprotobuf runtime do the same job. Imports resolve from the repository root (bitgrad's, also in a user's workspace).

    cc_proto(name = "checkpoint_proto", srcs = ["checkpoint.proto"])
"""

def cc_proto(name, srcs, deps = [], **kwargs):
    """A cc_library with the generated .pb.h/.pb.cc of `srcs` (file names in this package);
    `deps` are other cc_proto targets."""
    # The root of this repository: "." here, external/bitgrad when a user's workspace builds it.
    repository = native.repository_name()[1:]
    root = "external/" + repository if repository else "."
    outs_h = [s[:-len(".proto")] + ".pb.h" for s in srcs]
    outs_cc = [s[:-len(".proto")] + ".pb.cc" for s in srcs]
    native.genrule(
        name = name + "_protoc",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = outs_h + outs_cc,
        cmd = "protoc --proto_path={} --cpp_out=$(GENDIR)/{} ".format(root, root) + " ".join(
            [native.package_name() + "/" + s for s in srcs],
        ),
    )
    native.filegroup(name = name + "_srcs", srcs = srcs)
    native.cc_library(
        name = name,
        srcs = outs_cc,
        hdrs = outs_h,
        deps = deps + [Label("//third_party:protobuf")],
        **kwargs
    )
