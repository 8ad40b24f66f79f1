#!/usr/bin/env python3
"""Writes the reference vectors convsim-core's tests compare against.

Run with the peers' venv (numpy, scipy, opencv):

    ~/.cache/convsim-peers/bin/python scripts/core_reference_vectors.py

It writes small JSON files to crates/convsim-core/tests/data/ (committed; the tests never run
Python). Every random array comes from numpy's default_rng with a fixed seed, so rerunning the
script reproduces the files byte for byte (for the same numpy/scipy/OpenCV versions, which are
recorded in each file).

Arrays are stored as {"shape": [h, w], "data": [row-major values]}. Floats are written with
Python's repr, which round-trips f64 exactly.

Library names map onto convsim's boundary names as in DESIGN.md:
  numpy.pad      constant / edge / reflect / symmetric / wrap
  scipy.ndimage  constant / nearest / mirror / reflect / wrap
  OpenCV         BORDER_CONSTANT / BORDER_REFLECT_101
"""

import json
import pathlib

import cv2
import numpy as np
import scipy
import scipy.ndimage as ndi

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "convsim-core" / "tests" / "data"

VERSIONS = {"numpy": np.__version__, "scipy": scipy.__version__, "opencv": cv2.__version__}


def arr(a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    return {"shape": list(a.shape), "data": [float(v) for v in a.ravel()]}


def write(name, payload):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    print(f"{path}: {path.stat().st_size} bytes, {len(payload['cases'])} cases")


# numpy.pad name -> convsim name (DESIGN.md table).
NUMPY_MODES = {
    "constant": "zero",
    "edge": "replicate",
    "reflect": "mirror",
    "symmetric": "symmetric",
    "wrap": "periodic",
}


def pad_cases():
    """numpy.pad of 1D sequences (as 1-row arrays, padded along x only) and of 2D arrays."""
    cases = []
    # 1D: lengths 1, 2, 3, 4, 5 and widths up to well beyond the data (several periods).
    for n in [1, 2, 3, 4, 5]:
        data = np.arange(1, n + 1, dtype=np.float64)
        for lo, hi in [(2, 2), (0, 3), (n, n + 1), (3 * n + 1, 2 * n + 3), (11, 7)]:
            for np_mode, cs_mode in NUMPY_MODES.items():
                out = np.pad(data, (lo, hi), mode=np_mode)
                cases.append(
                    {
                        "numpy_mode": np_mode,
                        "convsim": cs_mode,
                        "input": arr(data),
                        "widths": [[0, 0], [lo, hi]],
                        "output": arr(out),
                    }
                )
    # Constant with a non-zero value.
    data = np.arange(1, 5, dtype=np.float64)
    out = np.pad(data, (3, 6), mode="constant", constant_values=1.5)
    cases.append(
        {
            "numpy_mode": "constant",
            "convsim": "constant:1.5",
            "input": arr(data),
            "widths": [[0, 0], [3, 6]],
            "output": arr(out),
        }
    )
    # 2D: different widths per side, wider than the data on some sides (corners included).
    rng = np.random.default_rng(20240601)
    for shape, widths in [((3, 4), ((2, 5), (7, 1))), ((1, 3), ((2, 2), (4, 4))), ((5, 2), ((0, 6), (3, 9)))]:
        data = rng.standard_normal(shape)
        for np_mode, cs_mode in NUMPY_MODES.items():
            out = np.pad(data, widths, mode=np_mode)
            cases.append(
                {
                    "numpy_mode": np_mode,
                    "convsim": cs_mode,
                    "input": arr(data),
                    "widths": [list(w) for w in widths],
                    "output": arr(out),
                }
            )
    return cases


# scipy.ndimage name -> convsim name.
NDIMAGE_MODES = {
    "constant": "zero",
    "nearest": "replicate",
    "mirror": "mirror",
    "reflect": "symmetric",
    "wrap": "periodic",
}


def ndimage_cases():
    """scipy.ndimage.correlate / convolve, output the size of the input (convsim `Same`)."""
    rng = np.random.default_rng(777)
    cases = []
    # (image shape, kernel shape): odd, even, mixed, 1-wide, and a kernel larger than the image.
    combos = [
        ((6, 7), (3, 3)),
        ((5, 8), (4, 4)),
        ((7, 5), (2, 5)),
        ((4, 4), (5, 1)),
        ((1, 6), (3, 2)),
        ((3, 2), (7, 6)),
        ((2, 3), (4, 5)),
    ]
    for shape, kshape in combos:
        img = rng.standard_normal(shape)
        ker = rng.standard_normal(kshape)
        for fn in ["correlate", "convolve"]:
            f = getattr(ndi, fn)
            for nd_mode, cs_mode in NDIMAGE_MODES.items():
                out = f(img, ker, mode=nd_mode, cval=0.0)
                cases.append(
                    {
                        "function": fn,
                        "scipy_mode": nd_mode,
                        "convsim": cs_mode,
                        "input": arr(img),
                        "kernel": arr(ker),
                        "output": arr(out),
                    }
                )
        # A non-zero constant.
        out = ndi.correlate(img, ker, mode="constant", cval=-0.75)
        cases.append(
            {
                "function": "correlate",
                "scipy_mode": "constant",
                "convsim": "constant:-0.75",
                "input": arr(img),
                "kernel": arr(ker),
                "output": arr(out),
            }
        )
    return cases


OPENCV_MODES = {"BORDER_REFLECT_101": ("mirror", cv2.BORDER_REFLECT_101), "BORDER_CONSTANT": ("zero", cv2.BORDER_CONSTANT)}


def opencv_cases():
    """cv2.filter2D (a correlation anchored at k // 2) on float64 images.

    Kernels stay at most 5x5 so OpenCV uses its direct path (its DFT path for large kernels is
    not exact to 1e-12)."""
    rng = np.random.default_rng(4242)
    cases = []
    combos = [((6, 7), (3, 3)), ((5, 9), (4, 4)), ((8, 5), (5, 2)), ((2, 3), (5, 5)), ((1, 4), (3, 3))]
    for shape, kshape in combos:
        img = rng.standard_normal(shape)
        ker = rng.standard_normal(kshape)
        for cv_name, (cs_mode, flag) in OPENCV_MODES.items():
            out = cv2.filter2D(img, -1, ker, anchor=(-1, -1), delta=0, borderType=flag)
            cases.append(
                {
                    "opencv_border": cv_name,
                    "convsim": cs_mode,
                    "input": arr(img),
                    "kernel": arr(ker),
                    "output": arr(out),
                }
            )
    return cases


def main():
    write("numpy_pad.json", {"versions": VERSIONS, "cases": pad_cases()})
    write("scipy_ndimage.json", {"versions": VERSIONS, "cases": ndimage_cases()})
    write("opencv_filter2d.json", {"versions": VERSIONS, "cases": opencv_cases()})


if __name__ == "__main__":
    main()
