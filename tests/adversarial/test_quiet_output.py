"""``xtreme-adv attack build`` is quiet by default: its own progress bar and one summary line per
set, none of the libraries' warnings or bars.

A fresh process on the real 2-layer embedded e5-small (its tokenizer triggers transformers'
spurious "incorrect regex pattern" warning when loaded plainly) and 4 real XNLI-de documents,
with the similarity floor on (so the similarity encoder's tokenizer is loaded too).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

XTREME_ADV = str(Path(sys.executable).with_name("xtreme-adv"))
NOISE = ("incorrect regex", "Creating parquet", "Warning", "WARNING", "Traceback", "Map:")


@pytest.mark.slow
@pytest.mark.shared_data
def test_attack_build_prints_its_bar_and_one_line(
    embedded_model_dir_small: Path, xtreme_data_dir: Path, tmp_path: Path
) -> None:
    quieting = ("TOKENIZERS_PARALLELISM", "PYTHONWARNINGS")
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_VERBOSITY") and k not in quieting}  # fmt: skip
    env.update(HF_HUB_OFFLINE="1", XTREME_DATA_DIR=str(xtreme_data_dir))
    run = subprocess.run(
        [XTREME_ADV, "attack", "build", "--task", "xnli", "--langs", "de", "--attack",
         "charnoise", "--limit", "4", "--out", str(tmp_path / "adv"),
         "--param", "similarity_model=embedded:2"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    output = run.stdout + run.stderr
    for noise in NOISE:
        assert noise not in output, (noise, output[-3000:])
    lines = [ln for ln in run.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("xtreme_adv_xnli_charnoise_de: 4/4 attacked")
    bars = {part.split(":")[0] for part in run.stderr.replace("\r", "\n").splitlines() if part}
    assert bars == {"xnli/charnoise/de"}, bars
