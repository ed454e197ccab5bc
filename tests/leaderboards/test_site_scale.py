"""The site at 1 and at 200 models in headless Chromium: screenshots, filters, no local paths."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leaderboards.cli import main
from leaderboards.synthetic import SyntheticModel, write_results_folder

from .test_site_browser import Dom

PLAN = [("xnli", ["de", "fr"], ["charnoise", "visual"])]


def _models(n: int) -> list[SyntheticModel]:
    out = []
    for i in range(n):
        inter = (i // 5) % 2 == 1
        out.append(
            SyntheticModel(
                f"m{i:03d}-{'anli' if inter else 'direct'}-s{i % 5 + 1}",
                recipe="intermediate" if inter else "direct", seed=i % 5 + 1,
                intermediate_tasks=["anli"] if inter else [], base_name=f"synthetic/base-{i // 10}",
                skill=0.7 + 0.002 * i, robustness=0.85 if inter else 0.7,
            )
        )  # fmt: skip
    return out


def _site(root: Path, n: int) -> Path:
    for m in _models(n):
        write_results_folder(root / "res", m, PLAN, n_docs=12)
    assert main(["build", str(root / "res"), "--out", str(root / "site"), "--bootstrap", "20"]) == 0
    return root / "site"


def _look(png: Path) -> tuple[float, int]:
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return float(img.std()), img.shape[1]


@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 200])
def test_site_at_1_and_200_models(n, tmp_path, browser, capsys):
    site = _site(tmp_path, n)
    capsys.readouterr()
    png = browser.screenshot(site / "index.html", tmp_path / f"index-{n}.png", size="1280,2000")
    std, _ = _look(png)
    assert std > 20
    dom = Dom(browser.dump_dom(site / "index.html"))
    assert dom.body.get("data-ready") == "1"
    assert len(dom.tables["models"]["rows"]) == n + 1
    # nothing wider than the window: no 20,000 px bar chart
    widths = [float(a["width"]) for t, a in dom.tags if t == "svg"]
    assert widths and max(widths) <= 1200, max(widths)
    # no absolute local path on any page
    for page in [site / "index.html", *sorted((site / "models").glob("*.html"))[:5]]:
        text = page.read_text()
        assert str(tmp_path) not in text and not re.search(r"/synthetic/checkpoints", text)
    if n == 200:
        # search filters the model table in the browser (the page reads ?q=)
        found = Dom(browser.dump_dom_url((site / "index.html").resolve().as_uri() + "?q=m013"))
        assert found.tables["models"]["attrs"]["data-shown"] == "1"
        assert len([s for s in found.tags if s[0] == "section"]) == 20  # one per base model
