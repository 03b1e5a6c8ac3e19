"""Checkpoints of a training run: `checkpoints/step-NNNNNN/` folders published atomically
(impdist.io.atomic.publish_dir: temp folder, fsync, rename; only the newest kept), and the
identity check that keeps runs apart."""
from __future__ import annotations

import shutil
from pathlib import Path

from impdist.io import canonical_json
from impdist.io.atomic import is_temp, publish_dir, remove_dir
from impdist.student.errors import TrainConflictError

CHECKPOINTS = "checkpoints"
STATE_FILE = "state.json"
WEIGHTS_FILE = "weights.pt"


def checkpoints(out: Path) -> list[Path]:
    """The finished checkpoint folders of a run, oldest first."""
    root = out / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-")
                  and (p / STATE_FILE).exists())


def save_checkpoint(out: Path, state: dict, model, optimizer, scheduler, torch) -> None:
    """Publish checkpoints/step-N (weights, then state.json), then drop the older ones."""
    final = out / CHECKPOINTS / f"step-{state['step']:06d}"

    def build(tmp: Path) -> None:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict()}, tmp / WEIGHTS_FILE)
        (tmp / STATE_FILE).write_bytes(canonical_json(state).encode())

    publish_dir(build, final, replace=True)
    for old in checkpoints(out):
        if old != final:
            remove_dir(old)  # renamed aside first: a kill never leaves half a checkpoint listed


def clean_temps(out: Path) -> None:
    """Remove what saves and deletions killed half-way left (their folders were never renamed
    in, or were renamed aside); one trainer per run folder, so every temp there is dead."""
    root = out / CHECKPOINTS
    for tmp in root.iterdir() if root.is_dir() else []:
        if is_temp(tmp.name) or tmp.name.startswith(".tmp-"):  # .tmp-*: written before publish_dir
            shutil.rmtree(tmp, ignore_errors=True)


def check_same_run(out: Path, identity: dict, what: str, found: dict) -> None:
    """TrainConflictError unless `found` (a checkpoint's or student.json's identity) is `identity`."""
    if canonical_json(found) != canonical_json(identity):
        raise TrainConflictError(
            f"{out}: its {what} belongs to a training run with another config or other data "
            f"({_diff(found, identity)}). Train into another --out folder, or delete {out} to start over.")


def _diff(old: dict, new: dict) -> str:
    if old.get("data") != new.get("data"):
        return "the dataset changed"
    a, b = old.get("config", {}), new.get("config", {})
    changed = [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return "; ".join(changed) or "unknown difference"
