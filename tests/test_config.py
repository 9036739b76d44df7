"""Config: validation messages name the flag; JSON round trip; resume compatibility."""

import dataclasses
import json
import os

import pytest

from infogan_tf import config as config_lib
from infogan_tf import presets
from infogan_tf.config import ConfigError, TrainConfig
from infogan_tf.latent import LatentSpec
from infogan_tf.training import resume


def _with(part, **kw):
    base = TrainConfig()
    return dataclasses.replace(base, **{part: dataclasses.replace(getattr(base, part), **kw)})


@pytest.mark.unit
@pytest.mark.parametrize(
    "part, kw, message",
    [
        ("optim", {"train_steps": 0}, "--train_steps must be positive, got 0"),
        ("optim", {"batch_size": -4}, "--batch_size must be positive, got -4"),
        ("optim", {"lambda_cat": -1.0}, "--lambda_cat must be a finite number >= 0, got -1.0"),
        ("optim", {"update": "both"}, "--update must be one of alternating, joint, got 'both'"),
        ("real_info", {"real_info_view": "crop"}, "--real_info_view must be one of same, affine, deskewed, got 'crop'"),
        ("real_info", {"lambda_real_info": -1.0}, "--lambda_real_info must be a finite number >= 0, got -1.0"),
        ("real_info", {"real_info_shear": 1.5}, "--real_info_shear must be a number in [0, 1], got 1.5"),
        ("real_info", {"real_info_scale": 0.6}, "--real_info_scale must be a number in [0, 0.5], got 0.6"),
        ("real_info", {"real_info_scale": -0.1}, "--real_info_scale must be a number in [0, 0.5], got -0.1"),
        ("real_info", {"real_info_balance": 0.4}, "--real_info_balance must be a number in [0.5, 4], got 0.4"),
        ("real_info", {"real_info_balance": float("inf")}, "--real_info_balance must be a number in [0.5, 4], got inf"),
        ("real_info", {"real_info_flip": True, "real_info_view": "same"}, "--real_info_flip mirrors the second views"),
        ("real_info", {"real_info_erase": 0.01}, "--real_info_erase must be 0 (no erasing) or a number in [0.02, 0.5]"),
        ("real_info", {"real_info_erase": 0.6}, "--real_info_erase must be 0 (no erasing) or a number in [0.02, 0.5]"),
        ("real_info", {"real_info_erase": 0.1, "real_info_view": "same"}, "--real_info_erase erases part of the"),
        (
            "real_info",
            {"real_info_level_ink": True, "real_info_view": "same"},
            "--real_info_level_ink rescales the second",
        ),
        ("optim", {"lambda_cont": float("nan")}, "--lambda_cont must be a finite number >= 0"),
        ("optim", {"g_learning_rate": 0.0}, "--g_learning_rate must be a finite number > 0"),
        ("optim", {"beta1": 1.0}, "--beta1 must be in [0, 1)"),
        ("data", {"dataset": "Not A Name"}, "--dataset 'Not A Name' is not a TFDS dataset name"),
        ("data", {"image_dir": "/no/such/dir"}, "--image_dir '/no/such/dir' is not a directory"),
        ("data", {"eval_fraction": 0.1}, "--eval_fraction needs --image_dir"),
        ("data", {"image_dir": "/", "eval_fraction": 1.0}, "--eval_fraction must be in [0, 1), got 1.0"),
        ("data", {"image_dir": "/", "eval_fraction": 0.1, "eval_image_dir": "/"}, "give one"),
        ("data", {"image_size": 30}, "--image_size must be a positive multiple of 4"),
        ("data", {"channels": 2}, "--channels must be 1 or 3"),
        ("data", {"channels": 3}, "--channels=3 but the network takes 1-channel images"),
        ("data", {"image_size": 32}, "--image_size=32 but the network takes 28x28 images"),
        ("data", {"cache": "disk"}, "--cache must be one of auto, memory, stream"),
        ("data", {"max_bad_fraction": 1.0}, "--max_bad_fraction must be in [0, 1)"),
        ("data", {"manual_dir": "/no/such/dir"}, "--manual_dir '/no/such/dir' is not a directory"),
        (
            "runtime",
            {"strategy": "tpu"},
            "--strategy must be one of default, one_device, mirrored, multi_worker, got 'tpu'",
        ),
        ("runtime", {"checkpoint_every": 0}, "--checkpoint_every must be positive"),
        ("runtime", {"model_dir": ""}, "--model_dir must be set"),
        (
            "runtime",
            {"strategy": "mirrored", "num_devices": 3},
            "--batch_size 64 must be divisible by the number of replicas (--num_devices=3)",
        ),
        ("model", {"continuous_std": "sometimes"}, "--continuous_std must be 'learned' or 'fixed'"),
        ("model", {"image_shape": (30, 30, 1)}, "divisible by 4"),
        ("real_info", {"q_overcluster": -5}, "--q_overcluster must be >= 0, got -5"),
        ("real_info", {"q_overcluster": 1}, "--q_overcluster must be 0 (none) or at least 2 categories, got 1"),
    ],
)
def test_bad_values_are_rejected_naming_the_flag(part, kw, message):
    with pytest.raises(ConfigError) as e:
        _with(part, **kw).validate()
    assert message in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.unit
