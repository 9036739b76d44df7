"""An exported InfoGAN inside a Keras 3 model: ``keras.layers.TFSMLayer`` on its one-dict functions.

    python examples/keras_layer.py --saved_model=export/models/example

The export's ``generate`` and ``encode`` functions take one dict of named
inputs (``serving.signatures``), the form ``TFSMLayer`` passes, so G and Q
become layers: here one functional model maps codes to images (G) and reads
the images back (Q), a round trip whose categories should come back as the
ones asked for once the model is trained. Only the latent layout comes from
infogan_tf (``ig.load``); the layers need nothing but the SavedModel.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import keras
import numpy as np

import infogan_tf as ig


def round_trip(model: ig.Model) -> keras.Model:
    """A Keras model: {z, categorical, continuous} -> {images, categorical_probs} through the export's G and Q."""
    lat = model.latent
    inputs = {
        "z": keras.Input([lat.noise_dim], name="z"),
        "categorical": keras.Input([lat.n_categorical], dtype="int32", name="categorical"),
        "continuous": keras.Input([lat.continuous], name="continuous"),
    }
    images = keras.layers.TFSMLayer(model.path, call_endpoint="generate")(inputs)["images"]
    probs = keras.layers.TFSMLayer(model.path, call_endpoint="encode")({"images": images})["categorical_probs"]
    return keras.Model(inputs, {"images": images, "categorical_probs": probs})


def main(argv: Sequence[str] | None = None) -> dict:
    """Builds the round trip and runs it on --num codes; returns the codes and its outputs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saved_model", required=True, help="an export (its base or version directory)")
    parser.add_argument("--num", type=int, default=10)
    args = parser.parse_args(argv)

    model = ig.load(args.saved_model)  # the layout, and a base directory resolved to its latest version
    lat, rng = model.latent, np.random.default_rng(0)
    codes = {
        "z": rng.uniform(-1, 1, (args.num, lat.noise_dim)).astype(np.float32),
        "categorical": np.stack([np.arange(args.num) % k for k in lat.categorical], axis=1).astype(np.int32)
        if lat.categorical
        else np.zeros([args.num, 0], np.int32),
        "continuous": np.zeros([args.num, lat.continuous], np.float32),
    }
    out = round_trip(model).predict(codes, verbose=0)
    print(f"images {out['images'].shape}, Q's categorical probabilities {out['categorical_probs'].shape}")
    return {"codes": codes, **out}


if __name__ == "__main__":
    main()
