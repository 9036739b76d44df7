"""Presets: a base configuration per experiment, which the flags given explicitly then override.

``mnist`` is the default TrainConfig (the paper's MNIST networks and codes,
Chen et al. 2016, App. C Table 1, with this project's reproduction settings,
among them the real-image term's upright views: a digit's slant is not its
class). Every other preset, and other data trained without a preset
(``cli.train``), starts from :func:`other_images`, which keeps the views'
slant. The paper's other experiments (Sec. 5, App. C Tables 2-5) are written here as
the layer description of ``infogan_tf.architecture.ModelConfig``; each
docstring gives the table it follows. Optimisation and runtime settings stay
the project's (the paper's Adam settings are already the default).
Nothing here imports TensorFlow.

The 3D-faces and 3D-chairs renderings are not TFDS datasets: those presets
set the networks, codes and image size, and take their images from a folder.
"""

from __future__ import annotations

import dataclasses

from infogan_tf.config import ModelConfig, TrainConfig
from infogan_tf.latent import LatentSpec

# App. C Tables 2 and 3 (SVHN, CelebA), the same networks for both:
#   D/Q: 4x4 conv 64 lReLU s2 -> 4x4 conv 128 lReLU s2 BN -> 4x4 conv 256 lReLU s2 BN
#        -> D: FC output; Q: FC 128 BN lReLU -> FC output (no FC 1024 in the trunk)
#   G:   FC 2x2x448 ReLU BN -> 4x4 upconv 256 ReLU s2 BN -> 4x4 upconv 128 ReLU s2
#        -> 4x4 upconv 64 ReLU s2 -> 4x4 upconv 3 tanh s2 (only the first upconv normalised)
_TABLES_2_3 = {
    "g_fc_units": 0,
    "g_filters": (448, 256, 128, 64),
    "g_upconv_batchnorm": 1,
    "d_filters": (64, 128, 256),
    "d_fc_units": 0,
    "q_fc_units": 128,
}


def other_images(base: TrainConfig) -> TrainConfig:
    """``base`` for images other than MNIST's digits: the real-image term's copies keep their slant.

    Deskewing (``--real_info_view=deskewed``) removes each copy's ink slant
    (LeCun et al. 1998's deskewed MNIST), a style that MNIST's classes do not
    depend on. For clothes, faces or photos the slant of their intensity can
    be part of what the image shows, and on a background that is not dark
    (SVHN, photos) it is not the object's at all: they get the plain affine
    copies, the setting measured on Fashion-MNIST.
    """
    return dataclasses.replace(base, real_info=dataclasses.replace(base.real_info, real_info_view="affine"))


def _model(base: TrainConfig, image_shape: tuple[int, int, int], **layers) -> ModelConfig:
    return dataclasses.replace(base.model, image_shape=image_shape, **layers)


def svhn_preset(base: TrainConfig) -> TrainConfig:
    """32x32x3 street-view digits (Sec. 5.4, App. C Table 2).

    Codes: four 10-way categorical codes and four continuous codes with 124
    noise variables (G's input is R^168 in Table 2).
    """
    base = other_images(base)
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, dataset="svhn_cropped"),
        model=_model(base, (32, 32, 3), **_TABLES_2_3),
        latent=LatentSpec(noise_dim=124, categorical=(10,) * 4, continuous=4),
    )


def celeba_preset(base: TrainConfig) -> TrainConfig:
    """CelebA faces at 32x32x3 (Sec. 5.4, App. C Table 3; the TFDS name is ``celeb_a``).

    Codes: ten 10-way categorical codes and 128 noise variables (G's input is
    R^228); no continuous code.
    """
    base = other_images(base)
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, dataset="celeb_a"),
        model=_model(base, (32, 32, 3), **_TABLES_2_3),
        latent=LatentSpec(noise_dim=128, categorical=(10,) * 10, continuous=0),
    )


def faces_preset(base: TrainConfig) -> TrainConfig:
    """Rendered 3D faces at 32x32x1 (Sec. 5.3, App. C Table 4); images from a folder.

    Table 4: D/Q: 4x4 conv 64 lReLU s2 -> 4x4 conv 128 lReLU s2 BN -> FC 1024
    lReLU BN -> FC output; G: FC 1024 ReLU BN -> FC 8x8x128 ReLU BN -> 4x4
    upconv 64 ReLU s2 BN -> 4x4 upconv 1 s2 (the MNIST networks at 32 px).
    Codes: five continuous codes Unif(-1, 1) (pose, elevation, lighting,
    width, ...), no categorical code, 128 noise variables.
    """
    base = other_images(base)
    return dataclasses.replace(
        base,
        model=_model(base, (32, 32, 1), g_filters=(128, 64), d_filters=(64, 128), d_fc_units=1024),
        latent=LatentSpec(noise_dim=128, categorical=(), continuous=5),
    )


def chairs_preset(base: TrainConfig) -> TrainConfig:
    """Rendered 3D chairs at 64x64x1 (Sec. 5.3, App. C Table 5); images from a folder.

    Table 5: D/Q: 4x4 conv 64 lReLU s2 -> 4x4 conv 128 s2 BN -> 4x4 conv 256
    s2 BN -> 4x4 conv 256 BN -> 4x4 conv 256 BN -> FC 1024 lReLU BN -> FC
    output; G: FC 1024 ReLU BN -> FC 8x8x256 ReLU BN -> 4x4 upconv 256 BN ->
    4x4 upconv 256 BN -> 4x4 upconv 128 s2 BN -> 4x4 upconv 64 s2 BN -> 4x4
    upconv 1 s2 (the stride-1 layers first: G starts from an 8x8 grid).
    Codes: three 20-way categorical codes and one continuous code (rotation
    or width, Fig. 4), 128 noise variables.
    """
    base = other_images(base)
    return dataclasses.replace(
        base,
        model=_model(
            base,
            (64, 64, 1),
            g_filters=(256, 256, 256, 128, 64),
            g_grid=8,
            d_filters=(64, 128, 256, 256, 256),
            d_fc_units=1024,
        ),
        latent=LatentSpec(noise_dim=128, categorical=(20,) * 3, continuous=1),
    )


def fashion_mnist_preset(base: TrainConfig) -> TrainConfig:
    """Zalando's 28x28x1 clothing images with the MNIST networks and codes.

    The real-image term's copies have their ink levelled to one brightness
    (``--real_info_level_ink``): without it Q's categories split T-shirts,
    pullovers, shirts and dresses into dark and light ones. They are also
    rescaled by up to 40 % (``--real_info_scale=0.4``, 10 % elsewhere), so
    a split of footwear or bags by size costs information (measured: 25 % in
    float32, then 40 % in bfloat16). And the term weights its categories'
    marginal entropy twice (``--real_info_balance=2``, IIC's lambda; 1
    elsewhere), so a category that merges shoes of three kinds while another
    holds a sliver costs information (the tables: experiments/results/README.md,
    Fashion-MNIST in bfloat16).
    """
    base = other_images(base)
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, dataset="fashion_mnist"),
        real_info=dataclasses.replace(
            base.real_info, real_info_level_ink=True, real_info_scale=0.4, real_info_balance=2.0
        ),
    )


PRESETS = {
    "mnist": lambda base: base,
    "fashion_mnist": fashion_mnist_preset,
    "svhn": svhn_preset,
    "celeba": celeba_preset,
    "faces": faces_preset,
    "chairs": chairs_preset,
}
