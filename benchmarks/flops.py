"""Floating-point work of one InfoGAN train step and one generator call, counted from the layer shapes.

Only the convolution, transposed-convolution and fully connected layers are
counted (multiply-accumulates, MACs; 1 MAC = 2 FLOPs). Batch normalisation,
activations, losses and the optimiser updates are elementwise and left out:
this is the "conv/matmul work" whose rate is compared with the machine's
fp32 GEMM peak. Biases are left out too.

Layers are those of ``infogan_tf.model.networks``, sized by
``infogan_tf.architecture.network_plan`` (the paper's Table 1 for MNIST,
Chen et al. 2016, App. C; its other tables through the presets). Per example, with ``m(layer)`` = forward MACs:

  dense  in -> out                      m = in * out
  conv   k x k, stride s, Cin -> Cout   m = Hout * Wout * k * k * Cin * Cout
  upconv k x k, stride s, Cin -> Cout   m = Hin * Win * k * k * Cin * Cout
                                          (the conv it is the transpose of)

and ``G = sum m`` over the generator's layers, ``D = sum m`` over the
discriminator's trunk, D head and Q head.

The joint update (``--update=joint`` of ``infogan_tf.training.step.InfoGANStep``) is a simultaneous update from one
forward pass: G runs on B codes, D on the 2B images [real; fake]; D/Q's
gradients come from d_loss, G's from g_loss through D. Every layer's backward
pass costs one MAC set for its weight gradient and one for its input gradient,
each equal to its forward MACs, and only what reaches the variables is run
(TF prunes the rest of the function body):

  forward                       B * G                + 2B * D
  d_loss -> D/Q variables       2B * D  (weight grads)
                                + 2B * (D - conv1)   (input grads; conv1's input is the images)
  g_loss -> G variables         2B * D  (input grads through D, weights not needed)
                                + B * G (weight grads)
                                + B * (G - fc1)      (input grads; fc1's input is (z, c);
                                                      fc1 is fc2 when G has no first FC)

  MACs per step = 3 B G - B fc1 + 8 B D - 2 B conv1,   FLOPs = 2 * MACs.

One ``serving_default`` call on a batch of B is ``2 * B * G`` FLOPs, and it
reads every generator weight once (``generator_weight_bytes``): at batch 1
that read, not the arithmetic, bounds the latency.

``benchmarks.benchmark`` cross-checks this count against the MatMul and
Conv2D* ops of the traced train step that the step actually runs.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

from typing import NamedTuple

from infogan_tf.architecture import ModelConfig, network_plan
from infogan_tf.latent import LatentSpec


class LayerWork(NamedTuple):
    """Forward multiply-accumulates of one layer for one example."""

    network: str  # "generator" or "discriminator"
    name: str  # the Keras layer name in infogan_tf.model.networks
    macs: int


class StepWork(NamedTuple):
    """FLOPs of one train step and of one generator call.

    Attributes:
      layers: forward MACs per example of every counted layer.
      generator_macs: G, forward MACs per example.
      discriminator_macs: D (trunk + D head + Q head), forward MACs per example.
      batch_size: the global batch B of the step.
      train_step_flops: conv/matmul FLOPs of one train step (formula above).
      generator_flops_per_image: FLOPs of one image through serving_default.
      generator_weight_bytes: float32 bytes of G's weights (kernels, biases,
        batch-norm scale/offset/moving mean/variance), read by every call.
    """

    layers: tuple[LayerWork, ...]
    generator_macs: int
    discriminator_macs: int
    batch_size: int
    train_step_flops: int
    generator_flops_per_image: int
    generator_weight_bytes: int

    def to_dict(self) -> dict:
        return {
            "layers_forward_macs_per_example": {f"{layer.network}/{layer.name}": layer.macs for layer in self.layers},
            "generator_forward_macs_per_example": self.generator_macs,
            "discriminator_forward_macs_per_example": self.discriminator_macs,
            "batch_size": self.batch_size,
            "train_step_flops": self.train_step_flops,
            "train_step_gflops": self.train_step_flops / 1e9,
            "generator_flops_per_image": self.generator_flops_per_image,
            "generator_weight_bytes": self.generator_weight_bytes,
            "formula": "FLOPs/step = 2 * (3*B*G - B*fc1 + 8*B*D - 2*B*conv1), MACs per example; "
            "serving = 2*B*G (see benchmarks.flops)",
        }


_KERNEL = 4  # every (up)convolution of the paper's networks is 4x4


def layer_work(latent: LatentSpec, model: ModelConfig) -> tuple[LayerWork, ...]:
    """Forward MACs per example of every conv/upconv/dense layer of G and D (sized by ``network_plan``)."""
    plan = network_plan(model)
    h, w, ch = model.image_shape
    k2 = _KERNEL * _KERNEL
    inputs = latent.noise_dim + latent.code_dim
    gh, gw = plan.grid
    g = []
    if model.g_fc_units:
        g.append(("fc1", inputs * model.g_fc_units))
    g.append(("fc2", (model.g_fc_units or inputs) * gh * gw * model.g_filters[0]))
    channels = (*model.g_filters, ch)
    for i, stride in enumerate(plan.g_strides):
        g.append((f"upconv{i + 1}", gh * gw * k2 * channels[i] * channels[i + 1]))  # at its input's size
        gh, gw = gh * stride, gw * stride
    d = []
    dh, dw, c_in = h, w, ch
    for i, (filters, stride) in enumerate(zip(model.d_filters, plan.d_strides)):
        dh, dw = -(-dh // stride), -(-dw // stride)
        d.append((f"conv{i + 1}", dh * dw * k2 * c_in * filters))
        c_in = filters
    features = dh * dw * c_in
    if model.d_fc_units:
        d.append(("fc", features * model.d_fc_units))
        features = model.d_fc_units
    d.append(("d_head", features * 1))
    q_in = features
    if model.q_fc_units:
        d.append(("q_fc", features * model.q_fc_units))
        q_in = model.q_fc_units
    if latent.categorical:
        d.append(("q_categorical", q_in * latent.categorical_dim))
    if latent.continuous:
        d.append(("q_mean", q_in * latent.continuous))
        if model.continuous_std == "learned":
            d.append(("q_log_std", q_in * latent.continuous))
    return tuple(LayerWork("generator", n, m) for n, m in g) + tuple(LayerWork("discriminator", n, m) for n, m in d)


def generator_weight_bytes(latent: LatentSpec, model: ModelConfig) -> int:
    """float32 bytes of every generator variable (as infogan_tf.model.networks builds them)."""
    plan = network_plan(model)
    ch = model.image_shape[2]
    inputs = latent.noise_dim + latent.code_dim
    grid_units = plan.grid[0] * plan.grid[1] * model.g_filters[0]
    kernels = inputs * model.g_fc_units + (model.g_fc_units or inputs) * grid_units
    normalised = [model.g_fc_units, grid_units] if model.g_fc_units else [grid_units]
    hidden = len(model.g_filters) - 1
    bn_upconvs = hidden if model.g_upconv_batchnorm < 0 else model.g_upconv_batchnorm
    channels = (*model.g_filters, ch)
    biases = ch  # the last upconvolution's; a layer that batch norm follows has none
    for i in range(len(model.g_filters)):
        kernels += _KERNEL * _KERNEL * channels[i] * channels[i + 1]
        if i < bn_upconvs:
            normalised.append(channels[i + 1])
        elif i < hidden:
            biases += channels[i + 1]
    batch_norm = 4 * sum(normalised)  # gamma, beta, moving mean and variance
    return 4 * (kernels + biases + batch_norm)


def step_work(latent: LatentSpec, model: ModelConfig, batch_size: int) -> StepWork:
    """The train-step and serving FLOPs of this architecture at global batch ``batch_size``."""
    layers = layer_work(latent, model)
    by_name = {(layer.network, layer.name): layer.macs for layer in layers}
    g = sum(layer.macs for layer in layers if layer.network == "generator")
    d = sum(layer.macs for layer in layers if layer.network == "discriminator")
    b = batch_size
    first = by_name["generator", "fc1" if model.g_fc_units else "fc2"]
    macs = 3 * b * g - b * first + 8 * b * d - 2 * b * by_name["discriminator", "conv1"]
    return StepWork(
        layers=layers,
        generator_macs=g,
        discriminator_macs=d,
        batch_size=b,
        train_step_flops=2 * macs,
        generator_flops_per_image=2 * g,
        generator_weight_bytes=generator_weight_bytes(latent, model),
    )
