"""student.json: what makes a model directory a student (prompt format, kind, data, training,
evaluation, export), written by `impdist train` and carried along by `impdist export`."""
from __future__ import annotations

import json
import os
from pathlib import Path

from impdist.io.atomic import write_bytes_atomic
from impdist.student.codes import PromptFormat
from impdist.student.errors import NotAStudentError

STUDENT_FILE = "student.json"
KINDS = ("decoder-only", "encoder-decoder")


def write_meta(folder: str | os.PathLike, meta: dict) -> Path:
    """Write student.json atomically (it is written last: its presence marks a finished student)."""
    path = Path(folder) / STUDENT_FILE
    write_bytes_atomic(path, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
    return path


def read_meta(folder: str | os.PathLike) -> dict:
    """student.json of a student directory; NotAStudentError names the fix when there is none."""
    path = Path(folder) / STUDENT_FILE
    if not Path(folder).is_dir():
        raise NotAStudentError(f"{folder}: no such folder; give the --out folder of `impdist train` or "
                               "`impdist export`")
    try:
        meta = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise NotAStudentError(f"{folder}: holds no {STUDENT_FILE}, so it is not a finished student; train one "
                               f"with `impdist train --data DATASET --out {folder}` (a killed run resumes)") from None
    except ValueError as e:
        raise NotAStudentError(f"{path}: unreadable ({e}); re-run `impdist train` into a fresh folder") from None
    if meta.get("kind") not in KINDS or "format" not in meta:
        raise NotAStudentError(f"{path}: lacks 'kind' or 'format'; it was not written by impdist")
    return meta


def prompt_format(meta: dict) -> PromptFormat:
    """The prompt format a student was trained with."""
    return PromptFormat.from_json(meta["format"])
