"""cc_proto: generates C++ from .proto files with the system protoc (Debian protobuf-compiler 3.21).

proto_library needs @com_google_protobuf, which cannot be fetched offline; protoc from Debian and
the matching libprotobuf runtime do the same job. Imports resolve from the root of the repository
that calls cc_proto (bitgrad's own protos build so from a user's workspace too; a user's proto
cannot import bitgrad's).

    cc_proto(name = "checkpoint_proto", srcs = ["checkpoint.proto"])
"""

def _path_in_package(package, file):
    # A file of the root package has no "/" before it.
    return package + "/" + file if package else file

def cc_proto(name, srcs, deps = [], **kwargs):
    """A cc_library with the generated .pb.h/.pb.cc of `srcs` (file names in this package);
    `deps` are other cc_proto targets."""
    # The root of the calling repository: "." for the main one, external/NAME for another (bitgrad
    # when a user's workspace builds it).
    repository = native.repository_name()[1:]
    root = "external/" + repository if repository else "."
    outs_h = [s[:-len(".proto")] + ".pb.h" for s in srcs]
    outs_cc = [s[:-len(".proto")] + ".pb.cc" for s in srcs]
    native.genrule(
        name = name + "_protoc",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = outs_h + outs_cc,
        cmd = "protoc --proto_path={} --cpp_out=$(GENDIR)/{} ".format(root, root) + " ".join(
            [_path_in_package(native.package_name(), s) for s in srcs],
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
