"""Writes the single-.npy fixtures of tests/io/npy_test.cc (run by hand; tests never run Python).

    /usr/bin/python3 tests/io/testdata/make_npy_fixtures.py

Values follow formulas that npy_test.cc restates, so the C++ reader is checked against numpy's
writer (and numpy's reader checks the C++ writer's output, see npy_test.cc's comment).
"""

import io
import os

import numpy as np
from numpy.lib import format as npy_format

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def npy_bytes(array, version=None):
    out = io.BytesIO()
    npy_format.write_array(out, array, version=version)
    return out.getvalue()


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def main():
    f32 = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) * 0.25 - 2.0  # an NCHW batch
    f64 = np.array([1.0 / 3.0, -2.5, 1e-300], dtype=np.float64)
    np.save(path("batch_f32.npy"), f32)
    write("v2_f64.npy", npy_bytes(f64, version=(2, 0)))
    good = npy_bytes(f32)
    write("truncated.npy", good[:-4])
    write("trailing.npy", good + b"\0\0\0")
    write("header_cut.npy", good[:40])
    np.save(path("fortran.npy"), np.asfortranarray(f32[0, 0]))
    np.save(path("big_endian.npy"), f32.astype(">f4"))
    # Fortran order (what np.save writes for a transposed array): element i (in C order) holds i.
    np.save(path("fortran_2d.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    np.save(path("fortran_3d.npy"), np.asfortranarray(np.arange(24, dtype=">i2").reshape(2, 3, 4)))
    np.save(path("fortran_4d.npy"),
            np.asfortranarray(np.arange(120, dtype=np.uint8).reshape(2, 3, 4, 5)))
    assert np.load(path("fortran_4d.npy")).flags.f_contiguous
    np.save(path("complex.npy"), np.ones(2, dtype=np.complex64))
    np.savez(path("complex.npz"), z=np.ones(2, dtype=np.complex64))
    np.save(path("u8_too_big.npy"), np.array([1, 2**64 - 1], dtype=np.uint64))
    write_dtype_zoo()
    write_keras_like()


# Every bool/integer/float dtype in both byte orders: "le_i4", "be_i4", "u1", ... in dtypes.npz.
# npy_test.cc restates these values.
def zoo_values(code):
    if code == "b1":
        return [False, True, True, False, True]
    if code[0] == "f":
        return [0.0, 1.5, -2.25, 10000.0, 2.0**-10]
    info = np.iinfo(np.dtype(code))
    top = 2**63 - 1 if code == "u8" else info.max  # u8 above int64 is refused (u8_too_big.npy)
    return [0, 1, info.min, top, 100 if info.max < 258 else 258]


def write_dtype_zoo():
    arrays = {}
    for code in ["b1", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8"]:
        orders = {"": "|"} if code[1] == "1" else {"le_": "<", "be_": ">"}
        for prefix, order in orders.items():
            arrays[prefix + code] = np.array(zoo_values(code), dtype=order + code)
    np.savez(path("dtypes.npz"), **arrays)


# A Keras-style dataset as numpy code might save it: transposed (Fortran-order) NHW images,
# int32 labels, big-endian uint16 (N, 1) labels. keras_npz_test.cc checks it.
def write_keras_like():
    np.savez(path("keras_numpy_dtypes.npz"),
             x_train=np.asfortranarray(np.arange(12, dtype=np.uint8).reshape(3, 2, 2)),
             y_train=np.array([4, 0, 1], dtype=np.int32),
             x_test=np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3),
             y_test=np.array([[2]], dtype=">u2"))


if __name__ == "__main__":
    main()
