"""Bad input to ``xtreme-adv eval`` gives one error line naming what is wrong, exit != 0,
and no traceback."""

from __future__ import annotations

import shutil

import pytest

from tests.harness.conftest import run_cli


def _assert_one_line_error(proc, *needles):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("xtreme-adv eval: error:"), proc.stderr[-2000:]
    for needle in needles:
        assert needle in last, last


def _run(checkpoint, task, env, *extra):
    return run_cli(
        [
            "eval",
            "run",
            "--model",
            "xtreme-encoder",
            "--model_args",
            f"pretrained={checkpoint}",
            "--tasks",
            task,
            "--device",
            "cpu",
            "--limit",
            "4",
            *extra,
        ],
        env=env,
    )


def test_unknown_language_and_task(tiny_checkpoints, xtreme_data_dir):
    env = {"XTREME_DATA_DIR": str(xtreme_data_dir)}
    proc = _run(tiny_checkpoints["xnli"], "xtreme_xnli_xx", env)
    _assert_one_line_error(proc, "'xx'", "XNLI", "ar bg de")
    proc = _run(tiny_checkpoints["xnli"], "xtreme_nosuchtask_de", env)
    _assert_one_line_error(proc, "nosuchtask")


def test_unbuilt_adversarial_set_names_the_build_command(tiny_checkpoints, tmp_path):
    proc = _run(
        tiny_checkpoints["xnli"], "xtreme_adv_xnli_charnoise_de", {"XTREME_ADV_DIR": str(tmp_path)}
    )
    _assert_one_line_error(
        proc, "xtreme-adv attack build --task xnli --langs de --attack charnoise", str(tmp_path)
    )


def test_a_set_yaml_including_a_gone_installation_names_it_and_the_fix(tiny_checkpoints, tmp_path):
    """YAMLs written before they held their configuration include the clean YAML of the
    installation that built them; once it is gone, one line says so and how to rewrite it."""
    gone = tmp_path / "old-venv" / "harness_tasks" / "tasks" / "xtreme_xnli" / "xtreme_xnli_de.yaml"
    yaml = tmp_path / "adv" / "tasks" / "xtreme_adv_xnli_charnoise_de.yaml"
    yaml.parent.mkdir(parents=True)
    yaml.write_text(f"include: {gone}\ntask: xtreme_adv_xnli_charnoise_de\n", encoding="utf-8")
    proc = _run(tiny_checkpoints["xnli"], "xtreme_adv_xnli_charnoise_de",
                {"XTREME_ADV_DIR": str(tmp_path / "adv")})  # fmt: skip
    _assert_one_line_error(
        proc,
        str(yaml),
        str(gone),
        "xtreme-adv attack build --task xnli --langs de --attack charnoise",
    )


def test_unbuilt_adaptive_set_names_every_folder_and_the_adaptive_command(
    tiny_checkpoints, tmp_path
):
    mine = tmp_path / "my-sets"
    mine.mkdir()
    proc = _run(
        tiny_checkpoints["xnli"],
        "xtreme_adv_xnli_adaptive-charnoise-0123456789_de",
        {"XTREME_ADV_DIR": str(tmp_path / "root")},
        "--include_path",
        str(mine),
    )
    _assert_one_line_error(
        proc,
        str(tmp_path / "root"),
        str(mine),
        "xtreme-adv attack adaptive --model CHECKPOINT --task xnli --lang de --attack charnoise",
    )


@pytest.mark.slow
def test_missing_data_folder(tiny_checkpoints, tmp_path):
    proc = _run(
        tiny_checkpoints["xnli"], "xtreme_xnli_de", {"XTREME_DATA_DIR": str(tmp_path / "missing")}
    )
    _assert_one_line_error(proc, str(tmp_path / "missing"), "download_data.sh")


@pytest.mark.slow
def test_missing_language_file_names_task_and_places(tiny_checkpoints, xtreme_data_dir):
    proc = _run(
        tiny_checkpoints["xnli"], "xtreme_xnli_sw", {"XTREME_DATA_DIR": str(xtreme_data_dir)}
    )
    _assert_one_line_error(proc, "xtreme_xnli_sw", "dev-sw.tsv")


@pytest.mark.slow
def test_checkpoint_with_the_wrong_head(tiny_checkpoints, xtreme_data_dir):
    proc = _run(tiny_checkpoints["qa"], "xtreme_xnli_de", {"XTREME_DATA_DIR": str(xtreme_data_dir)})
    _assert_one_line_error(proc, "ForQuestionAnswering", "ForSequenceClassification")


@pytest.mark.slow
def test_label_mismatch(tiny_checkpoints, xtreme_data_dir):
    proc = _run(
        tiny_checkpoints["wrong_labels"],
        "xtreme_xnli_de",
        {"XTREME_DATA_DIR": str(xtreme_data_dir)},
    )
    _assert_one_line_error(proc, "'maybe'", "entailment", "id2label")


@pytest.mark.slow
def test_malformed_data_file(tiny_checkpoints, xtreme_data_dir, tmp_path):
    (tmp_path / "xnli").mkdir()
    lines = (xtreme_data_dir / "xnli" / "dev-de.tsv").read_text().splitlines()[:5]
    lines[3] = lines[3].rsplit("\t", 1)[0] + "\tmaybe"
    (tmp_path / "xnli" / "dev-de.tsv").write_text("\n".join(lines) + "\n")
    proc = _run(tiny_checkpoints["xnli"], "xtreme_xnli_de", {"XTREME_DATA_DIR": str(tmp_path)})
    _assert_one_line_error(proc, "dev-de.tsv:4", "label", "'maybe'")


def test_not_a_checkpoint(tmp_path, xtreme_data_dir):
    shutil.rmtree(tmp_path, ignore_errors=True)
    tmp_path.mkdir()
    proc = _run(tmp_path, "xtreme_xnli_de", {"XTREME_DATA_DIR": str(xtreme_data_dir)})
    _assert_one_line_error(proc, "no config.json")
