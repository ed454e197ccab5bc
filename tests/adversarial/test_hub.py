"""``xtreme-adv attack push/pull``: a round trip through a stand-in Hub repo, and its errors.

The Hub is unreachable here. Only the network calls of huggingface_hub are replaced
(``HfApi.create_repo``, ``HfApi.upload_folder``, ``snapshot_download``): the fakes copy files
to and from a local folder that stands in for the Hub dataset repo, selecting them with
huggingface_hub's own ``filter_repo_objects`` (the pattern matching the real calls use).
Everything else (the set folders, hashing, the atomic swap, the YAML) is the real code.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from adversarial.build import BuildRequest, build
from adversarial.cli import main
from adversarial.registry import _IgnoreTags, lm_eval_dataset, load_set, tasks_dir

pytestmark = pytest.mark.shared_data

TASK, ATTACK, LANG = "xnli", "charnoise", "de"
NAME = f"xtreme_adv_{TASK}_{ATTACK}_{LANG}"
REPO = "someone/xtreme-adv-sets"


@pytest.fixture(scope="module")
def built_root(tmp_path_factory, xtreme_data_dir) -> Path:
    """A root holding one small built set (8 XNLI-de documents, character noise)."""
    root = tmp_path_factory.mktemp("pushed") / "adv"
    request = BuildRequest(
        TASK, LANG, ATTACK, {"min_similarity": 0}, data_dir=str(xtreme_data_dir), limit=8
    )
    build(request, root=root, progress=False)
    return root


class FakeHub:
    """Local folders standing in for Hub dataset repos (``<base>/<owner>/<name>/``)."""

    def __init__(self, base: Path):
        self.base = base
        self.calls: list[tuple[str, dict]] = []

    def repo_dir(self, repo_id: str) -> Path:
        return self.base / repo_id

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import huggingface_hub

        hub = self

        def create_repo(self, repo_id, *, repo_type=None, exist_ok=False, **kwargs):
            hub.calls.append(("create_repo", {"repo_id": repo_id, "repo_type": repo_type}))
            hub.repo_dir(repo_id).mkdir(parents=True, exist_ok=exist_ok)
            return f"https://huggingface.co/datasets/{repo_id}"

        def upload_folder(self, *, repo_id, folder_path, repo_type=None, allow_patterns=None,
                          **kwargs):  # fmt: skip
            from huggingface_hub.utils import filter_repo_objects

            hub.calls.append(("upload_folder", {"repo_id": repo_id, "repo_type": repo_type}))
            folder = Path(folder_path)
            files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
            for rel in filter_repo_objects(files, allow_patterns=allow_patterns):
                dest = hub.repo_dir(repo_id) / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / rel, dest)
            return SimpleNamespace(commit_url=f"https://huggingface.co/datasets/{repo_id}/commit/1")

        def snapshot_download(repo_id, *, repo_type=None, allow_patterns=None, local_dir=None,
                              **kwargs):  # fmt: skip
            from huggingface_hub.errors import RepositoryNotFoundError
            from huggingface_hub.utils import filter_repo_objects

            hub.calls.append(("snapshot_download", {"repo_id": repo_id, "repo_type": repo_type}))
            repo = hub.repo_dir(repo_id)
            if not repo.is_dir():
                raise RepositoryNotFoundError(
                    f"404 Client Error.\n\nRepository Not Found: {repo_id}"
                )
            out = Path(local_dir)
            (out / ".cache" / "huggingface").mkdir(parents=True, exist_ok=True)  # as the real one
            files = [p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()]
            for rel in filter_repo_objects(files, allow_patterns=allow_patterns):
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(repo / rel, out / rel)
            return str(out)

        monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
        monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
        monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """The stand-in Hub, installed over huggingface_hub's network calls."""
    hub = FakeHub(tmp_path / "hub")
    hub.install(monkeypatch)
    return hub