def test_an_overclustering_head_needs_the_real_image_term():
    config = _with("real_info", q_overcluster=50, lambda_real_info=0.0)
    with pytest.raises(ConfigError, match=r"--q_overcluster trains only through the real-image term"):
        config.validate()


@pytest.mark.unit
def test_default_is_valid_and_round_trips_through_json():
    cfg = TrainConfig().validate()
    again = TrainConfig.from_dict(json.loads(cfg.to_json()))
    assert again == cfg


@pytest.mark.unit
def test_check_replicas():
    cfg = TrainConfig()
    cfg.check_replicas(4)
    with pytest.raises(ConfigError, match="--batch_size 64 must be divisible by the number of replicas \\(3\\)"):
        cfg.check_replicas(3)


@pytest.mark.unit
def test_presets_size_the_model_from_the_dataset():
    svhn = presets.PRESETS["svhn"](TrainConfig()).validate()
    assert svhn.data.image_shape == svhn.model.image_shape == (32, 32, 3)


@pytest.mark.unit
def test_resume_accepts_runtime_and_optim_changes(tmp_path):
    cfg = _with("runtime", model_dir=str(tmp_path))
    saved = json.loads(cfg.to_json())
    longer = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, train_steps=9000))
    resume.check_resume(saved, longer, str(tmp_path / "config.json"))


@pytest.mark.unit
@pytest.mark.parametrize(
    "change, mentioned",
    [
        ({"latent": LatentSpec(categorical=(12,))}, "latent.categorical: saved [10], now [12]"),
        ({"latent": LatentSpec(noise_dim=10)}, "latent.noise_dim: saved 62, now 10"),
        ({"model": config_lib.ModelConfig(d_fc_units=512)}, "model.d_fc_units: saved 1024, now 512"),
        ({"data": config_lib.DataConfig(dataset="fashion_mnist")}, "data.dataset: saved 'mnist', now 'fashion_mnist'"),
    ],
)
def test_resume_refuses_a_different_architecture(tmp_path, change, mentioned):
    cfg = _with("runtime", model_dir=str(tmp_path))
    saved = json.loads(cfg.to_json())
    with pytest.raises(ConfigError) as e:
        resume.check_resume(saved, dataclasses.replace(cfg, **change), str(tmp_path / "config.json"))
    assert mentioned in str(e.value) and "different configuration" in str(e.value)


@pytest.mark.unit
@pytest.mark.parametrize(
    "saved_data, now, mentioned",
    [
        ({}, {"image_dir": "/imgs"}, "holds a run trained on --dataset=mnist, not --image_dir /imgs"),
        ({"image_dir": "/imgs"}, {}, "holds a run trained on --image_dir /imgs, not --dataset=mnist"),
        ({}, {"image_key": "picture"}, "trained with --image_key=None; resuming it with --image_key=picture"),
        ({"image_dir": "/i"}, {"image_dir": "/i", "eval_fraction": 0.1}, "--eval_fraction=0.0; resuming it with"),
    ],
)
def test_resume_refuses_other_images(tmp_path, saved_data, now, mentioned):
    cfg = _with("runtime", model_dir=str(tmp_path))
    saved = json.loads(dataclasses.replace(cfg, data=config_lib.DataConfig(**saved_data)).to_json())
    with pytest.raises(ConfigError, match=r"would train on other images|use a new --model_dir") as e:
        resume.check_resume(saved, dataclasses.replace(cfg, data=config_lib.DataConfig(**now)), "config.json")
    assert mentioned in str(e.value)
    # A config.json of an older version, without the new fields, resumes as it did.
    del saved["data"]["train_split"], saved["data"]["image_key"]
    resume.check_resume(saved, dataclasses.replace(cfg, data=config_lib.DataConfig(**saved_data)), "config.json")


