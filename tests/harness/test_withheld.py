"""A folder exactly as google-research/xtreme's ``scripts/download_data.sh`` leaves it: nothing
whose labels it withholds is ever scored, and the user is told which split to use instead.

The withholding steps are transcribed from XTREME's ``utils_preprocess.py``
(``remove_qa_test_annotations``, ``xcopa_preprocess``, ``tatoeba_preprocess``, the XNLI and
PAWS-X test writers) and applied to the real data slices.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from harness_tasks.data import lm_eval_dataset, load_eval_split
from harness_tasks.errors import XtremeAdvError
from tests.harness.conftest import run_cli


def _remove_qa_test_annotations(test_file: Path) -> None:
    """XTREME's remove_qa_test_annotations, for one file."""
    data = json.loads(test_file.read_text())
    new_data = []
    for doc in data["data"]:
        for par in doc["paragraphs"]:
            for qa in par["qas"]:
                new_data.append(
                    {
                        "paragraphs": [
                            {
                                "context": par["context"],
                                "qas": [
                                    {
                                        "answers": [{"answer_start": 0, "text": ""}],
                                        "question": qa["question"],
                                        "id": qa["id"],
                                    }
                                ],
                            }
                        ]
                    }
                )
    test_file.write_text(json.dumps({"data": new_data, "version": data["version"]}))


