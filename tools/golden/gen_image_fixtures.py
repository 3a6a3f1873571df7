"""Writes the image fixtures of tests/data/testdata/ (see tests/data/testdata/README.md).

    /usr/bin/python3 tools/golden/gen_image_fixtures.py

PNGs come from a minimal writer here (so every colour type, bit depth and interlacing is under
our control, and the expected pixels are known exactly); JPEGs and WebPs from PIL, with the
pixels PIL decodes as the expectation. Expected pixels are binary PPM (P6) files, which the C++
test reads with a few lines of code. Seeded; reruns give identical files.
"""

import os
import struct
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO_ROOT, "tests", "data", "testdata")

# (x0, y0, dx, dy) of the seven Adam7 passes.
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]
COLOR_TYPES = {"gray": 0, "rgb": 2, "palette": 3, "gray_alpha": 4, "rgba": 6}


def chunk(tag, data):
    body = tag + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def pack_rows(samples, bit_depth):
    """samples: (H, W, channels) integers -> list of packed row bytes."""
    if bit_depth == 16:
        return [row.astype(">u2").tobytes() for row in samples]
    if bit_depth == 8:
        return [row.astype(np.uint8).tobytes() for row in samples]
    per_byte = 8 // bit_depth
    rows = []
    for row in samples.reshape(samples.shape[0], -1):
        padded = np.zeros(-(-len(row) // per_byte) * per_byte, dtype=np.uint8)
        padded[:len(row)] = row
        groups = padded.reshape(-1, per_byte)
        shifts = bit_depth * np.arange(per_byte - 1, -1, -1)
        rows.append((groups.astype(np.uint32) << shifts).sum(axis=1).astype(np.uint8).tobytes())
    return rows


def write_png(name, samples, kind, bit_depth, interlace=False, extra=b""):
    """samples: (H, W, channels) with values < 2**bit_depth; extra: chunks before IDAT."""
    height, width = samples.shape[:2]
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += b"".join(b"\0" + r for r in pack_rows(sub, bit_depth))
    else:
        raw = b"".join(b"\0" + r for r in pack_rows(samples, bit_depth))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, COLOR_TYPES[kind], 0, 0,
                       int(interlace))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def write_ppm(name, rgb):
    rgb = np.asarray(rgb, dtype=np.uint8)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (rgb.shape[1], rgb.shape[0]) + rgb.tobytes())


def to_rgb8_16bit(samples):
    return np.floor(samples.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)


def gray_to_rgb(gray):
    return np.repeat(gray.reshape(gray.shape[0], gray.shape[1], 1), 3, axis=2)


def pngs(rng):
    rgb = rng.integers(0, 256, (5, 7, 3))
    write_png("rgb8.png", rgb, "rgb", 8)
    write_ppm("rgb8.ppm", rgb)
    write_png("rgb8_interlaced.png", rgb, "rgb", 8, interlace=True)  # same expected pixels

    gray = rng.integers(0, 256, (6, 4, 1))
    write_png("gray8.png", gray, "gray", 8)
    write_ppm("gray8.ppm", gray_to_rgb(gray))

    gray1 = rng.integers(0, 2, (3, 11, 1))  # 11 columns: a partial last byte per row
    write_png("gray1.png", gray1, "gray", 1)
    write_ppm("gray1.ppm", gray_to_rgb(gray1 * 255))

    gray16 = rng.integers(0, 65536, (4, 5, 1))
    gray16[0, :4, 0] = [0, 65535, 128, 129]  # 128 rounds down to 0, 129 up to 1
    write_png("gray16.png", gray16, "gray", 16)
    write_ppm("gray16.ppm", gray_to_rgb(to_rgb8_16bit(gray16)))

    rgb16 = rng.integers(0, 65536, (3, 4, 3))
    write_png("rgb16.png", rgb16, "rgb", 16)
    write_ppm("rgb16.ppm", to_rgb8_16bit(rgb16))

    rgba = rng.integers(0, 256, (4, 6, 4))
    rgba[0, 0, 3], rgba[0, 1, 3] = 0, 255  # transparent pixels keep their colour
    write_png("rgba8.png", rgba, "rgba", 8)
    write_ppm("rgba8.ppm", rgba[..., :3])

    gray_alpha = rng.integers(0, 256, (3, 3, 2))
    write_png("gray_alpha8.png", gray_alpha, "gray_alpha", 8)
    write_ppm("gray_alpha8.ppm", gray_to_rgb(gray_alpha[..., :1]))

    # 2-bit palette of 4 colours, with a tRNS chunk (transparency is dropped like alpha).
    palette = rng.integers(0, 256, (4, 3))
    index = rng.integers(0, 4, (5, 9, 1))
    extra = chunk(b"PLTE", palette.astype(np.uint8).tobytes()) + chunk(b"tRNS", b"\x00\x80")
    write_png("palette2.png", index, "palette", 2, extra=extra)
    write_ppm("palette2.ppm", palette[index[..., 0]])

    # Bigger and smooth, for the truncation tests (cut inside the image data).
    yy, xx = np.mgrid[0:32, 0:32]
    smooth = np.stack([yy * 8, xx * 8, (yy + xx) * 4], axis=2)
    write_png("smooth32.png", smooth, "rgb", 8)

    # The writer is checked against PIL where PIL reads the same thing we promise.
    for name in ["rgb8", "rgb8_interlaced", "gray8", "gray1", "rgba8", "gray_alpha8",
                 "palette2"]:
        decoded = np.asarray(Image.open(os.path.join(OUT, name + ".png")).convert("RGB"))
        expected = np.asarray(Image.open(os.path.join(OUT, name.replace("_interlaced", "")
                                                      + ".ppm")))
        assert np.array_equal(decoded, expected), name
    return smooth


