"""Training and evaluation images: TFDS preparation and loading, the input pipeline, pixel ranges, augmentation."""
