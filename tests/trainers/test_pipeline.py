"""End-to-end training runs on tiny encoders and real data: checkpoints, cards, resume, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    TrainerCallback,
)

from trainers.cli import build_parser, config_from_args, main
from trainers.hashing import sha256_file
from trainers.pipeline import run
from trainers.tasks import NLI_LABELS, PANX_LABELS

SMALL = ["--max-train-examples", "48", "--epochs", "1", "--batch-size", "8",
         "--grad-accum", "1", "--max-length", "64", "--logging-steps", "2"]  # fmt: skip
SMALL_INTERMEDIATE = ["--intermediate-epochs", "1", "--intermediate-batch-size", "8",
                      "--intermediate-grad-accum", "1",
                      "--intermediate-max-length", "64"]  # fmt: skip


def _card(out: Path) -> dict:
    return json.loads((out / "provenance.json").read_text(encoding="utf-8"))


def _train(*argv: str) -> int:
    return main(list(argv))


@pytest.fixture(scope="module")
def direct_xnli(tiny_model: Path, xtreme_data_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "direct-xnli"
    args = ["direct", "--model", str(tiny_model), "--target", "xnli", "--out", str(out),
            "--data-dir", str(xtreme_data_dir), "--freeze-embeddings", *SMALL]  # fmt: skip
    assert _train(*args) == 0
    return out


def test_direct_classification_checkpoint(direct_xnli: Path, tiny_model: Path) -> None:
    model = AutoModelForSequenceClassification.from_pretrained(direct_xnli)
    assert type(model).__name__ == "BertForSequenceClassification"
    assert [model.config.id2label[i] for i in range(3)] == list(NLI_LABELS)
    assert AutoTokenizer.from_pretrained(direct_xnli).is_fast
    card = _card(direct_xnli)
    assert card["schema"] == "xtreme-adv/provenance/1"
    assert card["recipe"] == "direct" and card["target_task"] == "xnli" and card["seed"] == 42
    assert card["model_id"] == "tiny-bert0-xnli-direct-s42"
    assert card["base_model"]["sha256"] == sha256_file(tiny_model / "model.safetensors")
    assert card["weights_sha256"] == sha256_file(direct_xnli / "model.safetensors")
    (phase,) = card["phases"]
    assert phase["name"] == "target"
    assert phase["tasks"][0]["n_examples"] == 48
    assert phase["hyperparameters"]["freeze_embeddings"] is True
    assert phase["metrics"]["global_step"] == 6
    assert set(card["versions"]) >= {"xtreme_adv", "torch", "transformers"}
    assert card["model_id"] in (direct_xnli / "README.md").read_text(encoding="utf-8")
    assert not (direct_xnli / "_work").exists()
    # Frozen embeddings stayed exactly as in the base model; the encoder layers moved.
    base, tuned = (
        load_file(tiny_model / "model.safetensors"),
        load_file(direct_xnli / "model.safetensors"),
    )
    key = "embeddings.word_embeddings.weight"
    assert tuned[f"bert.{key}"].equal(base[key])
    layer = "encoder.layer.0.attention.self.query.weight"
    assert not tuned[f"bert.{layer}"].equal(base[layer])


def test_finished_checkpoint_is_never_overwritten(
    direct_xnli: Path, tiny_model: Path, xtreme_data_dir: Path, capsys
) -> None:
    before = {p.name: (p.stat().st_mtime_ns, sha256_file(p)) for p in direct_xnli.iterdir()}
    code = _train("direct", "--model", str(tiny_model), "--target", "xnli", "--out",
                  str(direct_xnli), "--data-dir", str(xtreme_data_dir), *SMALL)  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "already holds a finished checkpoint" in err
    after = {p.name: (p.stat().st_mtime_ns, sha256_file(p)) for p in direct_xnli.iterdir()}
    assert after == before


def test_intermediate_multitask_then_tagging(
    tiny_model: Path, xtreme_data_dir: Path, intermediate_dir: Path, direct_xnli: Path, tmp_path
) -> None:
    out = tmp_path / "inter-panx"
    code = _train("intermediate", "--model", str(tiny_model), "--intermediate", "anli,cosmosqa",
                  "--target", "panx", "--out", str(out), "--data-dir", str(xtreme_data_dir),
                  "--intermediate-dir", str(intermediate_dir), "--multitask-cap", "32",
                  *SMALL, *SMALL_INTERMEDIATE)  # fmt: skip
    assert code == 0
    model = AutoModelForTokenClassification.from_pretrained(out)
    assert [model.config.id2label[i] for i in range(7)] == list(PANX_LABELS)
    card = _card(out)
    assert card["recipe"] == "intermediate"
    assert card["intermediate_tasks"] == ["anli", "cosmosqa"]
    # Same base model as the direct run: leaderboards can pair the two.
    assert card["base_model"] == _card(direct_xnli)["base_model"]
    inter, target = card["phases"]
    assert [t["name"] for t in inter["tasks"]] == ["anli", "cosmosqa"]
    assert inter["metrics"]["examples_per_epoch"] == {"anli": 32, "cosmosqa": 32}
    assert inter["metrics"]["global_step"] == 8  # 2 tasks x 32 examples / batch 8
    assert inter["hyperparameters"]["multitask_cap"] == 32
    assert target["tasks"][0]["name"] == "panx"


def test_direct_qa_checkpoint(tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "qa"
    code = _train("direct", "--model", str(tiny_model), "--target", "xquad", "--out", str(out),
                  "--data-dir", str(xtreme_data_dir), *SMALL, "--doc-stride", "16")  # fmt: skip
    assert code == 0
    assert type(AutoModelForQuestionAnswering.from_pretrained(out)).__name__ == (
        "BertForQuestionAnswering"
    )
    assert AutoConfig.from_pretrained(out).architectures == ["BertForQuestionAnswering"]
    assert "stand-in for SQuAD" in _card(out)["phases"][0]["tasks"][0]["source"]


def test_retrieval_targets_keep_the_encoder(
    tiny_model: Path, intermediate_dir: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "tatoeba"
    assert (
        _train("direct", "--model", str(tiny_model), "--target", "tatoeba", "--out", str(plain))
        == 0
    )
    card = _card(plain)
    assert card["recipe"] == "pretrained" and card["phases"] == []
    assert AutoConfig.from_pretrained(plain).architectures == ["BertModel"]
    base = load_file(tiny_model / "model.safetensors")
    assert all(load_file(plain / "model.safetensors")[k].equal(v) for k, v in base.items())

    inter = tmp_path / "bucc"
    code = _train("intermediate", "--model", str(tiny_model), "--intermediate", "socialiqa",
                  "--target", "bucc", "--out", str(inter), "--intermediate-dir",
                  str(intermediate_dir), *SMALL, *SMALL_INTERMEDIATE)  # fmt: skip
    assert code == 0
    card = _card(inter)
    assert card["recipe"] == "intermediate" and [p["name"] for p in card["phases"]] == [
        "intermediate"
    ]
    assert type(AutoModel.from_pretrained(inter)).__name__ == "BertModel"


class _Killed(Exception):
    """Stands for the process being killed."""


class _KillAt(TrainerCallback):
    """Raise after optimizer step ``step`` of the phase whose output folder is ``phase``."""

    def __init__(self, phase: str, step: int):
        self.phase, self.step = phase, step

    def on_step_end(self, args, state, control, **kwargs):
        if Path(args.output_dir).name == self.phase and state.global_step == self.step:
            raise _Killed(f"{self.phase} step {self.step}")


def test_killed_run_resumes_to_the_same_weights(
    tiny_model: Path, xtreme_data_dir: Path, intermediate_dir: Path, tmp_path: Path, capsys
) -> None:
    def argv(out: Path, seed: str = "7") -> list[str]:
        return ["intermediate", "--model", str(tiny_model), "--intermediate", "anli,socialiqa",
                "--target", "xnli", "--out", str(out), "--data-dir", str(xtreme_data_dir),
                "--intermediate-dir", str(intermediate_dir), "--seed", seed, "--save-steps", "3",
                *SMALL, *SMALL_INTERMEDIATE, "--intermediate-epochs", "2",
                "--multitask-cap", "24", "--intermediate-max-train-examples", "40"]  # fmt: skip

    def config(out: Path, seed: str = "7"):
        return config_from_args(build_parser().parse_args(argv(out, seed)))

    whole = run(config(tmp_path / "whole"))
    resumed = tmp_path / "resumed"
    # Killed in the second intermediate epoch (6 steps per epoch; checkpoints every 3 steps) ...
    with pytest.raises(_Killed):
        run(config(resumed), callbacks=[_KillAt("intermediate", 8)])
    assert (resumed / "_work" / "intermediate" / "checkpoint-6").is_dir()
    assert not (resumed / "provenance.json").exists()
    # ... a different command may not continue it ...
    assert main(argv(resumed, seed="8")) == 2
    err = capsys.readouterr().err
    assert "incompatible resume folder" in err and "seed is 7 there but 8" in err
    # ... then killed again during the target phase, and finally resumed to the end.
    with pytest.raises(_Killed):
        run(config(resumed), callbacks=[_KillAt("target", 5)])
    assert (resumed / "_work" / "target" / "checkpoint-3").is_dir()
    run(config(resumed))
    a, b = _card(whole), _card(resumed)
    assert b["phases"][1]["metrics"]["resumed_from"] == "checkpoint-3"
    assert a["weights_sha256"] == b["weights_sha256"]


def test_yaml_config_and_flags(tmp_path: Path, xtreme_data_dir: Path) -> None:
    yml = tmp_path / "run.yaml"
    yml.write_text(
        "seed: 3\nfreeze_embeddings: true\ntarget: {learning_rate: 3.0e-5, num_train_epochs: 4}\n"
        "trainer_args: {lr_scheduler_type: constant}\n",
        encoding="utf-8",
    )
    argv = ["direct", "--target", "pawsx", "--out", str(tmp_path / "o"), "--config", str(yml),
            "--epochs", "1"]  # fmt: skip
    config = config_from_args(build_parser().parse_args(argv))
    assert config.seed == 3 and config.freeze_embeddings
    assert config.target_settings.learning_rate == 3e-5
    assert config.target_settings.num_train_epochs == 1  # the flag beats the file
    assert config.target_settings.per_device_train_batch_size == 4  # jiant-pawsx preset
    assert config.trainer_args == {"lr_scheduler_type": "constant"}


def test_no_resume_checkpoint_after_the_last_step(tiny_model: Path, xtreme_data_dir: Path,
                                                  tmp_path: Path) -> None:  # fmt: skip
    # 48 examples / batch 8 = 6 steps; checkpoints every 4: step 4 is kept for resuming, the
    # final model is saved by the phase itself, so no checkpoint-6 (optimizer state included).
    out = tmp_path / "run"
    assert _train("direct", "--model", str(tiny_model), "--target", "xnli", "--out", str(out),
                  "--data-dir", str(xtreme_data_dir), "--save-steps", "4", "--keep-checkpoints",
                  *SMALL) == 0  # fmt: skip
    work = out / "_work" / "target"
    assert sorted(p.name for p in work.glob("checkpoint-*")) == ["checkpoint-4"]
    assert _card(out)["phases"][0]["metrics"]["global_step"] == 6