def _hub_args(command: str, root: Path, repo: str = REPO, lang: str = LANG) -> list[str]:
    return [command, "--task", TASK, "--attack", ATTACK, "--langs", lang, "--repo", repo,
            "--out", str(root)]  # fmt: skip


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("xtreme-adv attack: error: ")
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def _set_files(root: Path) -> dict[str, bytes]:
    folder = root / TASK / ATTACK / LANG
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _leftovers(root: Path) -> list[Path]:
    """Temporary folders of pulls that should be gone."""
    return [p for p in root.rglob("*") if "pull-" in p.name or ".tmp-" in p.name]


def test_push_pull_round_trip(built_root, fake_hub, tmp_path, capsys):
    assert main(_hub_args("push", built_root)) == 0
    assert NAME in capsys.readouterr().out
    repo = fake_hub.repo_dir(REPO)
    assert {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()} == {
        f"{TASK}/{ATTACK}/{LANG}/data.parquet",
        f"{TASK}/{ATTACK}/{LANG}/manifest.json",
        f"tasks/{NAME}.yaml",
    }
    assert {kwargs["repo_type"] for _, kwargs in fake_hub.calls} == {"dataset"}

    local = tmp_path / "elsewhere" / "adv"
    assert main(_hub_args("pull", local)) == 0
    assert "verified" in capsys.readouterr().out
    # Byte-identical data and manifest.
    assert _set_files(local) == _set_files(built_root)
    assert _leftovers(local) == []

    # Loadable like a locally built set, and registered for this root (not the pusher's).
    dataset, manifest = load_set(TASK, ATTACK, LANG, root=local)
    original, _ = load_set(TASK, ATTACK, LANG, root=built_root)
    assert dataset.to_list() == original.to_list() and len(dataset) == 8
    assert manifest["task_name"] == NAME
    spec = yaml.load((tasks_dir(local) / f"{NAME}.yaml").read_text(), Loader=_IgnoreTags)
    assert spec["task"] == NAME
    assert "root" not in spec["dataset_kwargs"]  # the root is where the YAML is (registry.py)
    assert "include" not in spec and spec["metric_list"]  # the clean configuration itself
    pushed = yaml.load((repo / "tasks" / f"{NAME}.yaml").read_text(), Loader=_IgnoreTags)
    assert pushed["dataset_kwargs"] == spec["dataset_kwargs"]
    group = yaml.safe_load((tasks_dir(local) / f"xtreme-adv-{TASK}-{ATTACK}.yaml").read_text())
    assert group["task"] == [NAME]
    # What lm-eval's custom_dataset hook returns from the pulled YAML's own arguments.
    loaded = lm_eval_dataset(**spec["dataset_kwargs"], root=str(local))
    assert loaded["eval"].to_list() == original.to_list()
    # And lm-eval itself builds the task from the pulled root's task folder.
    from lm_eval.tasks import TaskManager

    from harness_tasks import tasks_path

    manager = TaskManager(include_path=[str(tasks_path()), str(tasks_dir(local))],
                          include_defaults=False)  # fmt: skip
    task = manager.load([NAME])["tasks"][NAME]
    assert [doc["id"] for doc in task.eval_docs] == [row["id"] for row in original]

    # Pulling again over an existing set replaces it atomically with identical bytes.
    assert main(_hub_args("pull", local)) == 0
    assert _set_files(local) == _set_files(built_root)
    assert _leftovers(local) == []


def test_human_judgments_travel_with_the_set(built_root, fake_hub, tmp_path, capsys):
    import csv

    judged = tmp_path / "judged" / "adv"
    shutil.copytree(built_root, judged)
    sheet = tmp_path / "sheet"
    assert (
        main(["validate", "export", "--out", str(judged), "--sheet", str(sheet), "--n", "3"]) == 0
    )
    path = sheet / "validation.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rows, "nothing to judge"
    for row in rows:
        row["judgment"] = "valid"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["validate", "import", "--out", str(judged), "--sheet", str(path)]) == 0
    assert (judged / TASK / ATTACK / LANG / "validity.json").is_file()

    assert main(_hub_args("push", judged, repo="me/judged")) == 0
    local = tmp_path / "elsewhere" / "adv"
    assert main(_hub_args("pull", local, repo="me/judged")) == 0
    capsys.readouterr()
    # The judgments and the manifest that counts them arrive byte-identical with the data.
    assert _set_files(local) == _set_files(judged)
    assert "validity.json" in _set_files(local)


