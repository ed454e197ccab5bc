"""The static site rendered in headless Chromium: not blank, table = JSON, scripts inert."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from leaderboards.cli import main
from leaderboards.site import model_slug
from leaderboards.submission import submit
from leaderboards.synthetic import SyntheticModel, write_results_folder

from .conftest import PLAN


class Dom(HTMLParser):
    """Collects what the tests look at from a dumped DOM."""

    def __init__(self, html: str):
        super().__init__()
        self.title = ""
        self.body: dict[str, str] = {}
        self.tables: dict[str, dict] = {}
        self.tags: list[tuple[str, dict]] = []
        self._table = None
        self._row = None
        self._cell = None
        self._in_title = False
        self._titles = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "title" and not self._titles:  # the page's; later ones are SVG tooltips
            self._in_title = True
            self._titles += 1
        elif tag == "body":
            self.body = a
        elif tag == "table" and a.get("id"):
            self._table = self.tables[a["id"]] = {"attrs": a, "rows": []}
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = [a, ""]

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(tuple(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._cell is not None:
            self._cell[1] += data


@pytest.fixture(scope="module")
def site(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    assert main(["build", str(corpus), "--out", str(out), "--bootstrap", "200"]) == 0
    return out


def _not_blank(png):
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.float64)
    non_white = np.mean(np.any(pixels < 200, axis=2))
    return pixels.std(), non_white


def test_screenshots_are_not_blank(site, browser, tmp_path):
    png = browser.screenshot(site / "index.html", tmp_path / "index.png", size="1280,2600")
    std, ink = _not_blank(png)
    assert std > 20 and ink > 0.02, (std, ink)
    # The difference-of-drops heatmaps are drawn: the intermediate models are more robust,
    # so strongly blue cells exist.
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert np.sum((img[..., 2] > 230) & (img[..., 0] < 150) & (img[..., 1] < 150)) > 500
    page = site / "models" / model_slug("e5s-xnli-direct-s1")
    png = browser.screenshot(page, tmp_path / "model.png", size="1280,1600")
    std, ink = _not_blank(png)
    assert std > 20 and ink > 0.02
    # The model's PDR heatmap: red cells (the attack lowers scores).
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert np.sum((img[..., 0] > 230) & (img[..., 1] < 150) & (img[..., 2] < 150)) > 500


def test_index_table_matches_the_json_after_the_script_sorted_it(site, browser):
    dom = Dom(browser.dump_dom(site / "index.html"))
    assert dom.body.get("data-ready") == "1"  # the inline script ran (CSP allowed it)
    table = dom.tables["models"]
    assert table["attrs"]["data-sorted"] == "adv:desc"
    header = [text for _, text in table["rows"][0]]
    assert header[:7] == ["model", "recipe", "seed", "clean", "adversarial", "drop", "PDR"]
    board = json.loads((site / "leaderboard.json").read_text())
    # Expected values, recomputed from the JSON: mean over attacks of the "all" averages.
    expected = {}
    for m in board["models"]:
        alls = [a for a in board["averages"] if a["model"] == m["model"] and a["level"] == "all"]
        clean = np.mean([a["clean"] for a in alls])
        adv = np.mean([a["adv"] for a in alls])
        expected[m["model"]] = (m["recipe"], str(m["seed"]), clean, adv, clean - adv)
    body = table["rows"][1:]
    assert len(body) == len(expected) == 6
    seen_adv = []
    for cells in body:
        texts = [t.strip() for _, t in cells]
        recipe, seed, clean, adv, drop = expected[texts[0]]
        assert texts[1:3] == [recipe, seed]
        assert texts[3:6] == [f"{100 * clean:.1f}", f"{100 * adv:.1f}", f"{100 * drop:.1f}"]
        assert float(cells[4][0]["data-v"]) == pytest.approx(adv)
        seen_adv.append(adv)
    assert seen_adv == sorted(seen_adv, reverse=True)  # sorted by the page's script
    # The source order was by model id, so sorting changed it.
    assert [c[0][1] for c in body] != sorted(c[0][1] for c in body)


def test_charts_reflect_the_json(site, browser):
    dom = Dom(browser.dump_dom(site / "index.html"))
    board = json.loads((site / "leaderboard.json").read_text())
    svgs = [a.get("class") for t, a in dom.tags if t == "svg"]
    # one comparison family: its forest plot, a heatmap per task, then the PDR heatmap
    assert svgs == ["forest", "heatmap", "heatmap", "heatmap"]
    circles = [a for t, a in dom.tags if t == "circle"]
    whiskers = [a for t, a in dom.tags if t == "line" and a.get("class") == "whisker"]
    assert len(circles) == len(whiskers) == len(board["comparison_averages"]) == 6
    # every chart has its axis labels and a colour legend
    html = (site / "index.html").read_text()
    assert html.count('class="legend"') == 3 and html.count(">language</text>") == 3
    assert "difference of drops, intermediate - direct (x100)" in html
    # The comparison table rows equal the comparisons, with p and adjusted p.
    rows = dom.tables["cmp0"]["rows"][1:]
    assert len(rows) == len(board["comparisons"])
    assert sorted(float(r[6][0]["data-v"]) for r in rows) == pytest.approx(
        sorted(c["diff"] for c in board["comparisons"])
    )
    assert sorted(float(r[10][0]["data-v"]) for r in rows) == pytest.approx(
        sorted(c["p_adjusted"] for c in board["comparisons"])
    )


def test_model_page_shows_rows_and_provenance(site, browser):
    page = site / "models" / model_slug("e5s-xnli-anli-s2")
    dom = Dom(browser.dump_dom(page))
    board = json.loads((site / "leaderboard.json").read_text())
    rows = [r for r in board["rows"] if r["model"] == "e5s-xnli-anli-s2"]
    table = dom.tables["rows"]["rows"][1:]
    assert len(table) == len(rows) == 10
    drops = [float(c[7][0]["data-v"]) for c in table]  # the 8th column: drop
    assert drops == sorted(drops, reverse=True)
    assert sorted(drops) == pytest.approx(sorted(r["drop"] for r in rows))
    html = page.read_text()
    assert "&quot;intermediate_tasks&quot;: [" in html and "anli" in html  # the card, escaped


def test_a_script_in_a_model_name_never_runs(tmp_path, browser, capsys):
    evil = (
        "<script>document.title='pwned';document.body.setAttribute('data-pwned','1')</script>"
        "<img src=x onerror=\"document.title='pwned'\">"
    )
    model = SyntheticModel(evil, seed=7)
    write_results_folder(tmp_path / "res", model, PLAN, n_docs=20)
    sub = tmp_path / "evil.tar.gz"
    submit([tmp_path / "res"], sub)
    site = tmp_path / "site"
    assert main(["build", str(sub), "--out", str(site), "--bootstrap", "20"]) == 0
    capsys.readouterr()
    for page in (site / "index.html", site / "models" / model_slug(evil)):
        assert page.is_file()
        dom = Dom(browser.dump_dom(page))
        assert "pwned" not in dom.title.replace(evil, "")
        assert "data-pwned" not in dom.body
        assert not [a for t, a in dom.tags if t == "img"]
        # Only our own script element exists; the name is text, shown as written.
        scripts = [a for t, a in dom.tags if t == "script"]
        assert len(scripts) == 1
        text = page.read_text()
        assert "&lt;script&gt;document.title=&#x27;pwned&#x27;" in text
    index = Dom(browser.dump_dom(site / "index.html"))
    assert index.title == "xtreme-adv robustness leaderboard"
    assert index.tables["models"]["rows"][1][0][1] == evil
