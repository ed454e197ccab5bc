"""Every metric gets its interval: UD-POS, PAN-X, BUCC and QA rows, re-scored from samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps
from seqeval.metrics import f1_score

from leaderboards import stats
from leaderboards.cli import main
from leaderboards.compute import build_board
from leaderboards.errors import LeaderboardError
from leaderboards.results import read_inputs
from leaderboards.synthetic import SyntheticModel, write_results_folder

from .conftest import edit_results, results_file

PLAN = [(t, ["de"], ["charnoise"]) for t in ("udpos", "panx", "bucc", "mlqa")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("metrics")
    model = SyntheticModel("tagger", skill=0.8, robustness=0.6)
    return write_results_folder(out, model, PLAN, n_docs=90).parent


@pytest.fixture(scope="module")
def board(folder):
    return build_board(read_inputs([folder]), n_boot=300, seed=0)


def _lines(folder, task):
    path = next(folder.glob(f"samples_{task}_*.jsonl"))
    return [json.loads(x) for x in path.read_text().splitlines()]


def _row(board, task):
    (row,) = [r for r in board.rows if r["task"] == task]
    return row


def test_every_task_family_has_row_intervals(board):
    for task, *_ in PLAN:
        row = _row(board, task)
        assert row["clean_ci"] and row["adv_ci"] and row["drop_ci"], task
        assert row["drop_ci"][0] <= row["drop"] <= row["drop_ci"][1], task
        assert row["interval_method"].startswith("bca"), task
    assert _row(board, "mlqa")["interval_method"] == "bca-clustered"
    assert _row(board, "mlqa")["n_units"] == 30  # 90 questions, 3 per context paragraph


def test_scores_are_the_libraries_corpus_level_metrics(folder, board):
    tags = _lines(folder, "xtreme_panx_de")
    assert _row(board, "panx")["clean"] == pytest.approx(
        f1_score([x["f1"][0] for x in tags], [x["f1"][1] for x in tags])
    )
    pos = _lines(folder, "xtreme_udpos_de")
    correct = sum(g == p for x in pos for g, p in zip(*x["acc"], strict=True))
    tokens = sum(len(x["acc"][0]) for x in pos)
    assert _row(board, "udpos")["clean"] == pytest.approx(correct / tokens)
    mined = _lines(folder, "xtreme_bucc_de")
    n_gold = sum(1 for x in mined if x["f1"][0])
    ranked = sorted((x["f1"] for x in mined if x["f1"][1]), key=lambda t: -t[2])
    best = hits = 0
    for rank, (gold, ident, _) in enumerate(ranked, start=1):
        hits += gold == ident
        best = max(best, 2 * hits / (rank + n_gold))
    assert _row(board, "bucc")["clean"] == pytest.approx(best)


def test_token_accuracy_interval_is_a_ratio_estimator_bca_like_scipy(folder, board):
    """UD-POS: sentences are resampled, accuracy = sum correct / sum tokens (scipy's BCa)."""
    pos = _lines(folder, "xtreme_udpos_de")
    correct = np.array([sum(g == p for g, p in zip(*x["acc"], strict=True)) for x in pos], float)
    tokens = np.array([len(x["acc"][0]) for x in pos], float)
    ref = sps.bootstrap(
        (correct, tokens),
        lambda c, t, axis=-1: c.sum(axis=axis) / t.sum(axis=axis),
        paired=True, method="BCa", n_resamples=20000, rng=np.random.default_rng(0),
    ).confidence_interval  # fmt: skip
    ours = build_board(read_inputs([folder]), n_boot=20000, seed=0)
    ci = _row(ours, "udpos")["clean_ci"]
    assert ci == pytest.approx([ref.low, ref.high], abs=0.003)
    # a pooled-token bootstrap (tokens as independent) would be narrower than the ratio one
    assert ci[1] - ci[0] > 0


def test_inflated_results_value_is_refused(tmp_path, capsys):
    model = SyntheticModel("honest", skill=0.7, robustness=0.7)
    path = write_results_folder(tmp_path, model, [("xnli", ["de"], ["charnoise"])], n_docs=50)

    def inflate(data):
        data["results"]["xtreme_adv_xnli_charnoise_de"]["acc,none"] = 0.99

    edit_results(results_file(path.parent), inflate)
    with pytest.raises(LeaderboardError, match="acc,none is 0.99, but its samples"):
        read_inputs([path.parent])
    assert main(["build", str(tmp_path), "--out", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "xtreme_adv_xnli_charnoise_de" in err
    assert not (tmp_path / "site").exists()


def test_tuple_metric_on_an_accuracy_task_is_refused(tmp_path):
    model = SyntheticModel("odd", skill=0.7, robustness=0.7)
    path = write_results_folder(tmp_path, model, [("xnli", ["de"], ["charnoise"])], n_docs=20)
    sample = next(path.parent.glob("samples_xtreme_xnli_de_*.jsonl"))
    lines = [json.loads(x) for x in sample.read_text().splitlines()]
    lines[3]["acc"] = [["B-PER"], ["O"]]
    sample.write_text("".join(json.dumps(x) + "\n" for x in lines))
    with pytest.raises(LeaderboardError, match="line 4: acc is"):
        read_inputs([path.parent])


def test_language_task_and_overall_averages_have_intervals(tmp_path):
    plan = [("xnli", ["de", "fr"], ["charnoise"]), ("udpos", ["de"], ["charnoise"])]
    write_results_folder(tmp_path, SyntheticModel("m", skill=0.8, robustness=0.7), plan, n_docs=60)
    board = build_board(read_inputs([tmp_path]), n_boot=200, seed=0)
    for avg in board.averages:
        assert avg["drop_ci"][0] <= avg["drop"] <= avg["drop_ci"][1], avg
    (overall,) = [a for a in board.averages if a["level"] == "all"]
    assert overall["n_tasks"] == 2 and overall["clean_ci"] is not None
    assert stats.CONFIDENCE == 0.95


def test_conll_spans_equal_seqeval_get_entities():
    from seqeval.metrics.sequence_labeling import get_entities

    from leaderboards.units import conll_spans

    rng = np.random.default_rng(0)
    vocab = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "E-PER", "S-LOC", "I-MISC"]
    for _ in range(3000):
        tags = [vocab[int(k)] for k in rng.integers(0, len(vocab), int(rng.integers(0, 12)))]
        assert conll_spans(tags) == get_entities(tags), tags


@pytest.mark.parametrize("protocol", ["xtreme-adv", "xtreme", "xtreme-dev-threshold"])
def test_bucc_rescoring_equals_the_harness_aggregation(protocol):
    """harness_tasks logs (gold, mined, score, protocol, threshold); both threshold rules."""
    from harness_tasks.metrics import retrieval
    from leaderboards.names import TaskName
    from leaderboards.results import TaskResult, read_samples

    rng = np.random.default_rng(3)
    for _ in range(40):
        items, lines = [], []
        for i in range(int(rng.integers(5, 40))):
            gold = f"t{i}" if rng.random() < 0.8 else ""
            mined = gold if rng.random() < 0.6 else f"t{int(rng.integers(100, 110))}"
            score = float(rng.choice([0.5, 0.6, 0.7, 0.8, 0.9]))  # ties on purpose
            threshold = 0.65 if protocol == "xtreme-dev-threshold" else None
            value = [gold, mined, score, protocol.replace("-dev-threshold", ""), threshold]
            items.append(tuple(value))
            lines.append(json.dumps({"doc": {"id": str(i)}, "f1": value}).encode())
        task = TaskResult(TaskName("bucc", "de"), "f1", 0.0, None, 1, "1.0", None, {}, "x", 0.0)
        scores, _ = read_samples(lines, "x", task)
        assert scores.value() == pytest.approx(retrieval.bucc_f1(items), abs=1e-12)
