"""Human validity judgments of adversarial sets, read from ``validity.json`` files.

``xtreme-adv attack validate import`` writes one file per judged set beside its data
(docs/contracts.md section 9): the judgment of each judged document keyed by its id. The
leaderboard meets the judgments only through these files (it imports no other package): a file
is paired with a row when its task, attack, language and ``data_sha256`` are those the results
record for the adversarial task (``xtreme_adv.tasks.<task>.data_sha256``), so judgments of
another build of a set are never used.

Rates are recomputed here from the judgments (never copied from the file), with the plain
Wilson 95% interval the manifest records (``scipy.stats.binomtest(...).proportion_ci``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from leaderboards import stats
from leaderboards.errors import LeaderboardError
from leaderboards.jsonio import loads, read_bytes

SCHEMA = "xtreme-adv/validity/1"
FILE = "validity.json"
JUDGMENTS = ("valid", "label_changed", "unreadable")
MAX_BYTES = 64 * 1024 * 1024
NOT_VALIDATED = "not validated"


@dataclass
class SetValidity:
    """The judgments of one adversarial set (one build: ``data_sha256``)."""

    task: str
    attack: str
    lang: str
    data_sha256: str
    judgments: dict[str, str]
    origin: str
    used: bool = field(default=False, compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        """(task, attack, lang), as in the task name ``xtreme_adv_<task>_<attack>_<lang>``."""
        return self.task, self.attack, self.lang

    def valid_ids(self) -> set[str]:
        """Ids of the documents judged valid."""
        return {doc for doc, j in self.judgments.items() if j == "valid"}

    def rates(self) -> dict:
        """``n_judged`` and, per judgment, count, rate and plain Wilson 95% interval."""
        n = len(self.judgments)
        out: dict = {"n_judged": n}
        for name in JUDGMENTS:
            k = sum(j == name for j in self.judgments.values())
            low, high = stats.wilson_interval(k, n, correction=False)
            out[name] = {"count": k, "rate": k / n, "ci": [low, high]}
        return out


def _check(data: object, origin: str) -> SetValidity:
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        shown = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise LeaderboardError(f"{origin}: schema is {shown!r}, expected {SCHEMA}")
    for key in ("task", "attack", "lang", "data_sha256"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise LeaderboardError(f"{origin}: {key} is {data.get(key)!r}, expected a string")
    judgments = data.get("judgments")
    if not isinstance(judgments, dict) or not judgments:
        raise LeaderboardError(f"{origin}: judgments is {judgments!r}, expected a non-empty object")
    for doc, value in judgments.items():
        if value not in JUDGMENTS:
            raise LeaderboardError(
                f"{origin}: judgments.{doc} is {value!r}, expected one of {', '.join(JUDGMENTS)}"
            )
    return SetValidity(
        data["task"], data["attack"], data["lang"], data["data_sha256"], dict(judgments), origin
    )


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if (path / FILE).is_file():
        return [path / FILE]
    if path.is_dir():
        found = sorted(p for p in path.glob(f"*/*/*/{FILE}") if p.is_file())
        if found:
            return found
    raise LeaderboardError(
        f"--validity {path}: no {FILE} (give the file, a set folder or a root of "
        "<task>/<attack>/<lang> sets judged with `xtreme-adv attack validate import`)"
    )


def load_validity(paths: Iterable[Path]) -> dict[tuple[str, str, str], list[SetValidity]]:
    """Every ``validity.json`` under ``paths``, grouped by (task, attack, lang)."""
    out: dict[tuple[str, str, str], list[SetValidity]] = {}
    seen: dict[tuple[str, str, str, str], Path] = {}
    read: set[Path] = set()
    for path in paths:
        for file in _files(Path(path)):
            if file.resolve() in read:  # the same file reached twice (a root and the file)
                continue
            read.add(file.resolve())
            record = _check(loads(read_bytes(file, MAX_BYTES), str(file)), str(file))
            ident = (*record.key, record.data_sha256)
            if ident in seen:
                raise LeaderboardError(
                    f"{file}: judges the same set ({'/'.join(record.key)}, data "
                    f"{record.data_sha256[:12]}) as {seen[ident]}; give one of them"
                )
            seen[ident] = file
            out.setdefault(record.key, []).append(record)
    return out


def match(
    validity: dict[tuple[str, str, str], list[SetValidity]],
    key: tuple[str, str, str],
    data_sha256: object,
    source: str,
) -> SetValidity | None:
    """The judgments of the set a row evaluated, or None when that set was not judged.

    Judgments of the same task, attack and language but of another build (other data hash),
    or results that do not record which set they scored, are an error: never a silent
    fallback to judgments of other texts.
    """
    found = validity.get(key)
    if not found:
        return None
    name = "xtreme_adv_{}_{}_{}".format(*key)
    if not isinstance(data_sha256, str) or not data_sha256:
        raise LeaderboardError(
            f"{source}: xtreme_adv.tasks.{name}.data_sha256 is missing, so the judgments in "
            f"{found[0].origin} cannot be paired with the set scored"
        )
    for record in found:
        if record.data_sha256 == data_sha256:
            record.used = True
            return record
    raise LeaderboardError(
        f"{found[0].origin}: judges {name} data {found[0].data_sha256[:12]}, but {source} scored "
        f"data {data_sha256[:12]} (another build of the set); judge that build or drop --validity"
    )


def row_fields(record: SetValidity | None) -> dict:
    """The validity fields of a leaderboard row (the set's, the same for every model)."""
    if record is None:
        return {
            "validity": NOT_VALIDATED, "n_judged": 0, "valid_rate": None, "valid_ci": None,
            "label_changed_rate": None, "unreadable_rate": None,
        }  # fmt: skip
    r = record.rates()
    return {
        "validity": "judged",
        "n_judged": r["n_judged"],
        "valid_rate": r["valid"]["rate"],
        "valid_ci": r["valid"]["ci"],
        "label_changed_rate": r["label_changed"]["rate"],
        "unreadable_rate": r["unreadable"]["rate"],
    }


def set_summary(validity: dict[tuple[str, str, str], list[SetValidity]]) -> list[dict]:
    """One entry per judgments file: the set, its hash, rates, and whether a row used it."""
    out = []
    for key in sorted(validity):
        for record in sorted(validity[key], key=lambda r: r.data_sha256):
            out.append(
                {
                    "task": record.task, "attack": record.attack, "lang": record.lang,
                    "data_sha256": record.data_sha256, "file": Path(record.origin).name,
                    "set": "/".join(key), "used": record.used, **record.rates(),
                }
            )  # fmt: skip
    return out
