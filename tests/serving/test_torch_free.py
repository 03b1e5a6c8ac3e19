"""The serving install's path in the dev venv: with torch, transformers and the export stack made
unimportable, impdist.Paraphraser loads an export and serves all of it (greedy, sampling, control
codes, the extractive constraint, best_of) with the same outputs as the full install."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.judges.test_equivalence import tiny_bert_dir

# What `pip install 'impdist[serve]'` does not bring (the [models] extra's stack).
ABSENT = ("torch", "transformers", "optimum", "accelerate", "gguf", "onnx", "onnx_ir", "sentence_transformers",
          "huggingface_hub", "safetensors")
TEXTS = ["the city council voted on tuesday", "police arrested two men", "heavy rain caused flooding across region"]
REQUESTS = [
    ("paraphrase", {}),
    ("paraphrase", {"n": 2, "seed": 4, "diversity": 0.5}),
    ("summarize", {"extractive": True, "compression": 0.6}),
    ("summarize", {"extractive": True, "best_of": 3, "seed": 1}),
]


def _outputs(student, embedder: str) -> list:
    return [getattr(student, method)(TEXTS, **options, **({"embedder": embedder} if "best_of" in options else {}))
            for method, options in REQUESTS]


def test_an_export_serves_everything_without_torch_or_transformers(exported, student, tmp_path):
    embedder = str(tiny_bert_dir(tmp_path / "embedder"))
    code = textwrap.dedent(f"""
        import importlib.abc, importlib.util, json, sys
        ABSENT = {ABSENT!r}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ABSENT:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Block())
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda n, *a, **k: None if n.split(".")[0] in ABSENT else real(n, *a, **k)
        from impdist import Paraphraser
        from tests.serving.test_torch_free import _outputs
        student = Paraphraser.load({str(exported)!r}, threads=1)
        print(json.dumps({{"outputs": _outputs(student, {embedder!r}), "tokenizer": type(student.tokenizer).__name__,
                           "loaded": sorted({{m.split(".")[0] for m in sys.modules}} & set(ABSENT))}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["loaded"] == [] and got["tokenizer"] == "FastTokenizer"
    assert got["outputs"] == json.loads(json.dumps(_outputs(student, embedder)))