@pytest.mark.unit
def test_resume_refuses_a_foreign_config_naming_its_file(tmp_path):
    path = str(tmp_path / "config.json")
    with pytest.raises(ConfigError, match=f"{path} is not a config written by infogan_tf \\(missing data.dataset\\)"):
        resume.check_resume({"data": {}}, TrainConfig(), path)


@pytest.mark.unit
def test_config_file_round_trip_and_corruption(tmp_path):
    from infogan_tf.training.rundir import RunDir

    cfg = _with("runtime", model_dir=str(tmp_path))
    run = RunDir(str(tmp_path))
    assert run.read_config_dict() is None
    run.write_config(cfg)
    assert TrainConfig.from_dict(run.read_config_dict()) == cfg and run.load_config() == cfg
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="is unreadable"):
        run.read_config_dict()


@pytest.mark.slow
def test_config_and_the_command_lines_do_not_import_tensorflow():
    """A fresh interpreter (this one has TF loaded): bad flags are reported before TF's seconds of import."""
    import subprocess
    import sys

    clis = ("train", "export", "sample", "evaluate", "classifier")
    modules = ["infogan_tf.config", *(f"infogan_tf.cli.{name}" for name in clis)]
    code = f"import sys, {', '.join(modules)}; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.unit
def test_the_paper_presets_name_their_size_codes_and_layers():
    paper = {name: presets.PRESETS[name](TrainConfig()) for name in ("svhn", "celeba", "faces", "chairs")}
    # App. C Tables 2-5: input size, and G's input dimension (noise + codes).
    assert {n: c.model.image_shape for n, c in paper.items()} == {
        "svhn": (32, 32, 3),
        "celeba": (32, 32, 3),
        "faces": (32, 32, 1),
        "chairs": (64, 64, 1),
    }
    assert {n: c.latent.noise_dim + c.latent.code_dim for n, c in paper.items()} == {
        "svhn": 168,
        "celeba": 228,
        "faces": 133,
        "chairs": 189,
    }
    svhn = paper["svhn"].model
    assert (svhn.g_fc_units, svhn.g_filters, svhn.d_filters, svhn.d_fc_units) == (
        0,
        (448, 256, 128, 64),
        (64, 128, 256),
        0,
    )
    assert paper["celeba"].model == svhn and paper["celeba"].data.dataset == "celeb_a"
    for name in ("svhn", "faces", "chairs"):
        paper[name].validate()


@pytest.mark.unit
def test_a_config_json_from_before_g_filters_still_reads_and_resumes(tmp_path):
    cfg = _with("runtime", model_dir=str(tmp_path))
    saved = json.loads(cfg.to_json())
    model = saved["model"]
    for name in ("g_filters", "g_grid", "g_upconv_batchnorm"):
        del model[name]
    model["g_base_filters"] = 128  # the field it replaced: the FC's channels, halved by the one hidden upconv
    assert TrainConfig.from_dict(saved) == cfg
    resume.check_resume(saved, cfg, str(tmp_path / "config.json"))  # the same run: accepted
    model["g_base_filters"] = 256
    with pytest.raises(ConfigError, match=r"model.g_filters: saved \[256, 128\], now \[128, 64\]"):
        resume.check_resume(saved, cfg, str(tmp_path / "config.json"))


@pytest.mark.unit
def test_override_routes_each_flag_name_to_the_part_that_owns_it():
    cfg = TrainConfig().override(
        lambda_cat=0.5, seed=3, real_info_view="affine", q_overcluster=20, categorical_codes="10,4", g_filters=[64, 32]
    )
    assert cfg.optim.lambda_cat == 0.5 and cfg.runtime.seed == 3
    assert cfg.real_info.real_info_view == "affine" and cfg.real_info.q_overcluster == 20
    assert cfg.latent.categorical == (10, 4) and cfg.model.g_filters == (64, 32)
    assert TrainConfig().override() == TrainConfig()
    # Every field of every part is reachable by its name, and names are unique across the parts.
    for part_name, part in config_lib.PARTS.items():
        for field in dataclasses.fields(part):
            assert config_lib.FLAG_OWNERS[field.name] == (part_name, field.name)


