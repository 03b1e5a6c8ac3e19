"""The decoding race bench_teacher and bench_student both run: impdist's backends and the peer
engines (bench/peers.py) decode the same token-id prompts greedily for a fixed number of new
tokens, taking turns, and each engine's fidelity is the share of its teacher-forced next-token
argmaxes equal to the fp32 model's over reference sequences.

Free-running greedy text diverges within a few tokens for every int8 engine, so agreement is
measured teacher-forced; fixed-length decoding (no early stop) gives every engine the same work.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import peers as peer_engines
from common import Report, names
from impdist.decoding.backends import make_backend


@dataclass(frozen=True)
class Race:
    """What every engine decodes: the model, its prompts and the reference sequences."""

    model: str  # an impdist model argument (the embedded teacher, a student folder, a path)
    hf_dir: Path  # its fp32 Hugging Face directory, which every peer converts
    prompts: list[list[int]]  # token ids; the first B of them at batch size B
    references: list[list[int]]  # token ids of the sequences fidelity is measured over
    new_tokens: int
    threads: int


def fp32_argmax(hf_dir: Path, references: list[list[int]]) -> list[np.ndarray]:
    """The fp32 reference: transformers' argmax next token after each prefix of each reference."""
    import torch
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    with torch.inference_mode():
        return [lm(torch.tensor([ids])).logits[0, :-1].argmax(-1).numpy() for ids in references]


def agreement(engine: peer_engines.Engine, references: list[list[int]], fp32: list[np.ndarray]) -> float:
    """Share of the engine's teacher-forced argmaxes over every reference equal to fp32's."""
    same = sum(int(np.sum(engine.forced_argmax(ids) == want)) for ids, want in zip(references, fp32))
    return same / sum(len(want) for want in fp32)


def time_round_robin(engines: dict, batches: list[int], prompt_ids: list[list[int]], steps: int,
                     repeat: int) -> dict[str, dict]:
    """Per engine and batch size: best-of-repeat decode tok/s, the prefill of that run, its tokens.
    The engines take turns, one run each per round, so a slow spell of a shared machine does not
    land on one engine's rows only."""
    rows: dict[str, dict] = {name: {} for name in engines}
    for batch in batches:
        for engine in engines.values():
            engine.decode(prompt_ids[:batch], 4)  # warm-up: allocator, thread pool, pre-packed weights
        for _ in range(repeat):
            for name, engine in engines.items():
                prefill, seconds, tokens = engine.decode(prompt_ids[:batch], steps)
                if batch not in rows[name] or seconds < rows[name][batch]["seconds"]:
                    rows[name][batch] = {"seconds": seconds, "tok_s": batch * (steps - 1) / seconds,
                                         "prefill_ms": 1000 * prefill, "tokens": tokens}
    return rows


def available_peers(spec: str) -> list[str]:
    """The peers of a comma-separated option ('none': no peer) that can run here; each missing
    one is named in a line and skipped."""
    kept = []
    for name in names(spec):
        if (why := peer_engines.missing(name)) is None:
            kept.append(name)
        else:
            print(why, flush=True)
    return kept


def run_race(race: Race, backends: list[str], peer_names: list[str], batches: list[int], repeat: int,
             prefix: str = "decode") -> Report:
    """Load every engine, measure its fidelity, time them in turns, and print the table (each row's
    ratio is against the fastest peer at that batch size) and one JSON line per row."""
    fp32 = fp32_argmax(race.hf_dir, race.references)
    reference_tokens = sum(len(f) for f in fp32)
    engines, results = {}, {}
    for name in backends + peer_names:
        start = time.perf_counter()
        engine = (peer_engines.make_peer(name, race.hf_dir, race.threads) if name in peer_names
                  else peer_engines.ImpdistEngine(make_backend(race.model, name, threads=race.threads)))
        load_s = time.perf_counter() - start
        agree = agreement(engine, race.references, fp32)
        engines[name], results[name] = engine, {"agree": agree, "load_s": load_s, "label": engine.label}
        print(f"  {engine.label}: ready in {load_s:.1f} s; top-1 agreement with fp32 {agree:.3f} over "
              f"{reference_tokens} reference tokens", flush=True)
    for name, rows in time_round_robin(engines, batches, race.prompts, race.new_tokens, repeat).items():
        results[name]["rows"] = rows

    report = Report()
    Report.header("tok/s")
    for batch in batches:
        fastest = max(peer_names, key=lambda p: results[p]["rows"][batch]["tok_s"], default=None)
        peer_row = results[fastest]["rows"][batch] if fastest else None
        for name in backends + peer_names:
            row = results[name]["rows"][batch]
            extra = {"engine": results[name]["label"], "batch": batch, "new_tokens": race.new_tokens,
                     "threads": race.threads, "prefill_ms": round(row["prefill_ms"], 1),
                     "agree_fp32": round(results[name]["agree"], 3), "reference_tokens": reference_tokens}
            if peer_row is not None:
                extra["ratio_exact"] = round(row["tok_s"] / peer_row["tok_s"], 3)
            report.add(f"{prefix}_b{batch}_{name}", batch * (race.new_tokens - 1), row["tok_s"],
                       peer_row["tok_s"] if peer_row else None, results[fastest]["label"] if fastest else "", **extra)
    return report
