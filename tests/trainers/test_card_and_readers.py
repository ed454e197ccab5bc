"""Local HellaSwag / CommonsenseQA files in their published formats, and the card's rerun
fields (command line, code version, Python, device, precision, time, tokenizer hash)."""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path

import pytest

from trainers.cli import main
from trainers.data import DataLocations, load_task_data
from trainers.errors import TrainUserError
from trainers.hashing import sha256_file
from trainers.tasks import INTERMEDIATE_TASKS

REPO = Path(__file__).resolve().parents[2]

# Rows in the layout of rowanz/hellaswag's data/hellaswag_train.jsonl.
HELLASWAG = [
    {"ind": 4, "activity_label": "Removing ice from car",
     "ctx_a": "Then, the man writes over the snow covering the window of a car, and a woman "
              "wearing winter clothes smiles.",
     "ctx_b": "then", "ctx": "Then, the man writes over the snow covering the window of a car, "
     "and a woman wearing winter clothes smiles. then",
     "split": "train", "split_type": "indomain", "label": 3,
     "endings": [", the man adds wax to the windshield and cuts it.",
                 ", a person board a ski lift, while two men supporting the head of the person "
                 "wearing winter clothes snow as the we girls sled.",
                 ", the man puts on a christmas coat, knitted with netting.",
                 ", the man continues removing the snow on his car."],
     "source_id": "v_-1IBHYS3L-Y"},
    {"ind": 7, "activity_label": "Baking cookies",
     "ctx_a": "A female chef in white uniform shows a stack of baking pans in a large kitchen "
              "presenting them.", "ctx_b": "the pans",
     "ctx": "A female chef in white uniform shows a stack of baking pans in a large kitchen "
            "presenting them. the pans",
     "split": "train", "split_type": "indomain", "label": 1,
     "endings": ["contain egg yolks and baking soda.",
                 "are then sprinkled with brown sugar.",
                 "are placed in a strainer on the counter.",
                 "are filled with pastries and loaded into the oven."],
     "source_id": "v_-2dxp-mv2zo"},
]  # fmt: skip
# Rows in the layout of CommonsenseQA's train_rand_split.jsonl.
CSQA = [
    {"answerKey": "A", "id": "075e483d21c29a511267ef62bedc0461",
     "question": {"question_concept": "punishing",
                  "choices": [{"label": "A", "text": "ignore"}, {"label": "B", "text": "enforce"},
                              {"label": "C", "text": "authoritarian"},
                              {"label": "D", "text": "yell at"},
                              {"label": "E", "text": "avoid"}],
                  "stem": "The sanctions against the school were a punishing blow, and they "
                          "seemed to what the efforts the school had made to change?"}},
    {"answerKey": "B", "id": "61fe6e879ff18686d7552425a36344c8",
     "question": {"question_concept": "people",
                  "choices": [{"label": "A", "text": "race track"},
                              {"label": "B", "text": "populated areas"},
                              {"label": "C", "text": "the desert"},
                              {"label": "D", "text": "apartment"},
                              {"label": "E", "text": "roadblock"}],
                  "stem": "Sammy wanted to go to where the people were.  Where might he go?"}},
]  # fmt: skip


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def mc_dir(tmp_path: Path) -> Path:
    """An --intermediate-dir with HellaSwag and CommonsenseQA training files (8 rows each)."""
    root = tmp_path / "intermediate"
    _jsonl(root / "hellaswag" / "hellaswag_train.jsonl", HELLASWAG * 4)
    _jsonl(root / "commonsenseqa" / "train_rand_split.jsonl", CSQA * 4)
    return root


def test_hellaswag_and_commonsenseqa_local_readers(mc_dir: Path) -> None:
    where = DataLocations(intermediate_dir=mc_dir)
    hs = load_task_data(INTERMEDIATE_TASKS["hellaswag"], where)
    assert hs.source.endswith("hellaswag/hellaswag_train.jsonl")
    assert hs.dataset[1] == {
        "context": HELLASWAG[1]["ctx_a"], "question": "the pans",
        "endings": HELLASWAG[1]["endings"], "label": 1,
    }  # fmt: skip
    csqa = load_task_data(INTERMEDIATE_TASKS["commonsenseqa"], where)
    assert csqa.dataset[1] == {
        "context": CSQA[1]["question"]["stem"], "question": "",
        "endings": ["race track", "populated areas", "the desert", "apartment", "roadblock"],
        "label": 1,
    }  # fmt: skip
    assert len(hs.dataset) == len(csqa.dataset) == 8


