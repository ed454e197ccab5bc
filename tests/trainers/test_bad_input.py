"""Every bad input of issue 10: exit 2, one stderr line naming the flag / file / value, and
nothing written (the run folder is claimed only once everything is checked)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from trainers.cli import main

FAST = ["--max-train-examples", "16", "--epochs", "1", "--batch-size", "8", "--grad-accum", "1",
        "--max-length", "32"]  # fmt: skip


def _fails(capsys, argv: list[str], *expected: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("xtreme-adv train: error: "), err
    for text in expected:
        assert text in err, (text, err)
    return err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--lr", "-1"], "--lr -1.0: learning_rate must be > 0"),
        (["--lr", "nan"], "--lr nan: learning_rate must be > 0"),
        (["--batch-size", "0"], "--batch-size 0: per_device_train_batch_size must be at least 1"),
        (["--warmup-ratio", "2"], "--warmup-ratio 2.0: warmup_ratio must be between 0 and 1"),
        (["--max-train-examples", "0"], "--max-train-examples 0: max_train_examples must be"),
        (["--epochs", "0"], "--epochs 0.0: num_train_epochs must be > 0"),
        (["--max-length", "0"], "--max-length 0: max_seq_length must be at least 8"),
        (["--save-steps", "0"], "--save-steps 0: must be at least 1"),
        (["--save-steps", "ten"], "--save-steps 'ten': not an integer"),
        (["--seed", "-3"], "--seed -3: must be between 0"),
        (["--intermediate-lr", "0"], "--intermediate-lr 0.0: learning_rate must be > 0"),
        (["--multitask-cap", "0"], "--multitask-cap 0: multitask_cap must be at least 1"),
        (["--intermediate-epochs", "0"], "--intermediate-epochs 0.0: num_train_epochs"),
    ],
)
def test_settings_out_of_range(capsys, tmp_path: Path, flags: list[str], expected: str) -> None:
    out = tmp_path / "o"
    argv = ["intermediate", "--intermediate", "anli", "--target", "xnli", "--out", str(out), *flags]
    _fails(capsys, argv, expected)
    assert list(tmp_path.iterdir()) == []


def test_no_abbreviations(capsys, tmp_path: Path) -> None:
    # Prefix matching would read --intermediate as --intermediate-dir on `train direct`.
    argv = ["direct", "--intermediate", "anli", "--target", "xnli", "--out", str(tmp_path / "o")]
    _fails(capsys, argv, "unrecognized arguments: --intermediate anli")
    _fails(capsys, ["direct", "--targ", "xnli", "--out", str(tmp_path / "o")], "--targ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["under-proc", "under-a-file", "is-a-file"])
def test_out_that_cannot_be_written(
    capsys, tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path, kind: str
) -> None:
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    out = {
        "under-proc": Path("/proc/xtreme-adv-test/o"),
        "under-a-file": tmp_path / "file.txt" / "o",
        "is-a-file": tmp_path / "file.txt",
    }[kind]
    argv = ["direct", "--model", str(tiny_model), "--target", "xnli", "--out", str(out),
            "--data-dir", str(xtreme_data_dir), *FAST]  # fmt: skip
    _fails(capsys, argv, f"--out {out}: ")
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]
    assert not out.exists() or out.is_file()


def test_missing_data_dir_is_named(capsys, tiny_model: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-xtreme"
    argv = ["direct", "--model", str(tiny_model), "--target", "xnli",
            "--out", str(tmp_path / "o"), "--data-dir", str(missing)]  # fmt: skip
    _fails(capsys, argv, f"--data-dir (or $XTREME_DATA_DIR) {missing}: does not exist")
    argv = ["intermediate", "--model", str(tiny_model), "--intermediate", "anli",
            "--target", "tatoeba", "--out", str(tmp_path / "o"),
            "--intermediate-dir", str(missing)]  # fmt: skip
    _fails(capsys, argv, f"--intermediate-dir {missing}: does not exist")
    assert list(tmp_path.iterdir()) == []


def test_base_checkpoint_with_a_head_of_another_size(
    capsys, tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    pawsx = tmp_path / "pawsx-checkpoint"
    AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=2).save_pretrained(
        pawsx
    )
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(pawsx)
    out = tmp_path / "o"
    argv = ["direct", "--model", str(pawsx), "--target", "xnli", "--out", str(out),
            "--data-dir", str(xtreme_data_dir), *FAST]  # fmt: skip
    _fails(capsys, argv, f"--model {pawsx}: ", "2-label BertForSequenceClassification",
           "needs 3 labels")  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize("damage", ["truncated-weights", "garbage-config", "no-tokenizer"])
def test_corrupt_base_checkpoint(
    capsys, tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path, damage: str
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    if damage == "truncated-weights":
        data = (broken / "model.safetensors").read_bytes()
        (broken / "model.safetensors").write_bytes(data[: len(data) // 3])
        expected = "model.safetensors is truncated or corrupt"
    elif damage == "garbage-config":
        (broken / "config.json").write_text("{not json", encoding="utf-8")
        expected = "config.json"
    else:
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                     "sentencepiece.bpe.model"):  # fmt: skip
            (broken / name).unlink(missing_ok=True)
        (broken / "tokenizer_config.json").write_text('{"tokenizer_class": "Nope"}')
        expected = "cannot load its tokenizer"
    out = tmp_path / "o"
    argv = ["direct", "--model", str(broken), "--target", "xnli", "--out", str(out),
            "--data-dir", str(xtreme_data_dir), *FAST]  # fmt: skip
    _fails(capsys, argv, f"--model {broken}", expected)
    assert not out.exists()


def test_bad_data_is_found_before_the_folder_is_claimed(
    capsys, tiny_model: Path, xtreme_data_dir: Path, tmp_path: Path
) -> None:
    # A first try on a damaged data file writes nothing, so the corrected command may use the
    # same --out (it used to be refused as an "incompatible resume folder").
    bad = tmp_path / "xtreme" / "xnli"
    bad.mkdir(parents=True)
    lines = (xtreme_data_dir / "xnli" / "dev-en.tsv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit("\t", 1)[0] + "\tmaybe"
    (bad / "dev-en.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "o"
    argv = ["direct", "--model", str(tiny_model), "--target", "xnli", "--out", str(out), *FAST]
    _fails(capsys, [*argv, "--data-dir", str(tmp_path / "xtreme")], "unknown label 'maybe'")
    assert not out.exists()
    assert main([*argv, "--data-dir", str(xtreme_data_dir)]) == 0
    run = json.loads((out / "trainers_run.json").read_text(encoding="utf-8"))
    assert run["data"]["xtreme_dir"] == str(xtreme_data_dir)
