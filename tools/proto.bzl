"""cc_proto: generates C++ from .proto files with the system protoc (Debian protobuf-compiler 3.21).

proto_library needs @com_google_protobuf, which cannot be fetched offline; protoc from Debian and
the matching libprotobuf runtime do the same job. Imports resolve from the workspace root.

    cc_proto(name = "checkpoint_proto", srcs = ["checkpoint.proto"])
"""

def cc_proto(name, srcs, deps = [], **kwargs):
    """A cc_library with the generated .pb.h/.pb.cc of `srcs`; `deps` are other cc_proto targets."""
    outs_h = [s[:-len(".proto")] + ".pb.h" for s in srcs]
    outs_cc = [s[:-len(".proto")] + ".pb.cc" for s in srcs]
    native.genrule(
        name = name + "_protoc",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = outs_h + outs_cc,
        cmd = "protoc --proto_path=. --cpp_out=$(GENDIR) " + " ".join(
            ["$(location {})".format(s) for s in srcs],
        ),
    )
    native.filegroup(name = name + "_srcs", srcs = srcs)
    native.cc_library(
        name = name,
        srcs = outs_cc,
        hdrs = outs_h,
        deps = deps + ["//third_party:protobuf"],
        **kwargs
    )
