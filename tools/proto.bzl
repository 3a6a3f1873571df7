"""cc_proto: generates C++ from .proto files with the system protoc (Debian protobuf-compiler 3.21).

proto_library needs @com_google_protobuf, which cannot be fetched offline; protoc from Debian and
the matching libprotobuf runtime do the same job. Imports resolve from the root of each repository
that the protos and their deps come from, so a user's proto can import bitgrad's (docs/build.md):

    cc_proto(name = "checkpoint_proto", srcs = ["checkpoint.proto"])
    cc_proto(
        name = "sweep_proto",
        srcs = ["sweep.proto"],  # import "train/run_config.proto";
        deps = ["@bitgrad//train:run_config_proto"],
    )
"""

def _path_in_package(package, file):
    # A file of the root package has no "/" before it.
    return package + "/" + file if package else file

def cc_proto(name, srcs, deps = [], **kwargs):
    """A cc_library with the generated .pb.h/.pb.cc of `srcs` (file names in this package);
    `deps` are other cc_proto targets, each by a label that names its target ("//x:y_proto",
    ":y_proto" or "y_proto"). visibility and testonly apply to the protos too, which a cc_proto
    that depends on this one reads."""
    for dep in deps:
        if "/" in dep and ":" not in dep:
            fail(("cc_proto {}: dep \"{}\": expected a cc_proto's full label, with \":\" and " +
                  "the target name, such as \"//train:run_config_proto\"").format(name, dep))
    for src in srcs:
        if " " in src or not src.endswith(".proto"):
            fail("cc_proto {}: src \"{}\": expected a .proto file name without spaces".format(
                name,
                src,
            ))

    # The root of the calling repository: "." for the main one, external/NAME for another (bitgrad
    # when a user's workspace builds it).
    repository = native.repository_name()[1:]
    root = "external/" + repository if repository else "."
    outs_h = [s[:-len(".proto")] + ".pb.h" for s in srcs]
    outs_cc = [s[:-len(".proto")] + ".pb.cc" for s in srcs]

    # The protos and every dep's, transitively: protoc reads each file that they import.
    native.filegroup(
        name = name + "_srcs",
        srcs = srcs + [dep + "_srcs" for dep in deps],
        visibility = kwargs.get("visibility"),
        testonly = kwargs.get("testonly"),
    )
    native.genrule(
        name = name + "_protoc",
        testonly = kwargs.get("testonly"),
        srcs = [":" + name + "_srcs"],
        outs = outs_h + outs_cc,
        # One --proto_path per repository that the protos come from, so that imports resolve
        # across repositories: a file is at external/NAME/... in repository NAME and under "."
        # in the main one.
        cmd = """
            roots=$$(for f in $(SRCS); do
                if [[ $$f == external/* ]]; then cut -d/ -f1,2 <<< "$$f"; else echo .; fi
            done | sort -u)
            protoc $$(printf -- "--proto_path=%s " $$roots) --cpp_out=$(GENDIR)/{root} {protos}
        """.format(
            root = root,
            protos = " ".join([_path_in_package(native.package_name(), s) for s in srcs]),
        ),
    )
    native.cc_library(
        name = name,
        srcs = outs_cc,
        hdrs = outs_h,
        deps = deps + [Label("//third_party:protobuf")],
        **kwargs
    )
