#!/usr/bin/python3
"""Make the reference data for the kernels and kernels/imageproc tests.

Run with Debian's Python and packages (apt-get install python3-pil python3-numpy):

    /usr/bin/python3 kernels/testdata/gen_reference.py

It writes, beside this script, a few small synthetic test images (PNG RGB,
RGBA, paletted, grayscale, 16-bit grayscale; JPEG baseline and progressive with
4:2:0, 4:2:2 and 4:4:4 chroma, grayscale) and, as raw little-endian files:

  decoded/<image>.rgb      Image.open(f).convert("RGB") bytes, HWC uint8
  resized/<name>.rgb       PIL Image.resize((w, h), BILINEAR|BICUBIC) of the decoded RGB
  normalized/<name>.f32    numpy float32 NCHW: (x.astype(f32) * f32(scale) - mean) / std
                           on a resized (and, for CLIP-style, center-cropped) image

index.json lists every file with its shapes and parameters and records the
Python, Pillow and numpy versions. Everything is deterministic (fixed seeds).
"""
import io
import json
import os
import platform
import sys

import numpy as np
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def synthetic(w, h, seed):
    """A photo-like RGB array: gradients, a few hard-edged shapes, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / max(w, 1) * 6.0 + seed)
    g = 40 + 200 * y / max(h - 1, 1)
    b = 128 + 90 * np.cos((x + y) / 7.0)
    img = np.stack([r, g, b], axis=-1)
    # hard edges: a saturated rectangle and a dark disc
    img[h // 5 : h // 2, w // 6 : w // 2] = [250, 20, 30]
    cy, cx, rad = h * 0.6, w * 0.7, min(w, h) * 0.2
    img[(y - cy) ** 2 + (x - cx) ** 2 < rad**2] = [10, 40, 200]
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    index = {
        "generator": "gen_reference.py",
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "images": [],
        "resizes": [],
        "normalized": [],
    }

    # --- source images -------------------------------------------------
    sources = {}

    def add(name, fmt, pil, **save):
        buf = io.BytesIO()
        pil.save(buf, format=fmt, **save)
        data = buf.getvalue()
        ext = "png" if fmt == "PNG" else "jpg"
        write(f"images/{name}.{ext}", data)
        opened = Image.open(io.BytesIO(data))
        mode = opened.mode
        rgb = opened.convert("RGB")
        write(f"decoded/{name}.rgb", rgb.tobytes())
        sources[name] = rgb
        entry = {
            "name": name,
            "file": f"images/{name}.{ext}",
            "format": fmt,
            "pil_mode": mode,
            "width": rgb.width,
            "height": rgb.height,
            "rgb": f"decoded/{name}.rgb",
        }
        if fmt == "JPEG":
            entry["subsampling"] = save.get("subsampling", 2)
            entry["progressive"] = bool(save.get("progressive", False))
        index["images"].append(entry)

    photo300 = Image.fromarray(synthetic(300, 200, 1), "RGB")
    photo37 = Image.fromarray(synthetic(37, 23, 2), "RGB")
    photo64 = Image.fromarray(synthetic(64, 64, 3), "RGB")

    add("png_rgb_37x23", "PNG", photo37)
    add("png_rgb_300x200", "PNG", photo300)
    rgba = np.dstack([synthetic(64, 64, 4), (np.arange(64 * 64).reshape(64, 64) * 7 % 256).astype(np.uint8)])
    add("png_rgba_64x64", "PNG", Image.fromarray(rgba, "RGBA"))
    add("png_pal_300x200", "PNG", photo300.quantize(colors=200, dither=Image.Dither.NONE))
    add("png_gray_37x23", "PNG", photo37.convert("L"))
    g16 = (np.arange(20 * 10, dtype=np.uint16).reshape(10, 20) * 331) % 65535
    add("png_gray16_20x10", "PNG", Image.fromarray(g16.astype(np.uint16), "I;16"))
    add("jpeg_420_300x200", "JPEG", photo300, quality=90, subsampling=2)
    add("jpeg_420_37x23", "JPEG", photo37, quality=85, subsampling=2)
    add("jpeg_444_37x23", "JPEG", photo37, quality=95, subsampling=0)
    add("jpeg_422_64x64", "JPEG", photo64, quality=90, subsampling=1)
    add("jpeg_prog_420_64x64", "JPEG", photo64, quality=80, subsampling=2, progressive=True)
    add("jpeg_prog_444_300x200", "JPEG", photo300, quality=90, subsampling=0, progressive=True)
    add("jpeg_gray_37x23", "JPEG", photo37.convert("L"), quality=90)

    # --- resizes of the PIL-decoded RGB ----------------------------------
    filters = {"BILINEAR": Image.Resampling.BILINEAR, "BICUBIC": Image.Resampling.BICUBIC}
    targets = {
        "png_rgb_300x200": [(224, 224), (150, 100), (97, 61), (13, 7), (301, 17), (300, 31)],
        "png_rgb_37x23": [(80, 53), (224, 224), (5, 3), (37, 50), (1, 1)],
        "png_pal_300x200": [(64, 48)],
        "png_rgba_64x64": [(100, 45)],
        "jpeg_420_300x200": [(113, 75)],
    }
    for src, sizes in targets.items():
        for w, h in sizes:
            for fname, f in filters.items():
                if (w, h) == (224, 224) and src == "png_rgb_37x23" and fname == "BILINEAR":
                    continue  # keep the data small
                out = sources[src].resize((w, h), f)
                name = f"{src}_to_{w}x{h}_{fname.lower()}"
                write(f"resized/{name}.rgb", out.tobytes())
                index["resizes"].append(
                    {"src": src, "filter": fname, "width": w, "height": h, "rgb": f"resized/{name}.rgb"}
                )

    # --- normalised NCHW float32 -----------------------------------------
    def normalize(rgb, scale, mean, std):
        x = np.asarray(rgb, dtype=np.uint8).astype(np.float32)
        x = x * np.float32(scale)
        x = (x - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype="<f4")

    def center_crop(img, w, h):
        # Hugging Face image_transforms.center_crop for a crop inside the image.
        top, left = (img.height - h) // 2, (img.width - w) // 2
        assert top >= 0 and left >= 0
        return img.crop((left, top, left + w, top + h))

    imagenet = dict(scale=1 / 255, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    clip = dict(scale=1 / 255, mean=[0.48145466, 0.4578275, 0.40821073], std=[0.26862954, 0.26130258, 0.27577711])

    def add_norm(name, src, steps, rgb_img, params):
        # the uint8 input of the normalisation is stored too
        write(f"normalized/{name}.rgb", rgb_img.tobytes())
        arr = normalize(rgb_img, **params)
        write(f"normalized/{name}.f32", arr.tobytes())
        index["normalized"].append(
            {
                "name": name,
                "src": src,
                "steps": steps,
                "input_rgb": f"normalized/{name}.rgb",
                "input_hwc": [rgb_img.height, rgb_img.width, 3],
                "scale": params["scale"],
                "mean": params["mean"],
                "std": params["std"],
                "shape": list(arr.shape),
                "f32": f"normalized/{name}.f32",
            }
        )

    # ViT-style: resize to a fixed size (BILINEAR), ImageNet mean/std.
    src = sources["jpeg_420_300x200"]
    add_norm("vit_64x64", "jpeg_420_300x200", ["resize 64x64 BILINEAR", "rescale 1/255", "normalize imagenet"],
             src.resize((64, 64), Image.Resampling.BILINEAR), imagenet)
    # CLIP-style: shortest edge 48 (BICUBIC) then center crop 48x48.
    s = 48
    w, h = src.size
    nw, nh = (s, int(s * h / w)) if w <= h else (int(s * w / h), s)
    resized = src.resize((nw, nh), Image.Resampling.BICUBIC)
    add_norm("clip_48", "jpeg_420_300x200",
             [f"shortest_edge {s} -> {nw}x{nh} BICUBIC", f"center_crop {s}x{s}", "rescale 1/255", "normalize clip"],
             center_crop(resized, s, s), clip)
    add_norm("raw_37x23", "png_rgb_37x23", ["none", "normalize 0.5/0.5"], sources["png_rgb_37x23"],
             dict(scale=1 / 255, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]))

    with open(os.path.join(HERE, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    total = 0
    for root, _, files in os.walk(HERE):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    print(f"Pillow {PIL.__version__}, numpy {np.__version__}: {total} bytes in testdata", file=sys.stderr)


if __name__ == "__main__":
    main()
