"""SIGKILL crash harness: run a stage, kill it at a seeded random moment, re-run it, and check the
result against an uninterrupted run.

A trial (see `kill_and_recover`): run the stage in a fresh work folder and SIGKILL its process
group after `u * T` seconds, u drawn from a `random.Random` seeded by the trial's name and T the
duration of the uninterrupted reference run of that stage (so kills land inside the work, not in
interpreter start-up: runs are forked from a warm `driver` process); some trials kill the re-run
too. Right after each kill, the trial's `after_kill` check looks at what the killed run left
(what is published must already be whole: see test_sigkill.py). Then one more run to
completion, and the checks:

- `leftover_temps`: no temp file or folder anywhere (the `.tmp-<pid>-<hex>` names of
  impdist.io.atomic, `.tmp-*` checkpoint / cache / export folders, `*.tmp`, `*.spill`, `*.part`);
- `check_manifests`: every stage manifest is complete, and its shard list, row counts, sizes and
  sha256 agree with the shard files on disk (and no shard file is missing from it);
- `compare_trees`: the same files as the reference run, byte for byte, but for the fields named
  as volatile (timestamps, timings) which are removed from JSON before comparing.
"""
from __future__ import annotations

import fnmatch
import json
import os
import random
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from impdist.io.atomic import is_temp, sha256_file
from impdist.io.readers import read_rows
from impdist.io.stage import MANIFEST
from impdist.io.stats import STATS_FILE

REPO = Path(__file__).resolve().parents[2]
SHARD_SUFFIXES = (".jsonl", ".parquet")
_TEMP_RE = re.compile(r"(^\.tmp-|\.tmp-|\.tmp$|\.spill$|\.part$|\.partial$|\.incomplete$)")
# Manifest fields that record when, not what.
MANIFEST_VOLATILE = ("created", "updated", "completed")
STATS_VOLATILE = ("seconds", "rows_this_run", "rows_per_s", "completed")  # a resumed run times only itself


class Driver:
    """The fork server (tests/crash/driver.py) as a subprocess; `run` forks one stage run."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               "TOKENIZERS_PARALLELISM": "false"}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.crash.driver"], cwd=REPO, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        ready = self.proc.stdout.readline()
        if not ready:
            raise RuntimeError(f"the crash driver did not start (exit {self.proc.wait()})")

    def run(self, stage: str, spec: dict, *, cwd: Path, log: Path, env: dict | None = None,
            kill_after: float | None = None) -> dict:
        """Fork a run of `stage`; {"killed", "exit", "seconds", "pid"} once it ended or was killed."""
        request = {"stage": stage, "spec": spec, "cwd": str(cwd), "log": str(log), "env": env or {},
                   "kill_after": kill_after}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"the crash driver died (exit {self.proc.wait()})")
        return json.loads(answer)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- checks -----------------------------------------------------------------------------------

def leftover_temps(*roots: Path) -> list[Path]:
    """Temp files or folders under `roots` that a finished run should not have left."""
    found = []
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                if is_temp(name) or _TEMP_RE.search(name):
                    found.append(Path(dirpath) / name)
    return sorted(found)


def _is_temp_path(rel: Path) -> bool:
    return any(is_temp(part) or _TEMP_RE.search(part) for part in rel.parts)


def check_manifests(root: Path, *, finished: bool = True) -> list[str]:
    """Problems of the stage directories under `root`: each manifest must list shard files that
    are on disk with its row counts, sizes and sha256; once `finished`, it must also be complete
    and list every shard file (a killed run may have renamed a shard in but not recorded it)."""
    problems = []
    for mpath in sorted(root.rglob(MANIFEST)):
        stage_dir = mpath.parent
        if _is_temp_path(mpath.relative_to(root)):
            continue
        m = json.loads(mpath.read_bytes())
        if finished and m.get("status") != "complete":
            problems.append(f"{stage_dir.name}: status {m.get('status')!r}, not 'complete'")
        listed = set()
        for shard, entry in sorted(m["shards"].items()):
            path = stage_dir / entry["file"]
            listed.add(entry["file"])
            if entry["file"] != f"{shard}.{m['format']}":
                problems.append(f"{stage_dir.name}/{shard}: file {entry['file']!r} is not the shard's name")
            if not path.is_file():
                problems.append(f"{stage_dir.name}/{shard}: listed but {entry['file']} is missing")
                continue
            if path.stat().st_size != entry["bytes"]:
                problems.append(f"{stage_dir.name}/{shard}: {path.stat().st_size} bytes on disk, manifest says "
                                f"{entry['bytes']}")
            if sha256_file(path) != entry["sha256"]:
                problems.append(f"{stage_dir.name}/{shard}: sha256 differs from the manifest")
            rows = sum(1 for _ in read_rows(path))
            if rows != entry["rows"]:
                problems.append(f"{stage_dir.name}/{shard}: {rows} rows on disk, manifest says {entry['rows']}")
        for p in stage_dir.iterdir() if finished else ():
            if p.suffix in SHARD_SUFFIXES and p.is_file() and p.name not in listed:
                problems.append(f"{stage_dir.name}: shard file {p.name} is not in the manifest")
    return problems


def _drop(obj, paths: tuple[str, ...]):
    """`obj` without the dotted key paths in `paths` ("a.b" drops obj["a"]["b"])."""
    obj = json.loads(json.dumps(obj))
    for dotted in paths:
        *head, last = dotted.split(".")
        node = obj
        for key in head:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(last, None)
    return obj


@dataclass
class Volatile:
    """What may differ between two equal runs: JSON fields (dotted paths) and text regexes, per glob
    of the path relative to the run folder."""

    json_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    text_patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ignore: tuple[str, ...] = (".lock",)  # lock files: persistent by design, empty

    def normalize(self, rel: Path, data: bytes) -> bytes | object:
        if rel.name == "manifest.json":
            return _drop(json.loads(data), MANIFEST_VOLATILE)
        if rel.name == STATS_FILE:
            return _drop(json.loads(data), STATS_VOLATILE)
        for glob, fields in self.json_fields.items():
            if fnmatch.fnmatch(rel.as_posix(), glob):
                return _drop(json.loads(data), fields)
        for glob, patterns in self.text_patterns.items():
            if fnmatch.fnmatch(rel.as_posix(), glob):
                text = data.decode()
                for pattern in patterns:
                    text = re.sub(pattern, "<volatile>", text)
                return text
        return data


def _files(root: Path, ignore: tuple[str, ...], under: str | None = None) -> set[Path]:
    top = root / under if under else root
    return {p.relative_to(root) for p in top.rglob("*")
            if p.is_file() and not any(p.name.endswith(s) for s in ignore) and not _is_temp_path(p.relative_to(root))}


def compare_trees(ref: Path, got: Path, volatile: Volatile, *, under: str | None = None) -> list[str]:
    """Differences between the files under `ref` and under `got` (names, then contents); with
    `under`, only in that sub-folder (paths stay relative to the run folders, for `volatile`).
    Temp files and whatever lies in temp folders are not compared (`leftover_temps` is)."""
    a, b = _files(ref, volatile.ignore, under), _files(got, volatile.ignore, under)
    problems = [f"only in the reference run: {p}" for p in sorted(a - b)]
    problems += [f"only in the killed-and-resumed run: {p}" for p in sorted(b - a)]
    for rel in sorted(a & b):
        x, y = (ref / rel).read_bytes(), (got / rel).read_bytes()
        if x != y and volatile.normalize(rel, x) != volatile.normalize(rel, y):
            problems.append(f"{rel}: differs ({len(x)} vs {len(y)} bytes)")
    return problems


# --- a trial ------------------------------------------------------------------------------------

@dataclass
class Trial:
    """What happened in one trial: the kill delays tried and each run's outcome."""

    name: str
    runs: list[dict] = field(default_factory=list)

    @property
    def kills(self) -> int:
        return sum(r["killed"] for r in self.runs)

    def __str__(self) -> str:
        steps = ", ".join(f"{'killed' if r['killed'] else 'exit ' + str(r['exit'])} at {r['seconds']:.2f}s"
                          + (f" (asked {r['kill_after']:.2f}s)" if r.get("kill_after") is not None else "")
                          for r in self.runs)
        return f"{self.name}: {steps}"


