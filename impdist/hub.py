"""`impdist push`: publish a filtered dataset (its shards and README card) or an exported student
to the Hugging Face Hub with huggingface_hub's `upload_folder`.

What goes up is decided here, offline, before any network call: a dataset stage's files or an
export's files, less lock files and temp files. `dry_run=True` stops there, so the list can be
checked without a network; a Hub that cannot be reached (or refuses the token) raises one
ImpdistError naming the cause and the fix, never a traceback.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from impdist.errors import ImpdistError
from impdist.extras import require
from impdist.filters.card import CARD_MD
from impdist.filters.pipeline import find_dataset
from impdist.io.atomic import is_temp
from impdist.io.stage import LOCK
from impdist.student.errors import StudentError
from impdist.student.meta import read_meta

RepoType = Literal["dataset", "model"]


class PushError(ImpdistError):
    """A push that cannot start (nothing to publish, a bad repo id) or that the Hub refused."""


@dataclass(frozen=True)
class PushPlan:
    """What `push` uploads: `files` (relative to `folder`) to the `repo_type` repo `repo_id`."""

    folder: Path
    repo_id: str
    repo_type: RepoType
    files: tuple[str, ...]
    bytes: int

    def __str__(self) -> str:
        head = (f"{len(self.files)} files ({self.bytes / 1e6:.1f} MB) from {self.folder} to the {self.repo_type} "
                f"repo {self.repo_id}:")
        return "\n".join([head, *(f"  {name}\t{(self.folder / name).stat().st_size}" for name in self.files)])


def _export_folder(path: Path) -> bool:
    try:
        return "export" in read_meta(path)
    except StudentError:
        return False


def _folder_and_type(path: Path) -> tuple[Path, RepoType]:
    """The folder to upload and its repo type: an export (model), or a dataset stage (the folder
    itself or the latest one under a run folder)."""
    if not path.is_dir():
        raise PushError(f"{path}: no such folder. Give an `impdist export` folder, a dataset folder or a run "
                        "folder (its latest dataset is pushed).")
    if _export_folder(path):
        return path, "model"
    try:
        stage = find_dataset(path)
    except ImpdistError:
        raise PushError(f"{path}: neither an `impdist export` folder nor a dataset (or a run folder holding one). "
                        "Push the folder `impdist export --out` or `impdist filter` wrote.") from None
    if not stage.is_complete:
        raise PushError(f"{stage.path}: this dataset is not complete; re-run the filter so it finishes, then push.")
    if not (stage.path / CARD_MD).is_file():
        raise PushError(f"{stage.path}: has no {CARD_MD} (an impdist before 0.3 wrote card.md): re-run `impdist "
                        "filter` into a new --out folder to get a Hub card, then push that.")
    return stage.path, "dataset"


def _files(folder: Path) -> list[str]:
    """Every file under `folder` to upload, sorted: not lock files, not temp files (or their contents)."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and p.name != LOCK and not any(is_temp(part) for part in rel.parts):
            out.append(rel.as_posix())
    return out


def plan_push(path: str | os.PathLike, repo_id: str) -> PushPlan:
    """What `push(path, repo_id)` would upload; checks the repo id and the folder, offline."""
    require("hub", what="impdist push")
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise PushError(f"{repo_id!r} is not a Hub repo id ({e}). Use OWNER/NAME, e.g. my-name/my-dataset.") from None
    if "/" not in repo_id:
        raise PushError(f"{repo_id!r}: give the owner too, OWNER/NAME (your user name or an organisation).")
    folder, repo_type = _folder_and_type(Path(path))
    files = _files(folder)
    return PushPlan(folder, repo_id, repo_type, tuple(files), sum((folder / f).stat().st_size for f in files))


def _network_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the Hub was not reached or refused us (huggingface_hub's own, and
    those of the HTTP client it runs on)."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    errors: list[type[BaseException]] = [HfHubHTTPError, OfflineModeIsEnabled, OSError]  # requests' are OSErrors
    try:
        import httpx  # huggingface_hub >= 1.0 runs on httpx
        errors.append(httpx.HTTPError)
    except ImportError:
        pass
    return tuple(errors)


def _why(exc: BaseException, repo_id: str) -> str:
    """One line: why the push failed, and the fix."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled):
        return "offline mode is on (HF_HUB_OFFLINE is set); unset it to push"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, HfHubHTTPError) and status in (401, 403):
        return (f"the Hub refused the credentials (HTTP {status}); log in with `hf auth login` or set HF_TOKEN to a "
                f"token with write access to {repo_id}")
    if isinstance(exc, HfHubHTTPError):
        lines = str(exc).strip().splitlines()
        return f"the Hub answered {lines[0] if lines else f'HTTP {status}'}"
    return (f"{constants.ENDPOINT} cannot be reached ({type(exc).__name__}); check the network, or HF_ENDPOINT for "
            "a mirror")


def push(path: str | os.PathLike, repo_id: str, *, dry_run: bool = False, private: bool = False,
         message: str | None = None) -> PushPlan:
    """Upload a dataset folder or an export to the Hub repo `repo_id` (created if missing; the
    token comes from `hf auth login` or HF_TOKEN); with `dry_run`, only plan it, offline."""
    plan = plan_push(path, repo_id)
    if dry_run:
        return plan
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type=plan.repo_type, private=private, exist_ok=True)
        api.upload_folder(folder_path=plan.folder, repo_id=repo_id, repo_type=plan.repo_type,
                          allow_patterns=[glob.escape(f) for f in plan.files],
                          commit_message=message or f"impdist push of {plan.folder.name}")
    except _network_errors() as e:
        raise PushError(f"cannot push {plan.folder} to {repo_id}: {_why(e, repo_id)} (`impdist push --dry-run` "
                        "lists the files offline).") from None
    return plan