def test_bad_rows_name_file_row_and_field(tmp_path: Path) -> None:
    bad = dict(CSQA[0], answerKey="F")
    _jsonl(tmp_path / "commonsenseqa" / "train_rand_split.jsonl", [CSQA[1], bad])
    where = DataLocations(intermediate_dir=tmp_path)
    with pytest.raises(TrainUserError, match=r"train_rand_split.jsonl: row 2, field answerKey"):
        load_task_data(INTERMEDIATE_TASKS["commonsenseqa"], where)
    _jsonl(tmp_path / "hellaswag" / "hellaswag_train.jsonl", [dict(HELLASWAG[0], label=4)])
    with pytest.raises(TrainUserError, match=r"hellaswag_train.jsonl: row 1, field label"):
        load_task_data(INTERMEDIATE_TASKS["hellaswag"], where)


def test_list_says_what_runs_offline(mc_dir: Path, xtreme_data_dir: Path, capsys) -> None:
    assert main(["list", "--data-dir", str(xtreme_data_dir), "--intermediate-dir",
                 str(mc_dir)]) == 0  # fmt: skip
    rows = {line.split()[0]: line.split(None, 5) for line in capsys.readouterr().out.splitlines()
            if line and not line.startswith(" ")}  # fmt: skip
    assert rows["hellaswag"][4] == "yes" and "hellaswag_train.jsonl" in rows["hellaswag"][5]
    assert rows["commonsenseqa"][4] == "yes"
    assert rows["xnli"][4] == "yes" and "trains on half 0" in rows["xnli"][5]
    assert rows["anli"][4] == "no" and "facebook/anli" in rows["anli"][5]  # not in mc_dir
    assert rows["ccg"][4] == "no" and rows["tatoeba"][4] == "n/a"
    assert rows["udpos"][4] == "yes" and "trains on half" not in rows["udpos"][5]


def test_multiple_choice_intermediate_from_local_files_and_rerun_fields(
    tiny_model: Path, mc_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "mc"
    argv = ["intermediate", "--model", str(tiny_model), "--intermediate",
            "hellaswag,commonsenseqa", "--target", "tatoeba", "--out", str(out),
            "--intermediate-dir", str(mc_dir), "--intermediate-epochs", "1",
            "--intermediate-batch-size", "4", "--intermediate-grad-accum", "1",
            "--intermediate-max-length", "48"]  # fmt: skip
    assert main(argv) == 0
    card = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    (phase,) = card["phases"]
    assert [t["name"] for t in phase["tasks"]] == ["hellaswag", "commonsenseqa"]
    assert phase["metrics"]["global_step"] == 4  # 2 tasks x 8 examples / batch 4
    run = card["run"]
    assert run["command"] == "xtreme-adv train " + " ".join(argv)
    assert run["python"] == platform.python_version()
    assert run["precision"] == "fp32" and run["world_size"] == 1
    assert run["device"].startswith("cpu") and run["wall_time_s"] > 0
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert run["code"]["git_commit"] == head and isinstance(run["code"]["git_dirty"], bool)
    assert card["tokenizer_sha256"] == sha256_file(out / "tokenizer.json")
    assert card["scoring_exclusions"] == [] and card["text_prefix"] == ""


def test_tokenizer_json_does_not_depend_on_preprocessing(tiny_model: Path, tmp_path) -> None:
    from transformers import AutoTokenizer

    from trainers.pipeline import save_tokenizer

    fresh = AutoTokenizer.from_pretrained(tiny_model)
    save_tokenizer(fresh, tmp_path / "fresh")
    used = AutoTokenizer.from_pretrained(tiny_model)
    used(["a b c"] * 2, truncation=True, max_length=16, padding="max_length")  # as prepare() does
    assert json.loads(used.backend_tokenizer.to_str())["truncation"] is not None
    save_tokenizer(used, tmp_path / "used")
    text = (tmp_path / "used" / "tokenizer.json").read_bytes()
    assert json.loads(text)["truncation"] is None and json.loads(text)["padding"] is None
    assert text == (tmp_path / "fresh" / "tokenizer.json").read_bytes()
