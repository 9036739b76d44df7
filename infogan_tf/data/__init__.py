"""Training and evaluation images: TFDS datasets and image folders (``data.source``), decoding, the pipeline, pixels."""
