"""fuzz_target: one libFuzzer target, and a test that replays its committed corpus.

Each fuzz_target(name = "npy") makes
  - `npy_fuzzer`, a cc_binary: a libFuzzer binary under `--config=fuzz` (clang, ASan, coverage
    instrumentation; tools/fuzz/run.sh builds and runs it), and a replay program anywhere else
    (it runs the target once on each file or directory given);
  - `npy_corpus_test`, a cc_test that runs the target over corpus/npy/ (valid seed files, plus
    every input a fuzzer ever crashed on), so `bazel test //...` keeps the found bugs fixed.
"""

def fuzz_target(name, deps):
    srcs = [name + "_fuzzer.cc"]
    deps = deps + ["//tests/fuzz:fuzz_support"]
    replay = ["//tests/fuzz:replay_main"]
    native.cc_binary(
        name = name + "_fuzzer",
        srcs = srcs,
        deps = deps + select({
            "//tests/fuzz:fuzzing": [],
            "//conditions:default": replay,
        }),
        linkopts = select({
            "//tests/fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
    )
    native.cc_test(
        name = name + "_corpus_test",
        srcs = srcs,
        deps = deps + replay,
        data = native.glob(["corpus/" + name + "/*"]),
        args = ["tests/fuzz/corpus/" + name],
    )
