"""Teacher decode speed and fidelity: impdist's backends (torch fp32, ONNX Runtime fp32 / int8)
beside the engines a user would pick instead (bench/peers.py: CTranslate2 int8 / float32, ONNX
Runtime GenAI int8 / int4, each converted once from the same fp32 weights impdist decodes).

Every engine decodes the same news-dateline prompts (the paper's `CITY, COUNTRY (MEDIA) --`
contexts from the shipped impdist/data/news_prefix.json; the first B of them at batch B), greedily,
for exactly --new-tokens steps (no early stop, so every engine produces the same number of tokens),
with the same --threads. tokens/s counts the decode steps after the first token (prefill reported
apart); best of --repeat runs. Fidelity: over a fixed reference text (the first 8 MRPC sentences,
concatenated), the share of teacher-forced next-token argmaxes equal to those of the fp32 model
(torch, transformers' forward over the whole text). Prints a table whose ratio is each row's
speed over the fastest peer's at that batch size (the engines take turns, one run each per round), then one JSON line per row. A peer that is not
installed is named in one line and its rows skipped (pip install 'impdist[bench]').
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import peers as peer_engines
from common import DATA_DIR, Report, read_jsonl
from impdist.decoding.backends import BACKENDS, default_threads, make_backend
from impdist.io.cache import cache_dir
from impdist.models.names import hf_model_dir, load_tokenizer


def prompts(n: int) -> list[str]:
    """n dateline contexts, e.g. 'Kabul, Afghanistan (REUTERS) --', of varied token lengths."""
    prefix = json.loads((DATA_DIR / "news_prefix.json").read_text(encoding="utf-8"))
    cities, media = prefix["city_country"], prefix["media_list"]
    step = len(cities) // n
    return [f"{cities[i * step][0]}, {cities[i * step][1]} ({media[(i * 7) % len(media)]}) --" for i in range(n)]


def fp32_argmax(model: str, ids: list[int]) -> np.ndarray:
    """The fp32 reference: transformers' argmax next token after each prefix of ids."""
    import torch
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(hf_model_dir(model), dtype=torch.float32).eval()
    with torch.inference_mode():
        return lm(torch.tensor([ids])).logits[0, :-1].argmax(-1).numpy()


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m", help="any impdist model argument (default: %(default)s)")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="impdist backends, comma-separated (default: %(default)s)")
    ap.add_argument("--peers", default=",".join(peer_engines.PEERS),
                    help="peer engines, comma-separated, or 'none' (default: %(default)s)")
    ap.add_argument("--batches", default="1,16,64", help="batch sizes (default: %(default)s)")
    ap.add_argument("--new-tokens", type=int, default=64, help="decode steps per run (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per row; the best is reported (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads, every engine (default: all cores)")
    args = ap.parse_args()
    threads = args.threads or default_threads()
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    peer_names = [p.strip() for p in args.peers.split(",") if p.strip() and p.strip() != "none"]
    batches = [int(b) for b in args.batches.split(",")]
    reference = " ".join(r["src"] for r in read_jsonl("mrpc_dev.jsonl")[:8])

    print(f"model {args.model}, {threads} threads; the first run exports ONNX graphs and converts the peers "
          f"(a few minutes for smollm2-135m), cached under {cache_dir()} afterwards", flush=True)
    for name in list(peer_names):
        if (why := peer_engines.missing(name)) is not None:
            print(why, flush=True)
            peer_names.remove(name)
    hf_dir = hf_model_dir(args.model)
    tokenizer = load_tokenizer(args.model)
    ref_ids = tokenizer(reference).input_ids
    prompt_ids = [tokenizer(p).input_ids for p in prompts(max(batches))]
    fp32 = fp32_argmax(args.model, ref_ids)
    engines, results = {}, {}
    for name in names + peer_names:
        start = time.perf_counter()
        engine = (peer_engines.make_peer(name, hf_dir, threads) if name in peer_names
                  else peer_engines.ImpdistEngine(make_backend(args.model, name, threads=threads)))
        load_s = time.perf_counter() - start
        agree = float(np.mean(engine.forced_argmax(ref_ids) == fp32))
        engines[name], results[name] = engine, {"agree": agree, "load_s": load_s, "label": engine.label}
        print(f"  {engine.label}: ready in {load_s:.1f} s; top-1 agreement with fp32 {agree:.3f} over "
              f"{len(ref_ids) - 1} reference tokens", flush=True)
    for name, rows in time_round_robin(engines, batches, prompt_ids, args.new_tokens, args.repeat).items():
        results[name]["rows"] = rows

    report = Report()
    Report.header("tok/s")
    for batch in batches:
        fastest = max(peer_names, key=lambda p: results[p]["rows"][batch]["tok_s"], default=None)
        peer_row = results[fastest]["rows"][batch] if fastest else None
        for name in names + peer_names:
            row = results[name]["rows"][batch]
            extra = {"engine": results[name]["label"], "batch": batch, "new_tokens": args.new_tokens,
                     "threads": threads, "prefill_ms": round(row["prefill_ms"], 1),
                     "agree_fp32": round(results[name]["agree"], 3)}
            if peer_row is not None:
                extra["ratio_exact"] = round(row["tok_s"] / peer_row["tok_s"], 3)
            report.add(f"decode_b{batch}_{name}", batch * (args.new_tokens - 1), row["tok_s"],
                       peer_row["tok_s"] if peer_row else None, results[fastest]["label"] if fastest else "", **extra)
    report.emit_json()


if __name__ == "__main__":
    main()
