"""Fixtures: synthetic lm-eval 0.4.13 result folders, a tasks folder, headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from leaderboards.synthetic import seed_set, write_results_folder, write_tasks_dir

REAL = Path(__file__).parent / "data" / "lm_eval_0.4.13_dummy"
# Two families with different language counts, so "languages, then tasks" differs from a
# pooled mean; two attacks; three seeds per recipe.
PLAN = [
    ("xnli", ["de", "fr", "sw"], ["charnoise", "visual"]),
    ("mlqa", ["de", "es"], ["charnoise", "visual"]),
]
LANGS = {"xnli": ["de", "fr", "sw"], "mlqa": ["de", "es"]}
N_DOCS = 120
SEEDS = [1, 2, 3]


def models():
    """Direct (less robust) and ANLI-intermediate (more robust) models, three seeds each."""
    return seed_set("direct", SEEDS, skill=0.8, robustness=0.7) + seed_set(
        "intermediate", SEEDS, skill=0.8, robustness=0.85
    )


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """lm-eval output folder with six models (results + samples + provenance in config)."""
    out = tmp_path_factory.mktemp("corpus")
    for model in models():
        write_results_folder(out, model, PLAN, n_docs=N_DOCS)
    return out


@pytest.fixture
def corpus_copy(corpus, tmp_path) -> Path:
    """A private copy of the corpus that a test may damage."""
    dst = tmp_path / "results"
    shutil.copytree(corpus, dst)
    return dst


@pytest.fixture(scope="session")
def tasks_dir(tmp_path_factory) -> Path:
    """A tasks folder shaped like harness_tasks/tasks, covering exactly PLAN's languages."""
    return write_tasks_dir(tmp_path_factory.mktemp("tasks"), LANGS)


def results_file(folder: Path) -> Path:
    """The single results_*.json of a model folder."""
    (path,) = sorted(folder.glob("results_*.json"))
    return path


def edit_results(path: Path, change) -> None:
    """Load a results file, let ``change`` mutate the dict, write it back."""
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


@dataclass
class Browser:
    """Headless Chromium driven from the command line (no WebDriver needed)."""

    exe: str
    profile: Path

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [
            self.exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={self.profile}", "--virtual-time-budget=3000",
            *args,
        ]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)

    def dump_dom(self, page: Path) -> str:
        """The DOM after the page's scripts ran, serialised."""
        return self._run("--dump-dom", page.resolve().as_uri()).stdout

    def dump_dom_url(self, url: str) -> str:
        """The DOM of a URL (a page with a query string) after its scripts ran."""
        return self._run("--dump-dom", url).stdout

    def screenshot(self, page: Path, png: Path, size: str = "1280,1400") -> Path:
        """A PNG of the rendered page."""
        self._run(f"--window-size={size}", f"--screenshot={png}", page.resolve().as_uri())
        return png


@pytest.fixture(scope="session")
def browser(tmp_path_factory) -> Browser:
    """Debian's chromium; the browser tests skip (with the reason) only when it is absent."""
    names = ("chromium", "chromium-browser", "google-chrome")
    exe = next((shutil.which(n) for n in names if shutil.which(n)), None)
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return Browser(exe, tmp_path_factory.mktemp("chromium-profile"))
