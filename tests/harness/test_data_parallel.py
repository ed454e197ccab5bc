"""``xtreme-adv eval run --nproc-per-node 2``: lm-eval's data parallelism over the
``xtreme-encoder`` adapter (two CPU processes, gloo) gives the results of one process, document
for document: classification sharded by lm-eval, retrieval over the whole task on each rank.
Tatoeba is scored under XTREME's protocol, where each English sentence queries the task's
source sentences: a rank holding half of them would answer from half the pool."""

from __future__ import annotations

import pytest

from tests.harness.conftest import read_run, run_cli

pytestmark = pytest.mark.slow

TASKS = "xtreme_xnli_de,xtreme_tatoeba_de"
LIMIT = "7"  # odd: the ranks hold 4 and 3 documents, so lm-eval pads one rank


def _run(tmp_path, name, checkpoint, xtreme_data_dir, extra=()):
    out = tmp_path / name
    proc = run_cli(
        ["eval", "run", "--model", "xtreme-encoder", "--model_args", f"pretrained={checkpoint}",
         "--tasks", TASKS, "--device", "cpu", "--batch_size", "4", "--limit", LIMIT,
         "--output_path", str(out), "--log_samples", *extra],
        env={"XTREME_DATA_DIR": str(xtreme_data_dir), "OMP_NUM_THREADS": "1",
             "XTREME_ADV_EMBED_CACHE": "off", "XTREME_PROTOCOL": "xtreme"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_run(out)


def _by_doc(samples: list[dict]) -> dict[int, list]:
    return {s["doc_id"]: s["filtered_resps"] for s in samples}


def test_two_processes_score_every_document_as_one_does(
    tmp_path, tiny_checkpoints, xtreme_data_dir
):
    ckpt = tiny_checkpoints["xnli"]
    one, one_samples = _run(tmp_path, "one", ckpt, xtreme_data_dir)
    two, two_samples = _run(tmp_path, "two", ckpt, xtreme_data_dir, ["--nproc-per-node", "2"])
    for task in TASKS.split(","):
        assert two["results"][task] == one["results"][task]
        assert _by_doc(two_samples[task]) == _by_doc(one_samples[task])
        assert len(two_samples[task]) == int(LIMIT)  # no padded copy is scored
        # rank 0 annotated the results: split and data hash of the task
        assert two["xtreme_adv"]["tasks"][task] == one["xtreme_adv"]["tasks"][task]
    assert two["xtreme_adv"]["tasks"]["xtreme_tatoeba_de"]["protocol"] == "xtreme"


def test_a_bad_process_count_is_one_line(tmp_path):
    proc = run_cli(["eval", "run", "--model", "xtreme-encoder", "--tasks", "xtreme_xnli_de",
                    "--nproc-per-node", "0"])  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "--nproc-per-node" in line and "'0'" in line