def test_pull_hash_mismatch_keeps_local_set(built_root, fake_hub, tmp_path, capsys):
    assert main(_hub_args("push", built_root)) == 0
    local = tmp_path / "adv"
    assert main(_hub_args("pull", local)) == 0
    before = _set_files(local)
    capsys.readouterr()

    data = fake_hub.repo_dir(REPO) / TASK / ATTACK / LANG / "data.parquet"
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    data.write_bytes(bytes(blob))
    assert main(_hub_args("pull", local)) == 2
    _one_line_error(capsys, REPO, TASK, ATTACK, LANG, "sha256", "does not match")
    assert _set_files(local) == before
    assert _leftovers(local) == []

    fresh = tmp_path / "fresh"
    assert main(_hub_args("pull", fresh)) == 2
    _one_line_error(capsys, REPO, "sha256")
    assert not (fresh / TASK).exists() and not (tasks_dir(fresh)).exists()
    assert _leftovers(fresh) == []


def test_push_without_local_set(fake_hub, tmp_path, capsys):
    assert main(_hub_args("push", tmp_path / "empty")) == 2
    _one_line_error(capsys, REPO, TASK, ATTACK, LANG, "no built set", "attack build")
    assert fake_hub.calls == []


def test_push_refuses_corrupted_local_set(built_root, fake_hub, tmp_path, capsys):
    root = tmp_path / "adv"
    shutil.copytree(built_root, root)
    (root / TASK / ATTACK / LANG / "data.parquet").write_bytes(b"not the data")
    assert main(_hub_args("push", root)) == 2
    _one_line_error(capsys, REPO, TASK, ATTACK, LANG, "does not match")
    assert fake_hub.calls == []


def test_pull_missing_repo_and_missing_set(built_root, fake_hub, tmp_path, capsys):
    local = tmp_path / "adv"
    assert main(_hub_args("pull", local, repo="nobody/nothing")) == 2
    _one_line_error(capsys, "nobody/nothing", TASK, ATTACK, LANG, "repository not found")
    assert _leftovers(local) == [] and not (local / TASK).exists()

    assert main(_hub_args("push", built_root)) == 0
    capsys.readouterr()
    assert main(_hub_args("pull", local, lang="fr")) == 2
    _one_line_error(capsys, REPO, TASK, ATTACK, "fr", "no set")
    assert _leftovers(local) == [] and not (local / TASK).exists()


def test_hub_unreachable(built_root, monkeypatch, tmp_path, capsys):
    import huggingface_hub
    import requests
    from huggingface_hub.errors import LocalEntryNotFoundError

    def unreachable(*args, **kwargs):
        raise requests.ConnectionError("Failed to resolve 'huggingface.co'")

    def offline_snapshot(*args, **kwargs):
        # What snapshot_download raises when the Hub cannot be reached and nothing is cached.
        raise LocalEntryNotFoundError(
            "An error happened while trying to locate the files on the Hub and we cannot find "
            "the appropriate snapshot folder for the specified revision on the local disk.\n"
            "Please check your internet connection and try again."
        )

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", unreachable)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", unreachable)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline_snapshot)
    assert main(_hub_args("push", built_root)) == 2
    _one_line_error(capsys, REPO, TASK, ATTACK, LANG, "unreachable")
    local = tmp_path / "adv"
    assert main(_hub_args("pull", local)) == 2
    _one_line_error(capsys, REPO, TASK, ATTACK, LANG, "unreachable")
    assert _leftovers(local) == [] and not (local / TASK).exists()
