"""Checkpoints of a training run: `checkpoints/step-NNNNNN/` folders written atomically (temp
folder, fsync, rename; only the newest kept), and the identity check that keeps runs apart."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from impdist.io import canonical_json
from impdist.io.atomic import fsync_dir, write_bytes_atomic
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
    """Write checkpoints/step-N atomically (temp folder, fsync, rename), then drop older ones."""
    root = out / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{state['step']:06d}"
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict()}, tmp / WEIGHTS_FILE)
    fd = os.open(tmp / WEIGHTS_FILE, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    write_bytes_atomic(tmp / STATE_FILE, canonical_json(state).encode())
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    fsync_dir(root)
    for old in checkpoints(out):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)


def clean_temps(out: Path) -> None:
    """Remove what a save killed half-way left (its checkpoint was never renamed in)."""
    root = out / CHECKPOINTS
    for tmp in root.glob(".tmp-*") if root.is_dir() else []:
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
