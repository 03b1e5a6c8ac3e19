"""Where a decode step's time goes: ONNX Runtime's per-operator profile of impdist's graph and of
ONNX Runtime GenAI's graph for the same model, at one batch size, and the time the step spends
outside the session (impdist's Python loop). Not part of the product: it explains bench_teacher's
ratios (issue 21).

    python experiments/decode-profile.py --batch 16 --steps 32 [--model smollm2-135m] [--precision int8]

Prints, per engine, the steps' wall time, the session's share of it and the operator types that
take the most time (summed over the profiled steps), then one JSON line.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import peers  # noqa: E402  (bench/peers.py: the GenAI build)
from bench_teacher import prompts  # noqa: E402
from impdist.decoding import backends  # noqa: E402
from impdist.decoding.decode import left_pad  # noqa: E402
from impdist.models.names import hf_model_dir, load_tokenizer  # noqa: E402


def op_times(profile: str, skip_runs: int) -> tuple[dict[str, float], int]:
    """Microseconds per operator type in a profile's node events, after its first skip_runs runs."""
    events = json.loads(Path(profile).read_text())
    runs = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e["name"] == "model_run")
    start = runs[skip_runs] if len(runs) > skip_runs else 0
    total: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= start:
            total[e["args"]["op_name"]] += e["dur"]
    return dict(total), len(runs) - skip_runs


def profile_impdist(model: str, int8: bool, ids: np.ndarray, mask: np.ndarray, steps: int, threads: int, tmp: str):
    """impdist's OnnxBackend with ORT profiling on: prefill, then `steps` greedy steps."""
    original = backends._session_options

    def with_profile(threads_, spinning):
        options = original(threads_, spinning)
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "impdist")
        return options

    backends._session_options = with_profile
    try:
        backend = backends.OnnxBackend(model, int8=int8, threads=threads)
    finally:
        backends._session_options = original
    backend.prefill(ids, mask)  # warm-up
    for _ in range(4):
        backend.step(np.zeros(len(ids), dtype=np.int64))
    logits = backend.prefill(ids, mask)
    start = time.perf_counter()
    for _ in range(steps):
        logits = backend.step(logits.argmax(-1))
    wall = time.perf_counter() - start
    path = backend.session.end_profiling()
    ops, runs = op_times(path, skip_runs=1 + 4 + 1)
    return wall, ops, runs


def profile_genai(hf_dir: Path, precision: str, prompt_ids: list[list[int]], steps: int, threads: int, tmp: str):
    """GenAI's generator with ORT profiling on its session, over the same prompts (left-padded with
    GenAI's own pad id, which it masks)."""
    import onnxruntime_genai as og

    folder = peers.genai_dir(hf_dir, precision)
    pad_id = int(json.loads((folder / "genai_config.json").read_text())["model"]["pad_token_id"])
    ids, _ = left_pad(prompt_ids, pad_id)
    config = og.Config(str(folder))
    config.overlay(json.dumps({"model": {"decoder": {"session_options": {
        "intra_op_num_threads": threads, "inter_op_num_threads": 1,
        "enable_profiling": os.path.join(tmp, "genai")}}}}))
    model = og.Model(config)

    def run(n: int) -> float:
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=ids.shape[1] + n + 1, min_length=ids.shape[1] + n + 1,
                                  do_sample=False, batch_size=len(ids))
        generator = og.Generator(model, params)
        generator.append_tokens(ids.astype(np.int32))
        start = time.perf_counter()
        for _ in range(n):
            generator.generate_next_token()
        return time.perf_counter() - start

    run(4)
    wall = run(steps)
    del model  # writes the profile
    files = sorted(glob.glob(os.path.join(tmp, "genai*.json")))
    ops, runs = op_times(files[-1], skip_runs=1 + 4 + 1)
    return wall, ops, runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    tokenizer = load_tokenizer(args.model)
    prompt_ids = [tokenizer(p).input_ids for p in prompts(max(args.batch, 16))[: args.batch]]
    ids, mask = left_pad(prompt_ids, int(tokenizer.pad_token_id))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"impdist": lambda: profile_impdist(args.model, args.precision == "int8", ids, mask, args.steps,
                                                   args.threads, tmp)}
        if args.precision == "int8":
            runs["genai"] = lambda: profile_genai(hf_model_dir(args.model), "int8", prompt_ids, args.steps,
                                                  args.threads, tmp)
        for name, fn in runs.items():
            wall, ops, n = fn()
            session_ms = sum(ops.values()) / 1000
            print(f"{name} {args.precision} batch {args.batch}: {1000 * wall / args.steps:.2f} ms/step wall, "
                  f"{session_ms / max(n, 1):.2f} ms/step in operators over {n} runs")
            for op, us in sorted(ops.items(), key=lambda kv: -kv[1])[: args.top]:
                print(f"    {op:<36} {us / 1000 / max(n, 1):7.3f} ms/step")
            out[name] = {"ms_step": 1000 * wall / args.steps, "op_ms_step": {k: v / 1000 / max(n, 1) for k, v in ops.items()}}
    print(json.dumps({"batch": args.batch, "precision": args.precision, **out}))


if __name__ == "__main__":
    main()
