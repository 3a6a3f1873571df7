"""Writes the small .npz fixtures of tests/io, and tests/models' tiny BiT (run by hand; tests never
run Python).

    /usr/bin/python3 tests/io/testdata/make_npz_fixtures.py

Every array's values follow a formula that npz_test.cc / bit_weights_test.cc restate, so the
tests check the C++ reader against numpy's writer, not against itself.
"""

import io
import os
import struct
import zipfile

import numpy as np
from numpy.lib import format as npy_format

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS_TESTDATA = os.path.join(HERE, "..", "..", "models", "testdata")


def path(name):
    return os.path.join(HERE, name)


def sample_arrays():
    """One array per supported dtype, plus a scalar, an empty array and a nested key."""
    return {
        "f32": (np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.5 - 3.0),
        "dir/f64": np.array([1.0 / 3.0, -2.5, 1e-300, 7.0], dtype=np.float64),
        "i64": np.array([[-(2**40), -1], [0, 2**62]], dtype=np.int64),
        "u8": np.arange(250, 255, dtype=np.uint8),
        "scalar": np.array(42.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def zip_with_entries(name, entries):
    """A stored zip holding raw (entry name, bytes) pairs: for malformed .npy payloads."""
    with zipfile.ZipFile(path(name), "w", zipfile.ZIP_STORED) as z:
        for entry, payload in entries:
            z.writestr(zipfile.ZipInfo(entry, date_time=(1980, 1, 1, 0, 0, 0)), payload)


def npy_bytes(array, version=None):
    out = io.BytesIO()
    npy_format.write_array(out, array, version=version)
    return out.getvalue()


def write_zip64(name, arrays):
    """Every structure in its zip64 form: zip64 extra fields in local and central headers, and
    the zip64 end-of-central-directory record with 0xFFFF.. placeholders in the classic one,
    so a reader must follow the zip64 records to find anything."""
    saved = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT = 0
    zipfile.ZIP_FILECOUNT_LIMIT = 0
    try:
        with zipfile.ZipFile(path(name), "w", zipfile.ZIP_STORED, allowZip64=True) as z:
            for key, array in arrays.items():
                info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                with z.open(info, "w", force_zip64=True) as f:
                    f.write(npy_bytes(array))
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved
    with open(path(name), "r+b") as f:
        data = bytearray(f.read())
        eocd = data.rfind(b"PK\x05\x06")
        # disk numbers stay 0; entry counts, directory size and offset become placeholders
        struct.pack_into("<HHII", data, eocd + 8, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        assert data.rfind(b"PK\x06\x06") > 0 and data.rfind(b"PK\x06\x07") > 0
        f.seek(0)
        f.write(data)


# ------------------------------------------------------------------------------------------------
# A tiny BiT-R50 checkpoint in the official layout (resnet/... keys, HWIO kernels), with
# base_width = 1 (root width 1, features 32) and a 3-way head. Written independently of the C++
# key table: the names follow bit.md §2.2.

def tiny_bit_arrays():
    rng = np.random.default_rng(1234)
    c0, head = 1, 3
    arrays = {}
    # root kernel (7, 7, 3, C0): value = 1000*o + 100*i + 10*h + w, to check the transpose by hand
    h, w, i, o = np.meshgrid(np.arange(7), np.arange(7), np.arange(3), np.arange(c0),
                             indexing="ij")
    arrays["resnet/root_block/standardized_conv2d/kernel"] = (
        1000 * o + 100 * i + 10 * h + w).astype(np.float32)
    cin = c0
    for b, units in enumerate((3, 4, 6, 3)):
        cmid = c0 * 2**b
        cout = 4 * cmid
        for u in range(1, units + 1):
            p = f"resnet/block{b + 1}/unit{u:02d}/"
            unit_cin = cin if u == 1 else cout
            arrays[p + "a/group_norm/gamma"] = 1 + 0.1 * rng.standard_normal(unit_cin)
            arrays[p + "a/group_norm/beta"] = 0.1 * rng.standard_normal(unit_cin)
            arrays[p + "a/standardized_conv2d/kernel"] = rng.standard_normal((1, 1, unit_cin, cmid))
            if u == 1:
                arrays[p + "a/proj/standardized_conv2d/kernel"] = rng.standard_normal(
                    (1, 1, unit_cin, cout))
            arrays[p + "b/group_norm/gamma"] = 1 + 0.1 * rng.standard_normal(cmid)
            arrays[p + "b/group_norm/beta"] = 0.1 * rng.standard_normal(cmid)
            arrays[p + "b/standardized_conv2d/kernel"] = rng.standard_normal((3, 3, cmid, cmid))
            arrays[p + "c/group_norm/gamma"] = 1 + 0.1 * rng.standard_normal(cmid)
            arrays[p + "c/group_norm/beta"] = 0.1 * rng.standard_normal(cmid)
            arrays[p + "c/standardized_conv2d/kernel"] = rng.standard_normal((1, 1, cmid, cout))
        cin = cout
    arrays["resnet/group_norm/gamma"] = 1 + 0.1 * rng.standard_normal(32 * c0)
    arrays["resnet/group_norm/beta"] = 0.1 * rng.standard_normal(32 * c0)
    arrays["resnet/head/conv2d/kernel"] = 0.1 * rng.standard_normal((1, 1, 32 * c0, head))
    arrays["resnet/head/conv2d/bias"] = 0.1 * rng.standard_normal(head)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}


def main():
    arrays = sample_arrays()
    np.savez(path("sample_stored.npz"), **arrays)
    np.savez_compressed(path("sample_deflated.npz"), **arrays)
    write_zip64("sample_zip64.npz", {"f32": arrays["f32"], "i64": arrays["i64"]})
    # .npy format versions 2.0 and 3.0 (numpy picks 1.0 unless asked)
    zip_with_entries("npy_versions.npz", [
        ("v2.npy", npy_bytes(arrays["f32"], version=(2, 0))),
        ("v3.npy", npy_bytes(arrays["dir/f64"], version=(3, 0))),
    ])

    # Bad files.
    with open(path("not_a_zip.npz"), "w") as f:
        f.write("this is a text file, not a zip archive\n")
    np.savez(path("fortran_order.npz"), x=np.asfortranarray(arrays["f32"][0]))
    np.savez(path("big_endian.npz"), x=arrays["f32"].astype(">f4"))
    np.savez(path("int32.npz"), x=np.arange(4, dtype=np.int32))
    good = npy_bytes(arrays["f32"])
    zip_with_entries("bad_magic.npz", [("x.npy", b"NOTNUMPY" + good[8:])])
    zip_with_entries("bad_header.npz", [
        ("x.npy", good.replace(b"'shape': (2, 3, 4)", b"'shape': [2, 3, 4]"))])
    zip_with_entries("truncated_npy.npz", [("x.npy", good[:-8])])

    tiny = tiny_bit_arrays()
    np.savez_compressed(os.path.join(MODELS_TESTDATA, "bit_r50_tiny.npz"), **tiny)
    print("tiny BiT arrays:", len(tiny), "elements:", sum(a.size for a in tiny.values()))


if __name__ == "__main__":
    main()
