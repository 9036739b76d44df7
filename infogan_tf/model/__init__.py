"""The InfoGAN networks (generator, shared-trunk discriminator with D and Q heads) and the pure losses."""
