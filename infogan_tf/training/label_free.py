"""The label-free check of a run: do Q's categories of real images survive stronger moves than training made?

Training asks Q's categories of a real image and of a slightly moved copy
to agree (``model.losses.paired_categorical_information``, views of up to
15 degrees, 10 % scale, 2 px shift: ``data.augment.AffineRange``; the
``fashion_mnist`` preset rescales by up to 40 %, so there only the check's
rotations and shifts go beyond training's). A run
whose categories mean the class keeps them when the image is moved further;
a run that split a class by style (MNIST: two categories each holding half
the 4s and half the 9s, split by slant) does not, because rotating an image
changes its slant but not its digit. The check measures, with no labels,
how far Q's categories are kept under stronger views: rotations of up to 25
degrees (the range IIC trains with, Ji et al. 2019, Sec. 4), 15 % scale and
3 px shifts. For each categorical code, averaged over independent moved
copies of every image:

* ``agreement`` -- the fraction of images whose most likely category is
  the same for the image and its moved copy;
* ``paired_information`` -- I(c; c') in nats between Q's category of the
  image and of its copy (the training term's estimator), and
  ``normalised_information``, the same over ln K;
* ``marginal_entropy`` -- H(E_x Q(c|x)) / ln K, how evenly the images use
  the categories (1 = equally).

Every summary step the trainer runs it on a fixed sample of training images
(:func:`check_sample`) and logs ``view_agreement`` and ``view_information``
of the first code to ``metrics.jsonl`` and TensorBoard;
``infogan-evaluate`` runs :func:`view_consistency` on the held-out images
(``evaluation.evaluate``; this module is the metric's one home, in the
lowest layer that uses it). How well it predicts the
labelled accuracy on this project's own runs: ``experiments/results/README.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from infogan_tf.data.pipeline import StreamedImages

STRONG_VIEWS = (25.0, 0.15, 3.0)  # degrees, relative scale, pixels (data.augment.AffineRange fields)
CHECK_IMAGES = 1000  # training images the trainer's check looks at (a fixed sample)
CHECK_VIEWS = 2  # moved copies of each, in training
_VIEW_STREAM, _SAMPLE_SEED = 0x71E, 0x1AB

# images [N, H, W, C] in [0, 1] -> one [N, K_i] probability array per categorical code.
CategoricalEncoder = Callable[[np.ndarray], Sequence[np.ndarray]]


def moved_copies(images: np.ndarray, seed: int, view: int, batch_size: int, limits=STRONG_VIEWS) -> np.ndarray:
    """Each image of [N, H, W, C] in [0, 1] moved by its own random affine map (deterministic in seed and view)."""
    import tensorflow as tf

    from infogan_tf.data.augment import AffineRange, random_affine

    out = []
    for k, start in enumerate(range(0, len(images), batch_size)):
        chunk_seed = tf.constant([seed, (_VIEW_STREAM << 20) + (view << 12) + k], tf.int64)
        # Background is 0 in [0, 1] (-1 in the network's range, the training views' fill).
        out.append(random_affine(images[start : start + batch_size], chunk_seed, AffineRange(*limits), 0.0).numpy())
    return np.concatenate(out)


def paired_information(p: np.ndarray, q: np.ndarray) -> float:
    """I(c; c') in nats between two [N, K] probability arrays: the training term's estimator (``model.losses``)."""
    from infogan_tf.model.losses import paired_categorical_information

    logits = [np.log(np.maximum(np.asarray(a, np.float32), 1e-12)) for a in (p, q)]
    return float(paired_categorical_information([logits[0]], [logits[1]]))


def code_consistency(base: np.ndarray, moved: list[np.ndarray]) -> dict:
    """The four scores of one code from Q's probabilities on the images ([N, K]) and on each set of copies."""
    k = base.shape[1]
    agreement = [float(np.mean(np.argmax(base, 1) == np.argmax(m, 1))) for m in moved]
    information = [paired_information(base, m) for m in moved]
    marginal = np.mean(base, axis=0)
    return {
        "agreement": float(np.mean(agreement)),
        "paired_information": float(np.mean(information)),
        "normalised_information": float(np.mean(information)) / math.log(k),
        "marginal_entropy": float(-np.sum(marginal * np.log(marginal + 1e-12)) / math.log(k)),
    }


def view_consistency(
    encode: CategoricalEncoder,
    images: np.ndarray,
    batch_size: int,
    seed: int,
    views: int,
    base: Sequence[np.ndarray] | None = None,
) -> dict:
    """The scores of every categorical code on ``images`` ([N, H, W, C] in [0, 1]).

    ``base``: ``encode(images)`` when the caller already has it (not computed again).

    Returns ``{"codes": [per-code dict], "views": views, "limits": {...}}``;
    ``codes`` is empty for a model without categorical codes.
    """
    if views < 1:
        raise ValueError(f"views must be >= 1, got {views}")

    def probabilities(x: np.ndarray) -> list[np.ndarray]:
        parts = [list(encode(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        return [np.concatenate([p[c] for p in parts]) for c in range(len(parts[0]))]

    base = list(base) if base is not None else probabilities(images)
    moved = [probabilities(moved_copies(images, seed, v, batch_size)) for v in range(views)]
    codes = [code_consistency(base[i], [m[i] for m in moved]) for i in range(len(base))]
    degrees, scale, shift = STRONG_VIEWS
    return {"codes": codes, "views": views, "limits": {"degrees": degrees, "scale": scale, "shift_px": shift}}


def check_sample(images: np.ndarray | StreamedImages, seed: int) -> np.ndarray | None:
    """A fixed sample of up to CHECK_IMAGES training images, uint8 [N, H, W, C] (None: no images to look at)."""
    if len(images) == 0:
        return None
    rng = np.random.default_rng([seed, _SAMPLE_SEED])
    chosen = np.sort(rng.permutation(len(images))[:CHECK_IMAGES])
    if isinstance(images, StreamedImages):
        from infogan_tf.data.decode import decode_files

        decoded = decode_files([images.paths[i] for i in chosen], images.shape, keep=True).images
        return decoded if decoded is not None and len(decoded) else None
    return np.asarray(images[chosen])


class RunCheck:
    """The check the trainer logs: calling it scores the live networks on a fixed sample of the training images.

    The sample and the encoder (one trace for the run) are made at the first call.
    """

    def __init__(self, images: np.ndarray | StreamedImages, discriminator, seed: int):
        self._images, self._discriminator, self._seed = images, discriminator, seed
        self._ready: tuple | None = None

    def __call__(self) -> dict[str, float]:
        """``view_agreement`` and ``view_information`` of the first categorical code ({} without one or images)."""
        if self._ready is None:
            self._ready = (check_sample(self._images, self._seed), categorical_encoder(self._discriminator))
        sample, encode = self._ready
        return {} if sample is None else view_check(encode, sample, self._seed)


def categorical_encoder(discriminator) -> CategoricalEncoder:
    """Q's category probabilities of images in [0, 1], from the live network (one trace for the run)."""
    import tensorflow as tf

    from infogan_tf.data.pixels import unit_to_model_range

    @tf.function(input_signature=[tf.TensorSpec([None, *discriminator.model_config.image_shape], tf.float32)])
    def probabilities(images):
        out = discriminator(unit_to_model_range(images), training=False)
        return [tf.nn.softmax(logits) for logits in out.categorical_logits]

    return lambda images: [p.numpy() for p in probabilities(np.asarray(images, np.float32))]


def view_check(encode: CategoricalEncoder, sample: np.ndarray, seed: int) -> dict[str, float]:
    """``view_agreement`` and ``view_information`` of the first categorical code on a uint8 sample ({} without one)."""
    from infogan_tf.data.pixels import uint8_to_unit

    codes = view_consistency(encode, uint8_to_unit(sample), 500, seed, CHECK_VIEWS)["codes"]
    return (
        {"view_agreement": codes[0]["agreement"], "view_information": codes[0]["normalised_information"]}
        if codes
        else {}
    )