def _xcopa_records(xnli_dev: Path, n: int) -> list[dict]:
    """XCOPA-format records (premise, two choices, cause/effect, label) from real sentences."""
    lines = [line.split("\t") for line in xnli_dev.read_text().splitlines()[: 3 * n]]
    return [
        {
            "premise": lines[3 * i][0],
            "choice1": lines[3 * i + 1][0],
            "choice2": lines[3 * i + 2][0],
            "question": "cause" if i % 2 else "effect",
            "label": (i * 7 // 3) % 2,
            "idx": i + 1,
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def xtreme_download(tmp_path_factory, xtreme_data_dir) -> Path:
    """What download_data.sh leaves for a few tasks (file names and withheld labels)."""
    root = tmp_path_factory.mktemp("download")
    # XQuAD: every file blanked.
    (root / "xquad").mkdir()
    shutil.copy(xtreme_data_dir / "xquad" / "xquad.de.json", root / "xquad" / "xquad.de.json")
    _remove_qa_test_annotations(root / "xquad" / "xquad.de.json")
    # MLQA: test blanked, dev as released.
    for split in ("dev", "test"):
        folder = root / "mlqa" / "MLQA_V1" / split
        folder.mkdir(parents=True)
        shutil.copy(
            xtreme_data_dir / "mlqa" / "MLQA_V1" / "dev" / "dev-context-de-question-de.json",
            folder / f"{split}-context-de-question-de.json",
        )
    _remove_qa_test_annotations(root / "mlqa/MLQA_V1/test/test-context-de-question-de.json")
    # TyDiQA-GoldP: the dev folder is blanked by tydiqa_preprocess.
    dev = root / "tydiqa" / "tydiqa-goldp-v1.1-dev"
    dev.mkdir(parents=True)
    shutil.copy(
        xtreme_data_dir / "tydiqa" / "tydiqa-goldp-v1.1-train" / "tydiqa.goldp.en.train.json",
        dev / "tydiqa.goldp.en.dev.json",
    )
    _remove_qa_test_annotations(dev / "tydiqa.goldp.en.dev.json")
    # XCOPA: val-xx.jsonl as released, test-xx.jsonl with every label set to 0.
    (root / "xcopa").mkdir()
    records = _xcopa_records(xtreme_data_dir / "xnli" / "dev-de.tsv", 40)
    (root / "xcopa" / "val-tr.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (root / "xcopa" / "test-tr.jsonl").write_text(
        "".join(json.dumps(r | {"label": 0}) + "\n" for r in records)
    )
    # Tatoeba: tatoeba_preprocess copies the source and sorts the English side.
    (root / "tatoeba").mkdir()
    src = xtreme_data_dir / "tatoeba"
    shutil.copy(src / "tatoeba.deu-eng.deu", root / "tatoeba" / "de-en.de")
    tgts = [line.strip() for line in open(src / "tatoeba.deu-eng.eng")]
    (root / "tatoeba" / "de-en.en").write_text("".join(f"{t}\n" for t in sorted(tgts)))
    # XNLI / PAWS-X: csv.writer rows; test without the label column.
    for task, rows_per in (("xnli", 2490), ("pawsx", 2000)):
        (root / task).mkdir()
        dev_rows = [
            line.split("\t")
            for line in (xtreme_data_dir / task / "dev-de.tsv").read_text().splitlines()
        ][:rows_per]
        for split in ("dev", "test"):
            with open(root / task / f"{split}-de.tsv", "w", newline="") as handle:
                writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
                for row in dev_rows[:50]:
                    writer.writerow(row[:2] if split == "test" else row)
    return root


AUTO = [("mlqa", "de", "validation"), ("xcopa", "tr", "validation"), ("xnli", "de", "validation")]


@pytest.mark.parametrize("task,lang,split", AUTO)
def test_automatic_choice_scores_the_labelled_split(task, lang, split, xtreme_download):
    loaded = load_eval_split(task, lang, data_dir=xtreme_download)
    assert loaded.split == split
    assert "test" not in Path(loaded.source).name


WITHHELD = [
    ("xquad", "de", None, "every answer is blank", "Hugging Face Hub"),
    ("tydiqa", "en", None, "every answer is blank", "Hugging Face Hub"),
    ("tatoeba", "de", None, "sorted the English side", "Hugging Face Hub"),
    ("mlqa", "de", "test", "every answer is blank", "split 'validation'"),
    ("xcopa", "tr", "test", "every label is 0", "split 'validation'"),
    ("xnli", "de", "test", "no label column", "split 'validation'"),
    ("pawsx", "de", "test", "no label column", "split 'validation'"),
]


@pytest.mark.parametrize("task,lang,split,reason,instead", WITHHELD)
def test_withheld_labels_are_refused_with_the_split_to_use(
    task, lang, split, reason, instead, xtreme_download
):
    with pytest.raises(XtremeAdvError) as err:
        lm_eval_dataset(task, lang, split=split, data_dir=str(xtreme_download))
    message = str(err.value)
    assert "withheld" in message and reason in message and instead in message
    assert "\n" not in message


def test_eval_run_refuses_blank_xquad_with_one_line(tmp_path, xtreme_download, tiny_checkpoints):
    out = tmp_path / "out"
    proc = run_cli(
        ["eval", "run", "--model", "xtreme-encoder", "--model_args",
         f"pretrained={tiny_checkpoints['qa']}", "--tasks", "xtreme_xquad_de", "--device", "cpu",
         "--output_path", str(out)],
        env={"XTREME_DATA_DIR": str(xtreme_download)},
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("xtreme-adv eval: error: ")
    assert "every answer is blank" in errors[0]
    assert not list(tmp_path.rglob("results_*.json"))


def test_xtreme_xcopa_file_names_are_read(xtreme_download):
    rows = load_eval_split("xcopa", "tr", split="validation", data_dir=xtreme_download)
    assert rows.source.endswith("xcopa/val-tr.jsonl") and len(rows.dataset) == 40
    assert set(rows.dataset["label"]) == {0, 1}


def test_small_files_are_not_judged_constant(tmp_path):
    # A handful of XCOPA rows that all happen to have label 1 are real labels.
    (tmp_path / "xcopa").mkdir()
    record = {"premise": "A.", "choice1": "B.", "choice2": "C.", "question": "cause", "label": 1}
    (tmp_path / "xcopa" / "val-tr.jsonl").write_text(json.dumps(record) + "\n")
    assert load_eval_split("xcopa", "tr", data_dir=tmp_path).dataset["label"] == [1]


# -- smaller loader items: bad label, byte-order mark, one malformed line --------------------


def test_xcopa_label_out_of_range_is_one_line(tmp_path):
    (tmp_path / "xcopa").mkdir()
    good = {"premise": "A.", "choice1": "B.", "choice2": "C.", "question": "cause", "label": 0}
    lines = [json.dumps(good), json.dumps(good | {"label": 5})]
    (tmp_path / "xcopa" / "val-tr.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(XtremeAdvError, match=r"val-tr\.jsonl:2: field label must be 0 or 1, not 5"):
        load_eval_split("xcopa", "tr", data_dir=tmp_path)


def test_utf8_byte_order_mark_is_not_part_of_the_first_token(tmp_path, xtreme_data_dir):
    (tmp_path / "panx").mkdir()
    text = (xtreme_data_dir / "panx" / "dev-de.tsv").read_text(encoding="utf-8")
    (tmp_path / "panx" / "dev-de.tsv").write_text("\ufeff" + text, encoding="utf-8")
    (tmp_path / "xnli").mkdir()
    xnli = (xtreme_data_dir / "xnli" / "dev-de.tsv").read_text(encoding="utf-8")
    (tmp_path / "xnli" / "dev-de.tsv").write_text("\ufeff" + xnli, encoding="utf-8")
    with_bom = load_eval_split("panx", "de", data_dir=tmp_path).dataset
    plain = load_eval_split("panx", "de", data_dir=xtreme_data_dir).dataset
    assert with_bom["tokens"] == plain["tokens"]
    first = load_eval_split("xnli", "de", data_dir=tmp_path).dataset[0]["premise"]
    assert first == load_eval_split("xnli", "de", data_dir=xtreme_data_dir).dataset[0]["premise"]


@pytest.mark.parametrize("task", ["xnli", "panx"])
def test_one_malformed_line_is_named_not_read_as_unlabelled(task, tmp_path, xtreme_data_dir):
    lines = (xtreme_data_dir / task / "dev-de.tsv").read_text(encoding="utf-8").split("\n")
    n = next(i for i in range(5, len(lines)) if "\t" in lines[i])
    lines[n] = lines[n].rsplit("\t", 1)[0]  # one line loses its label
    (tmp_path / task).mkdir()
    (tmp_path / task / "dev-de.tsv").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(XtremeAdvError, match=rf"dev-de\.tsv:{n + 1}: expected "):
        load_eval_split(task, "de", data_dir=tmp_path)
