"""The decoding engines a user would pick instead of impdist's teacher/student decoding, as bench
engines beside impdist's own backends: CTranslate2 (int8, float32) and ONNX Runtime GenAI (its
model builder's int8 and int4 CPU graphs).

Each peer is converted from the same fp32 Hugging Face directory impdist decodes (for the
embedded teacher, impdist's fp32 copy of the GGUF), once: conversions are cached under the impdist
cache (`peers-ct2/`, `peers-genai/`) keyed by that directory's identity, the options and the
peer's version, so a second run does not rebuild them.

Every engine does the same two things, so bench_teacher / bench_student time them alike:
  decode(prompts, steps): greedy, exactly `steps` new tokens per row (no early stop), from
    token-id prompts; returns (prefill seconds, decode seconds, (B, steps) tokens), the decode
    seconds counting the steps after the first token (what impdist's step loop counts);
  forced_argmax(ids): the argmax next token after each prefix of `ids` (teacher forcing), the
    fidelity measure (agreement with fp32).
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from impdist.io.cache import artefact, cache_key, dir_identity

# Peer name -> (python module, pip requirement, engine family, precision)
PEERS: dict[str, tuple[str, str, str, str]] = {
    "ct2-int8": ("ctranslate2", "ctranslate2==4.8.5", "ct2", "int8"),
    "ct2-float32": ("ctranslate2", "ctranslate2==4.8.5", "ct2", "float32"),
    "genai-int8": ("onnxruntime_genai", "onnxruntime-genai==0.18.0", "genai", "int8"),
    "genai-int4": ("onnxruntime_genai", "onnxruntime-genai==0.18.0", "genai", "int4"),
}
GENAI_MAX_BATCH = 32  # onnxruntime-genai 0.18 on the CPU: "batch_size (64) must be in [1, 32]"


class Engine(Protocol):
    """What the bench scripts time: greedy fixed-length decoding and teacher-forced argmaxes."""

    name: str
    label: str  # e.g. "CTranslate2 4.8.5 int8", printed in the tables

    def decode(self, prompts: list[list[int]], steps: int) -> tuple[float, float, np.ndarray]: ...

    def forced_argmax(self, ids: list[int]) -> np.ndarray: ...


def missing(name: str) -> str | None:
    """Why peer `name` cannot run here (one line), or None when it can."""
    module, requirement, _, _ = PEERS[name]
    if importlib.util.find_spec(module) is None:
        return f"peer {name} skipped: {module} is not installed (pip install '{requirement}', or impdist[bench])"
    return None


def make_peer(name: str, hf_dir: Path, threads: int) -> Engine:
    """Peer engine `name` (a key of PEERS) over the fp32 HF directory hf_dir, converting it once."""
    _, _, family, precision = PEERS[name]
    if family == "ct2":
        return CTranslate2Engine(hf_dir, precision, threads)
    return GenAIEngine(hf_dir, precision, threads)


class ImpdistEngine:
    """An impdist DecoderBackend timed the way bench_teacher always timed it: prefill, then
    one step() per new token, argmax on the returned logits."""

    def __init__(self, backend) -> None:
        self.backend, self.name = backend, backend.name
        self.label = f"impdist {backend.name}"

    def decode(self, prompts: list[list[int]], steps: int) -> tuple[float, float, np.ndarray]:
        from impdist.decoding.decode import left_pad

        ids, mask = left_pad(prompts, int(self.backend.tokenizer.pad_token_id))
        start = time.perf_counter()
        logits = self.backend.prefill(ids, mask)
        prefill = time.perf_counter() - start
        tokens = [logits.argmax(-1)]
        start = time.perf_counter()
        for _ in range(steps - 1):
            tokens.append(self.backend.step(tokens[-1]).argmax(-1))
        return prefill, time.perf_counter() - start, np.stack(tokens, axis=1)

    def forced_argmax(self, ids: list[int]) -> np.ndarray:
        out = [self.backend.prefill(np.array([ids[:1]]), np.ones((1, 1), dtype=np.int64)).argmax(-1)[0]]
        for token in ids[1:-1]:
            out.append(self.backend.step(np.array([token])).argmax(-1)[0])
        return np.array(out)


class CTranslate2Engine:
    """CTranslate2's Generator over a converted copy of the HF directory (int8 or float32 weights)."""

    def __init__(self, hf_dir: Path, precision: str, threads: int) -> None:
        import ctranslate2
        from transformers import AutoTokenizer

        self.name, self.label = f"ct2-{precision}", f"CTranslate2 {ctranslate2.__version__} {precision}"
        key = cache_key(dir_identity(hf_dir), engine="ct2", quantization=precision, version=ctranslate2.__version__)

        def build(out: Path) -> None:
            from ctranslate2.converters import TransformersConverter

            TransformersConverter(str(hf_dir)).convert(str(out), quantization=precision, force=True)

        path = artefact("peers-ct2", f"{hf_dir.name}-{precision}", key, build)
        self.generator = ctranslate2.Generator(str(path), device="cpu", compute_type=precision,
                                               intra_threads=threads, inter_threads=1)
        self._tok = AutoTokenizer.from_pretrained(hf_dir)

    def decode(self, prompts: list[list[int]], steps: int) -> tuple[float, float, np.ndarray]:
        batch = [self._tok.convert_ids_to_tokens(p) for p in prompts]
        first: list[float] = []

        def on_step(step) -> bool:  # called per row and step; the first call ends the prefill
            if not first:
                first.append(time.perf_counter())
            return False

        start = time.perf_counter()
        results = self.generator.generate_batch(batch, max_length=steps, min_length=steps, sampling_topk=1,
                                                include_prompt_in_result=False, callback=on_step)
        end = time.perf_counter()
        tokens = np.array([r.sequences_ids[0][:steps] for r in results])
        return first[0] - start, end - first[0], tokens

    def forced_argmax(self, ids: list[int]) -> np.ndarray:
        logits = np.asarray(self.generator.forward_batch([self._tok.convert_ids_to_tokens(ids)]))
        return logits[0, :-1].argmax(-1)