def kill_points(name: str, duration: float, kills: int) -> list[float]:
    """`kills` delays uniform over (5%, 95%) of `duration`, seeded by the trial's name."""
    rng = random.Random(name)
    return [duration * rng.uniform(0.05, 0.95) for _ in range(kills)]


def kill_and_recover(driver: Driver, stage: str, name: str, work: Path, spec: dict, duration: float, *,
                     env: dict | None = None, kills: int = 1, prepare: Callable[[Path], None] | None = None,
                     after_kill: Callable[[Path], list[str]] | None = None) -> Trial:
    """Run `stage` in `work`, SIGKILLed at the trial's kill points, then once more to the end.

    The first kill must land (if the run finished first, the folder is wiped and the trial
    retried with half the delay); later kills hit the re-runs, which may finish before them.
    `after_kill(work)` runs after every kill that landed; the problems it returns fail the trial.
    """
    problems: list[str] = []

    def killed(r: dict) -> bool:
        if r["killed"] and after_kill is not None:
            problems.extend(f"after the kill at {r['seconds']:.2f}s: {p}" for p in after_kill(work))
        return r["killed"]

    trial = Trial(name)
    log = work.parent / f"{work.name}.log"
    delays = kill_points(name, duration, kills)
    first = delays[0]
    for _ in range(6):
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        if prepare:
            prepare(work)
        r = driver.run(stage, spec, cwd=work, log=log, env=env, kill_after=first)
        trial.runs.append({**r, "kill_after": first})
        if killed(r):
            break
        first /= 2
    else:
        raise AssertionError(f"{trial}: no kill landed inside the run")
    for delay in delays[1:]:
        r = driver.run(stage, spec, cwd=work, log=log, env=env, kill_after=delay)
        trial.runs.append({**r, "kill_after": delay})
        if not killed(r):
            break
    if trial.runs[-1]["killed"]:
        r = driver.run(stage, spec, cwd=work, log=log, env=env)
        trial.runs.append({**r, "kill_after": None})
    if problems:
        raise AssertionError(f"{trial}: a killed run left a broken state:\n" + "\n".join(problems))
    final = trial.runs[-1]
    if final["exit"] != 0:
        raise AssertionError(f"{trial}: the re-run failed:\n{log.read_text()[-4000:]}")
    return trial
