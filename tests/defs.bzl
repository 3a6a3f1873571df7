"""cc_tests: one cc_test per *_test.cc file, so adding a test is adding a file."""

def cc_tests(srcs, deps = [], env = {}, isa_caps = [], **kwargs):
    """One cc_test per source, plus one per ISA cap in `isa_caps`.

    A cap is a DNNL_MAX_CPU_ISA value ("AVX2", "SSE41"): test `foo_test` also runs as
    `foo_test_isa_avx2` with oneDNN and bitgrad's own kernels capped there
    (ops/cpu/common/cpu_isa.h), so an AVX-512 machine tests the AVX2 paths too. A cap at or above
    the machine's ISA runs its best paths again. The capped variants are tagged "isa_cap"
    (`--test_tag_filters=-isa_cap` leaves them out).
    """
    tags = kwargs.pop("tags", [])
    for src in srcs:
        name = src[:-len(".cc")]
        for cap in [None] + isa_caps:
            native.cc_test(
                name = name if cap == None else name + "_isa_" + cap.lower(),
                srcs = [src],
                deps = deps + ["//third_party:gtest_main"],
                env = env if cap == None else dict(env, DNNL_MAX_CPU_ISA = cap),
                tags = tags if cap == None else tags + ["isa_cap"],
                **kwargs
            )