class GenAIEngine:
    """ONNX Runtime GenAI's Generator over its model builder's CPU graph (int8 or int4 weights)."""

    def __init__(self, hf_dir: Path, precision: str, threads: int) -> None:
        import onnxruntime_genai as og

        self._og = og
        self.name, self.label = f"genai-{precision}", f"ORT GenAI {og.__version__} {precision}"
        path = genai_dir(hf_dir, precision)
        config = og.Config(str(path))
        config.overlay(json.dumps({"model": {"decoder": {"session_options": {
            "intra_op_num_threads": threads, "inter_op_num_threads": 1}}}}))
        self.model = og.Model(config)
        self.pad_id = int(json.loads((path / "genai_config.json").read_text())["model"]["pad_token_id"])

    def _generator(self, batch: int, max_length: int):
        params = self._og.GeneratorParams(self.model)
        params.set_search_options(max_length=max_length, min_length=max_length, do_sample=False, batch_size=batch)
        return self._og.Generator(self.model, params)

    def decode(self, prompts: list[list[int]], steps: int) -> tuple[float, float, np.ndarray]:
        """Batches over GENAI_MAX_BATCH rows run as consecutive batches of at most that many (GenAI
        refuses larger ones); the times add up."""
        from impdist.decoding.decode import left_pad

        prefill = decode = 0.0
        tokens = []
        for first in range(0, len(prompts), GENAI_MAX_BATCH):
            ids, _ = left_pad(prompts[first : first + GENAI_MAX_BATCH], self.pad_id)  # GenAI masks the pad id
            generator = self._generator(len(ids), ids.shape[1] + steps)
            start = time.perf_counter()
            generator.append_tokens(ids.astype(np.int32))  # the prefill: the first token's logits
            prefill += time.perf_counter() - start
            start = time.perf_counter()
            while not generator.is_done():
                generator.generate_next_token()
            decode += time.perf_counter() - start
            tokens += [np.asarray(generator.get_sequence(b))[ids.shape[1]:] for b in range(len(ids))]
        return prefill, decode, np.stack(tokens)

    def forced_argmax(self, ids: list[int]) -> np.ndarray:
        generator = self._generator(1, len(ids) + 1)
        out = []
        for token in ids[:-1]:
            generator.append_tokens(np.array([[token]], dtype=np.int32))
            out.append(int(np.asarray(generator.get_logits()).reshape(-1).argmax()))
        return np.array(out)


def genai_dir(hf_dir: Path, precision: str) -> Path:
    """The folder of GenAI's graph of hf_dir at `precision` (built into the impdist cache once)."""
    import onnxruntime_genai as og

    key = cache_key(dir_identity(hf_dir), engine="genai", precision=precision, version=og.__version__)
    return artefact("peers-genai", f"{hf_dir.name}-{precision}", key, lambda out: build_genai(hf_dir, out, precision))


def build_genai(hf_dir: Path, out: Path, precision: str) -> None:
    """Run onnxruntime-genai's model builder (bench/genai_build.py) on hf_dir for the CPU."""
    script = Path(__file__).with_name("genai_build.py")
    with (out / "builder.log").open("w") as log:
        done = subprocess.run([sys.executable, str(script), "-i", str(hf_dir), "-o", str(out), "-p", precision,
                               "-e", "cpu", "-c", str(out / "_build")], stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        raise RuntimeError(f"onnxruntime-genai's builder failed on {hf_dir} (log: {log.name})")
    shutil.rmtree(out / "_build", ignore_errors=True)  # the builder's scratch copies
