"""Writes a tiny exported student (tests.tiny_models' random Llama, trained 10 steps on generated
pairs, exported to ONNX fp32) into the folder named by argv[1]: what check_serve.sh serves from
a fresh `pip install '.[serve]'` venv. Runs in the dev venv (training and export need torch)."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from impdist.student.export import export_student
from impdist.student.train import TrainConfig, train
from tests.student.conftest import make_pairs, write_jsonl
from tests.tiny_models import tiny_llama_dir


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pairs = write_jsonl(root / "pairs.jsonl", make_pairs(40))
        config = TrainConfig(base=str(tiny_llama_dir(root / "llama")), max_steps=10, batch_size=4, lr=3e-3)
        train(pairs, root / "trained", config, save_every=10, threads=1, quiet=True)
        export_student(root / "trained", out, evaluate=False, threads=1)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
