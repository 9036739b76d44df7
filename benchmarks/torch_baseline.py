"""OPTIONAL: the infogan_tf train step in PyTorch, as a PyTorch user would run it, for speed comparison only.

The same networks as ``infogan_tf.model.networks`` (the paper's MNIST architecture,
Chen et al. 2016, App. C, Table 1; sizes read from infogan_tf's default
ModelConfig/LatentSpec) and the same update as ``infogan_tf.training.step.InfoGANStep``: one
forward pass (G on B codes, D/Q on [real; fake]), D/Q gradients from
d_loss = V_D + lambda*MI and G gradients from g_loss = V_G(non-saturating) +
lambda*MI, both from that one forward pass, then one Adam step each
(2e-4 / 1e-3, beta1 0.5) -- or (``--update=alternating``, what
``step_vs_torch`` times) the two-update step of common PyTorch InfoGANs.

Every configuration a PyTorch user of a CPU would try: eager or
``torch.compile`` (``--compile``: both networks compiled, inductor's default
mode), float32 or bfloat16 autocast (``--precision=bfloat16``: the forward
passes under ``torch.autocast("cpu", dtype=torch.bfloat16)``, losses and
Adam in float32, as PyTorch's AMP recipe does). ``--images_npy`` trains on
the same uint8 images as the infogan_tf side (default: random ones; the
compute does not depend on the pixel values).

PyTorch is NOT a dependency of infogan_tf (``pip install -e .[bench]`` adds
it). Without it the script prints a JSON line ``{"skipped": ...}`` and exits 0:

    python -m benchmarks.torch_baseline --steps=60 --compile --precision=bfloat16

Prints one JSON line: images/s at the median step time of ``--steps`` timed
steps after ``--warmup_steps``, torch's version and thread count, peak RSS.
``benchmarks.benchmark`` runs it and compares.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import sys
import time

from absl import app, flags

from benchmarks import harness
from infogan_tf.config import TrainConfig

PRECISIONS = ("float32", "bfloat16")
FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_integer("steps", 60, "Timed steps.")
    flags.DEFINE_integer("warmup_steps", 10, "Untimed steps first (torch.compile compiles in the first ones).")
    flags.DEFINE_integer("batch_size", 64, "Batch size.")
    flags.DEFINE_integer("threads", 0, "torch.set_num_threads (0 = torch's default).")
    flags.DEFINE_boolean("compile", False, "torch.compile both networks (default: eager).")
    flags.DEFINE_enum("precision", "float32", PRECISIONS, "bfloat16: forward passes under CPU bf16 autocast.")
    flags.DEFINE_string("images_npy", None, "uint8 [N, H, W, C] training images (default: random ones).")
    flags.DEFINE_boolean(
        "serve", False, "Internal (step_vs_torch.py): after the warm-up, time blocks of steps asked for on stdin."
    )
    flags.DEFINE_enum(
        "update",
        "alternating",
        ["alternating", "joint"],
        "alternating: the two-update step (D+Q on real and fake, then G+Q on the same fake batch); "
        "joint: one forward pass, simultaneous updates (infogan-train --update=joint).",
    )


def configuration_name(compiled: bool, precision: str) -> str:
    """How the report names a PyTorch configuration: ``torch eager float32``, ``torch compile bfloat16``, ..."""
    return f"torch {'compile' if compiled else 'eager'} {precision}"


def build(torch, cfg: TrainConfig):
    """Generator and discriminator modules mirroring infogan_tf.model.networks (NCHW)."""
    nn = torch.nn
    m, lat = cfg.model, cfg.latent
    h, w, ch = m.image_shape
    if len(m.g_filters) != 2 or len(m.d_filters) != 2 or not (m.g_fc_units and m.d_fc_units and m.q_fc_units):
        raise SystemExit("torch_baseline.py mirrors the MNIST-shaped networks only (two upconvolutions, two convs)")
    gh, gw, base = h // 4, w // 4, m.g_filters[0]
    f1, f2 = m.d_filters
    slope = m.leaky_slope

    def bn1d(n):
        return nn.BatchNorm1d(n, momentum=0.1, eps=1e-5)  # torch momentum 0.1 == Keras momentum 0.9

    def bn2d(n):
        return nn.BatchNorm2d(n, momentum=0.1, eps=1e-5)

    generator = nn.Sequential(
        nn.Linear(lat.noise_dim + lat.code_dim, m.g_fc_units, bias=False),
        bn1d(m.g_fc_units),
        nn.ReLU(),
        nn.Linear(m.g_fc_units, gh * gw * base, bias=False),
        bn1d(gh * gw * base),
        nn.ReLU(),
        nn.Unflatten(1, (base, gh, gw)),
        nn.ConvTranspose2d(base, m.g_filters[1], 4, stride=2, padding=1, bias=False),
        bn2d(m.g_filters[1]),
        nn.ReLU(),
        nn.ConvTranspose2d(m.g_filters[1], ch, 4, stride=2, padding=1),
        nn.Tanh(),
    )

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = nn.Sequential(
                nn.Conv2d(ch, f1, 4, stride=2, padding=1),
                nn.LeakyReLU(slope),
                nn.Conv2d(f1, f2, 4, stride=2, padding=1, bias=False),
                bn2d(f2),
                nn.LeakyReLU(slope),
                nn.Flatten(),
                nn.Linear(gh * gw * f2, m.d_fc_units, bias=False),
                bn1d(m.d_fc_units),
                nn.LeakyReLU(slope),
            )
            self.d_head = nn.Linear(m.d_fc_units, 1)
            self.q = nn.Sequential(
                nn.Linear(m.d_fc_units, m.q_fc_units, bias=False), bn1d(m.q_fc_units), nn.LeakyReLU(slope)
            )
            self.q_categorical = nn.Linear(m.q_fc_units, lat.categorical_dim)
            self.q_mean = nn.Linear(m.q_fc_units, lat.continuous)
            self.q_log_std = nn.Linear(m.q_fc_units, lat.continuous)

        def forward(self, x):
            t = self.trunk(x)
            q = self.q(t)
            return self.d_head(t)[:, 0], self.q_categorical(q), self.q_mean(q), self.q_log_std(q)

    return generator, Discriminator()


def run(torch) -> dict:
    f = torch.nn.functional
    if FLAGS.threads:
        torch.set_num_threads(FLAGS.threads)
    torch.manual_seed(0)
    cfg = TrainConfig()
    lat, o = cfg.latent, cfg.optim
    b = FLAGS.batch_size
    (k,) = lat.categorical  # the MNIST default: one 10-way code
    generator, discriminator = build(torch, cfg)
    g_opt = torch.optim.Adam(generator.parameters(), lr=o.g_learning_rate, betas=(o.beta1, o.beta2))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=o.d_learning_rate, betas=(o.beta1, o.beta2))
    h, w, ch = cfg.model.image_shape
    if FLAGS.images_npy:
        import numpy as np

        data = torch.from_numpy(np.load(FLAGS.images_npy)).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
    else:
        data = torch.randint(0, 256, (60000, ch, h, w), dtype=torch.uint8)
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    if FLAGS.compile:
        generator, discriminator = torch.compile(generator), torch.compile(discriminator)

    def autocast():
        """The forward passes' precision: CPU bf16 autocast, or float32 (a disabled autocast)."""
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=FLAGS.precision == "bfloat16")

    def sample():
        z = torch.rand(b, lat.noise_dim) * 2 - 1
        cat = torch.randint(0, k, (b,))
        cont = torch.rand(b, lat.continuous) * 2 - 1
        return torch.cat([z, f.one_hot(cat, k).float(), cont], dim=1), cat, cont

    def mi_loss(cat, cont, cat_logits, mean, log_std):
        cat_logits, mean, log_std = cat_logits.float(), mean.float(), log_std.float()  # losses in float32
        ce = f.cross_entropy(cat_logits, cat, reduction="none")
        nll = (half_log_2pi + log_std + 0.5 * ((cont - mean) * torch.exp(-log_std)) ** 2).sum(1)
        return o.lambda_cat * ce + o.lambda_cont * nll

    def joint_step():
        """One forward pass of [real; fake]; D/Q and G gradients from it; both Adam steps."""
        real = data[torch.randint(0, data.shape[0], (b,))].float() / 127.5 - 1.0
        zc, cat, cont = sample()
        with autocast():
            fake = generator(zc)
            d_logit, cat_logits, mean, log_std = discriminator(torch.cat([real, fake]))
        d_logit = d_logit.float()
        real_logit, fake_logit = d_logit[:b], d_logit[b:]
        mi = mi_loss(cat, cont, cat_logits[b:], mean[b:], log_std[b:])
        d_loss = (f.softplus(-real_logit) + f.softplus(fake_logit) + mi).mean()
        g_loss = (f.softplus(-fake_logit) + mi).mean()
        d_params, g_params = list(discriminator.parameters()), list(generator.parameters())
        d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
        g_grads = torch.autograd.grad(g_loss, g_params)
        for p, grad in zip(d_params, d_grads):
            p.grad = grad
        for p, grad in zip(g_params, g_grads):
            p.grad = grad
        d_opt.step()
        g_opt.step()
        return float(d_loss.detach())

    def alternating_step():
        """The two-update step of common PyTorch InfoGANs: D+Q on real and fake (separate calls), then G+Q."""
        real = data[torch.randint(0, data.shape[0], (b,))].float() / 127.5 - 1.0
        zc, cat, cont = sample()
        with autocast():
            fake = generator(zc)
            real_logit = discriminator(real)[0].float()
            fake_logit, cat_logits, mean, log_std = discriminator(fake.detach())
        fake_logit = fake_logit.float()
        d_loss = (
            f.softplus(-real_logit) + f.softplus(fake_logit) + mi_loss(cat, cont, cat_logits, mean, log_std)
        ).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        # G (and its hold on Q) against the updated D, on the same fake batch.
        with autocast():
            fake_logit, cat_logits, mean, log_std = discriminator(fake)
        fake_logit = fake_logit.float()
        g_loss = (f.softplus(-fake_logit) + mi_loss(cat, cont, cat_logits, mean, log_std)).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        return float(d_loss.detach())

    step = alternating_step if FLAGS.update == "alternating" else joint_step

    for _ in range(FLAGS.warmup_steps):
        step()
    if FLAGS.serve:

        def run_steps(_wanted: int) -> int:
            step()
            return 1

        harness.serve(run_steps, ready={**described(torch), "update": FLAGS.update})
        return {}
    times, losses = [], []
    cpu_start = time.process_time()
    for _ in range(FLAGS.steps):
        start = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - start)
    cpu_per_step = (time.process_time() - cpu_start) / FLAGS.steps
    median = statistics.median(times)
    return {
        **described(torch),
        "update": FLAGS.update,
        "batch_size": b,
        "steps": FLAGS.steps,
        "median_ms": 1000 * median,
        "mean_ms": 1000 * statistics.fmean(times),
        "images_per_sec": b / median,
        # CPU time of all threads per step: the work, whatever else runs on the machine.
        "cpu_seconds_per_step": cpu_per_step,
        "images_per_cpu_second": b / cpu_per_step,
        "losses_finite": all(math.isfinite(x) for x in losses),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def described(torch) -> dict:
    """What runs: the configuration's name, its settings, torch's version and threads."""
    return {
        "framework": configuration_name(FLAGS.compile, FLAGS.precision),
        "compile": FLAGS.compile,
        "precision": FLAGS.precision,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def main(argv) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        import torch
    except ImportError:
        print(json.dumps({"skipped": "torch is not installed (optional: pip install -e .[bench])"}))
        print("torch_baseline: torch is not installed; skipped (it is optional)", file=sys.stderr)
        return
    result = run(torch)
    if not FLAGS.serve:
        print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    define_flags()
    app.run(main)