def jpegs(rng, smooth):
    yy, xx = np.mgrid[0:13, 0:17]  # odd sizes: partial MCUs with 4:2:0 subsampling
    base = np.stack([yy * 19, xx * 15, 255 - (yy + xx) * 8], axis=2)
    photo = np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
    cases = [("rgb.jpg", Image.fromarray(photo, "RGB"), {"quality": 90}),
             ("rgb_progressive.jpg", Image.fromarray(photo, "RGB"),
              {"quality": 90, "progressive": True}),
             ("gray.jpg", Image.fromarray(photo[..., 0], "L"), {"quality": 90}),
             ("cmyk.jpg", Image.fromarray(rng.integers(0, 256, (8, 10, 4), dtype=np.uint8),
                                          "CMYK"), {"quality": 95})]
    for name, image, options in cases:
        image.save(os.path.join(OUT, name), **options)
        decoded = Image.open(os.path.join(OUT, name)).convert("RGB")
        write_ppm(name.replace(".jpg", ".ppm"), np.asarray(decoded))
    Image.fromarray(smooth.astype(np.uint8), "RGB").save(os.path.join(OUT, "smooth32.jpg"),
                                                          quality=90)
    # DCT-scaled decodes (decode_image with a DecodeSize of the result's size): PIL's draft
    # picks the scale 1/s, s in {2, 4, 8}, from the floor of the size ratio, and its pixels are
    # the expectation.
    for name, draft_size in [("rgb.jpg", (8, 6)), ("rgb.jpg", (4, 3)), ("rgb.jpg", (2, 1)),
                             ("smooth32.jpg", (8, 8))]:
        image = Image.open(os.path.join(OUT, name))
        image.draft("RGB", draft_size)
        decoded = np.asarray(image.convert("RGB"))
        height, width = decoded.shape[:2]
        write_ppm(name.replace(".jpg", f"_scaled_{height}x{width}.ppm"), decoded)


def webps(rng, smooth):
    """WebP files from PIL (libwebp 1.2), with the pixels PIL decodes as the expectation."""
    yy, xx = np.mgrid[0:13, 0:17]
    base = np.stack([yy * 19, xx * 15, 255 - (yy + xx) * 8], axis=2)
    photo = np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
    rgba = rng.integers(0, 256, (4, 6, 4)).astype(np.uint8)
    rgba[0, 0, 3], rgba[0, 1, 3] = 0, 255  # transparent pixels keep their colour (exact=True)
    cases = [("rgb_lossy.webp", Image.fromarray(photo, "RGB"), {"quality": 90}),
             ("rgb_lossless.webp", Image.fromarray(photo, "RGB"), {"lossless": True}),
             ("rgba_lossless.webp", Image.fromarray(rgba, "RGBA"),
              {"lossless": True, "exact": True})]
    for name, image, options in cases:
        image.save(os.path.join(OUT, name), **options)
        decoded = np.asarray(Image.open(os.path.join(OUT, name)).convert("RGB"))
        write_ppm(name.replace(".webp", "_webp.ppm"), decoded)
    lossless = np.asarray(Image.open(os.path.join(OUT, "rgb_lossless.webp")).convert("RGB"))
    assert np.array_equal(lossless, photo)
    assert np.array_equal(np.asarray(Image.open(os.path.join(OUT, "rgba_lossless.webp"))
                                     .convert("RGB")), rgba[..., :3])
    Image.fromarray(smooth.astype(np.uint8), "RGB").save(os.path.join(OUT, "smooth32.webp"),
                                                          quality=90)
    frames = [Image.fromarray(photo, "RGB"), Image.fromarray(255 - photo, "RGB")]
    frames[0].save(os.path.join(OUT, "animated.webp"), save_all=True,
                   append_images=frames[1:], duration=100, lossless=True)


RESIZE_TARGETS = [(11, 13), (3, 2), (9, 3), (5, 7), (1, 1), (2, 14)]


def resize_fixtures():
    """Expected resizes of rgb8.ppm (5x7): torch's bilinear, align_corners=False, no antialias,
    computed in float64, rounded half to even (torch.round) and clamped."""
    source = np.asarray(Image.open(os.path.join(OUT, "rgb8.ppm")))
    x = torch.from_numpy(source.astype(np.float64)).permute(2, 0, 1)[None]
    for h, w in RESIZE_TARGETS:
        y = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        y = torch.round(y).clamp(0, 255)[0].permute(1, 2, 0).numpy().astype(np.uint8)
        write_ppm(f"rgb8_resized_{h}x{w}.ppm", y)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240601)
    smooth = pngs(rng)
    jpegs(rng, smooth)
    resize_fixtures()
    webps(rng, smooth)  # last: the files above keep their random draws
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files to {os.path.relpath(OUT)} ({total} bytes)")


if __name__ == "__main__":
    main()