@pytest.mark.unit
@pytest.mark.parametrize(
    "values, message",
    [
        ({"lamda_cat": 1.0}, "unknown setting 'lamda_cat'; did you mean lambda_cat?"),
        ({"real_info_veiw": "same"}, "did you mean real_info_view?"),
        ({"zzz": 1}, "unknown setting 'zzz' (infogan-train --help lists the settings)"),
        ({"batch_size": "64"}, "--batch_size takes int, got '64'"),
        ({"real_info_flip": 1}, "--real_info_flip takes bool, got 1"),
        ({"q_overcluster": 1}, "--q_overcluster must be 0 (none) or at least 2 categories, got 1"),
        ({"categorical_codes": "10,x"}, "categorical"),
    ],
)
def test_override_refuses_unknown_names_wrong_types_and_invalid_results_in_one_line(values, message):
    with pytest.raises(ConfigError) as e:
        TrainConfig().override(**values)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.unit
def test_a_config_json_of_main_before_the_real_image_part_reads_into_it():
    """config.json as main wrote it on 2026-12-06 (flat optim.real_info_*, model.q_overcluster)."""
    with open(os.path.join(os.path.dirname(__file__), "data", "config_main_2026-12-06.json")) as f:
        saved = json.load(f)
    assert "real_info" not in saved and "q_overcluster" in saved["model"]
    cfg = TrainConfig.from_dict(saved)
    assert cfg.real_info == config_lib.RealInfoConfig(
        **{k: v for k, v in saved["optim"].items() if k.startswith(("real_info", "lambda_real"))},
        q_overcluster=saved["model"]["q_overcluster"],
    )
    assert cfg.optim.lambda_cat == saved["optim"]["lambda_cat"] and cfg.runtime.seed == saved["runtime"]["seed"]
    assert cfg.validate() == cfg
    assert resume.changes(saved, cfg) == {}  # the same run, in today's layout
    resume.check_resume(saved, cfg, "config.json")
    resume.check_resume(saved, cfg.override(train_steps=20, lambda_real_info=0.5), "config.json")  # recorded
    with pytest.raises(ConfigError, match="--real_info_view=deskewed; resuming it with --real_info_view=affine"):
        resume.check_resume(saved, cfg.override(real_info_view="affine"), "config.json")
    with pytest.raises(ConfigError, match=r"--q_overcluster=0; .* \(the checkpoint's variables follow it\)"):
        resume.check_resume(saved, cfg.override(q_overcluster=20), "config.json")
    text = resume.record(saved, cfg.override(train_steps=20), step=10)
    assert json.loads(text)["history"][0]["changes"] == {"optim.train_steps": {"from": 10, "to": 20}}


@pytest.mark.unit
def test_a_config_json_before_the_factor_views_part_reads_into_it():
    """A run without the term reads as weight 0 (whatever today's default); one that added it, from ``terms``."""
    today = json.loads(TrainConfig().to_json())
    without = {k: v for k, v in today.items() if k != "factor_views"}
    assert TrainConfig.from_dict(without).factor_views.factor_views == 0.0
    # A part from before the thickness moves' own ranges reads as the 0.5 blends it was trained with.
    older = {**today, "factor_views": {"factor_views": 1.0, "factor_views_second": "thickness"}}
    moves = TrainConfig.from_dict(older).factor_views
    assert (moves.factor_views_thicken, moves.factor_views_thin) == (0.5, 0.5)
    assert "factor_views_thin" not in older["factor_views"]  # the caller's dict is not changed
    settings = {
        "factor_views_weight": 1.0,
        "factor_views_shear": 0.3,
        "factor_views_scale": 0.25,
        "factor_views_second": "thickness",
    }
    screened = {**without, "terms": {"factor_views": settings}}
    cfg = TrainConfig.from_dict(screened)
    assert cfg.factor_views == config_lib.FactorViewsConfig(1.0, 0.3, "thickness", 0.25)
    assert resume.changes(screened, cfg) == {}  # the same run, in today's layout
    with pytest.raises(
        ConfigError, match="--factor_views_second=thickness; resuming it with --factor_views_second=width"
    ):
        resume.check_resume(screened, cfg.override(factor_views_second="width"), "config.json")
