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


if __name__ == "__main__":
    main()
