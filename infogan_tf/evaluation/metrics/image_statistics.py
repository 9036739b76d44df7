"""Simple shape statistics of digit images, from image moments.

Used to name what a continuous code controls (Chen et al. 2016, Figure 2:
on MNIST one code rotates/slants the digit, another changes its width). The
pixel intensities are treated as a mass distribution over the plane, with x
to the right and y **up** (so a digit leaning right, like '/', has a positive
slant):

* ``slant``: the shear angle in degrees, atan(cov(x, y) / var(y)) -- the
  angle by which the digit's axis leans from vertical (the quantity MNIST
  deskewing removes);
* ``width``: the horizontal spread after removing that shear,
  sqrt(var(x) - cov(x, y)^2 / var(y)), in pixels (a standard deviation, so a
  uniform band of width w scores w / sqrt(12));
* ``height``: the vertical spread sqrt(var(y)), in pixels;
* ``thickness``: stroke thickness ~ 2 * ink area / outline length, with the
  area the sum of intensities and the outline the total variation (sum of
  gradient magnitudes); a stroke of length L and thickness t (L >> t) has
  outline ~ 2 L, so the ratio is ~ t pixels. It needs no skeleton;
* ``ink``: mean intensity (the fraction of the image covered by ink).

All are differentiable-ish functions of grey levels, so they move smoothly as
a code is swept. Blank images give NaN for the moment-based statistics.
"""

from __future__ import annotations

import numpy as np

STATISTICS = ("slant", "width", "height", "thickness", "ink")


def _grey(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, np.float64)
    if images.ndim == 4:
        images = images.mean(axis=-1)
    if images.ndim != 3:
        raise ValueError(f"images must be [N, H, W] or [N, H, W, C], got shape {images.shape}")
    return np.clip(images, 0.0, None)


def image_statistics(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image statistics of [N, H, W(, C)] images in [0, 1].

    Returns:
      dict name -> float64 [N] for every name in ``STATISTICS``.
    """
    grey = _grey(images)
    _n, h, w = grey.shape
    mass = grey.sum(axis=(1, 2))
    safe_mass = np.where(mass > 0, mass, np.nan)
    xs = np.arange(w, dtype=np.float64)[None, None, :]
    ys = (h - 1 - np.arange(h, dtype=np.float64))[None, :, None]  # y up
    mean_x = (grey * xs).sum(axis=(1, 2)) / safe_mass
    mean_y = (grey * ys).sum(axis=(1, 2)) / safe_mass
    dx = xs - mean_x[:, None, None]
    dy = ys - mean_y[:, None, None]
    var_x = (grey * dx * dx).sum(axis=(1, 2)) / safe_mass
    var_y = (grey * dy * dy).sum(axis=(1, 2)) / safe_mass
    cov = (grey * dx * dy).sum(axis=(1, 2)) / safe_mass
    safe_var_y = np.where(var_y > 0, var_y, np.nan)
    shear = cov / safe_var_y
    width = np.sqrt(np.clip(var_x - cov * shear, 0.0, None))

    # Outline length as the total variation, with a zero border so the edge
    # of ink touching the frame still counts.
    padded = np.pad(grey, ((0, 0), (1, 1), (1, 1)))
    gx = padded[:, 1:, 1:] - padded[:, 1:, :-1]
    gy = padded[:, 1:, 1:] - padded[:, :-1, 1:]
    outline = np.sqrt(gx * gx + gy * gy).sum(axis=(1, 2))
    thickness = 2.0 * mass / np.where(outline > 0, outline, np.nan)
    return {
        "slant": np.degrees(np.arctan(shear)),
        "width": width,
        "height": np.sqrt(var_y),
        "thickness": thickness,
        "ink": mass / float(h * w),
    }
