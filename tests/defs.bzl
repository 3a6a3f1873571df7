"""cc_tests: one cc_test per *_test.cc file, so adding a test is adding a file."""

def cc_tests(srcs, deps = [], **kwargs):
    for src in srcs:
        native.cc_test(
            name = src[:-len(".cc")],
            srcs = [src],
            deps = deps + ["//third_party:gtest_main"],
            **kwargs
        )
