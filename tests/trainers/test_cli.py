"""``xtreme-adv train`` on the command line: listing, and bad input as one line with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.trainers.conftest import xlmr_tokenizer_file
from trainers.cli import main


def _fails(capsys, *argv: str) -> str:
    """Run the command, expect exit 2 and exactly one stderr line; return that line."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xtreme-adv train: error: "), err
    assert "Traceback" not in err
    return err


def test_list_shows_tasks_heads_and_presets(capsys) -> None:
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:4] for line in text.splitlines()[1:] if line.strip()}
    assert rows["xnli"] == ["target", "classification", "jiant-xnli"]
    assert rows["cosmosqa"] == ["intermediate", "multiple_choice", "jiant-intermediate"]
    assert rows["squad_v2"][1] == "qa" and rows["udpos"][1] == "tagging"
    assert rows["tatoeba"][:2] == ["target", "encoder"]
    assert "jiant-pawsx" in text and "epochs=5" in text


def test_unknown_tasks(capsys, tmp_path: Path) -> None:
    err = _fails(capsys, "direct", "--target", "xnlii", "--out", str(tmp_path / "o"))
    assert "unknown target task 'xnlii'" in err
    err = _fails(
        capsys, "intermediate", "--intermediate", "anli,swag", "--target", "xnli",
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert "unknown intermediate task 'swag'" in err
    assert not (tmp_path / "o").exists()


def test_model_without_the_needed_head(capsys, tmp_path: Path) -> None:
    from transformers import BertGenerationConfig, BertGenerationEncoder, XLMRobertaTokenizerFast

    folder = tmp_path / "bert-generation"
    config = BertGenerationConfig(
        vocab_size=250002, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32,
    )  # fmt: skip
    BertGenerationEncoder(config).save_pretrained(folder)
    XLMRobertaTokenizerFast(tokenizer_file=str(xlmr_tokenizer_file())).save_pretrained(folder)
    err = _fails(capsys, "direct", "--model", str(folder), "--target", "xnli",
                 "--out", str(tmp_path / "o"))  # fmt: skip
    assert "model_type 'bert-generation'" in err
    assert "AutoModelForSequenceClassification" in err
    assert not (tmp_path / "o").exists()


def test_bad_config_and_flags(capsys, tiny_model: Path, tmp_path: Path) -> None:
    yml = tmp_path / "bad.yaml"
    out = str(tmp_path / "o")
    yml.write_text("target: {learning_rat: 1.0e-5}\n", encoding="utf-8")
    err = _fails(capsys, "direct", "--target", "xnli", "--out", out, "--config", str(yml))
    assert str(yml) in err and "'learning_rat'" in err
    yml.write_text("epochs: 3\n", encoding="utf-8")
    err = _fails(capsys, "direct", "--target", "xnli", "--out", out, "--config", str(yml))
    assert "unknown key 'epochs'" in err
    err = _fails(capsys, "direct", "--target", "xnli", "--out", out, "--lr", "fast")
    assert "learning_rate" in err and "'fast'" in err
    err = _fails(capsys, "direct", "--target", "xnli", "--out", out, "--trainer-arg", "x_y=1")
    assert "'x_y' is not a transformers TrainingArguments field" in err
    if not torch.cuda.is_available():
        err = _fails(capsys, "direct", "--model", str(tiny_model), "--target", "xnli",
                     "--out", out, "--fp16")  # fmt: skip
        assert "--fp16 needs a CUDA GPU" in err
    assert not (tmp_path / "o").exists()


def test_ccg_path_that_is_not_ccgbank(
    capsys, tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path
) -> None:
    err = _fails(
        capsys, "intermediate", "--model", str(tiny_model), "--intermediate", "ccg",
        "--target", "xnli", "--out", str(tmp_path / "o"), "--ccgbank", str(xtreme_data_dir),
    )  # fmt: skip
    assert f"--ccgbank {xtreme_data_dir}: not a CCGbank folder" in err
    assert not (tmp_path / "o").exists()


def test_not_a_run_folder(capsys, tiny_model: Path, tmp_path: Path) -> None:
    (tmp_path / "somebody-elses.txt").write_text("keep me", encoding="utf-8")
    err = _fails(capsys, "direct", "--model", str(tiny_model), "--target", "tatoeba",
                 "--out", str(tmp_path))  # fmt: skip
    assert "not a trainers run" in err
    assert [p.name for p in tmp_path.iterdir()] == ["somebody-elses.txt"]


def test_through_the_xtreme_adv_dispatcher() -> None:
    # The installed command finds `train` through the xtreme_adv.commands entry point.
    done = subprocess.run(
        [sys.executable, "-m", "harness_tasks.cli", "train", "direct", "--target", "nope",
         "--out", "x"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "xtreme-adv train: error: --target: unknown target task 'nope'; choose from "
        "xnli, pawsx, udpos, panx, xquad, mlqa, tydiqa, xcopa, bucc, tatoeba"
    ]


@pytest.mark.parametrize("flag", ["--target", "--out"])
def test_required_flags(capsys, flag: str) -> None:
    argv = ["direct", "--target", "xnli", "--out", "o"]
    i = argv.index(flag)
    del argv[i : i + 2]
    assert f"{flag} is required" in _fails(capsys, *argv)
