"""Teacher decode speed and fidelity: torch fp32 vs ONNX Runtime fp32 vs ONNX Runtime int8.

Every backend decodes the same 16 news-dateline prompts (the paper's `CITY, COUNTRY (MEDIA) --`
contexts from the shipped impdist/data/news_prefix.json), left-padded, greedily, for exactly
--new-tokens steps (no early stop, so every backend produces the same number of tokens). tokens/s counts the
decode steps (prefill reported apart); best of --repeat runs. Fidelity: each backend's mean
log-likelihood of a fixed reference text (the first 8 MRPC sentences, concatenated) and its
relative difference to torch fp32. Prints a table, then one JSON line per row (peer = torch fp32).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from common import DATA_DIR, Report, read_jsonl
from impdist.io.cache import cache_dir
from impdist.decoding.backends import BACKENDS, make_backend


def prompts(n: int) -> list[str]:
    """n dateline contexts, e.g. 'Kabul, Afghanistan (REUTERS) --', of varied token lengths."""
    prefix = json.loads((DATA_DIR / "news_prefix.json").read_text(encoding="utf-8"))
    cities, media = prefix["city_country"], prefix["media_list"]
    step = len(cities) // n
    return [f"{cities[i * step][0]}, {cities[i * step][1]} ({media[(i * 7) % len(media)]}) --" for i in range(n)]


def decode(backend, ids: np.ndarray, mask: np.ndarray, steps: int) -> tuple[float, float, np.ndarray]:
    """(prefill seconds, decode seconds, (B, steps) greedy tokens)."""
    start = time.perf_counter()
    logits = backend.prefill(ids, mask)
    prefill = time.perf_counter() - start
    tokens = [logits.argmax(-1)]
    start = time.perf_counter()
    for _ in range(steps - 1):
        tokens.append(backend.step(tokens[-1]).argmax(-1))
    return prefill, time.perf_counter() - start, np.stack(tokens, axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m", help="any impdist model argument (default: %(default)s)")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (default: %(default)s)")
    ap.add_argument("--batches", default="1,16", help="batch sizes (default: %(default)s)")
    ap.add_argument("--new-tokens", type=int, default=64, help="decode steps per run (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per row; the best is reported (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads (default: all cores)")
    args = ap.parse_args()
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    batches = [int(b) for b in args.batches.split(",")]
    reference = " ".join(r["src"] for r in read_jsonl("mrpc_dev.jsonl")[:8])

    print(f"model {args.model}; the first run exports ONNX graphs (about a minute for smollm2-135m), "
          f"cached under {cache_dir()} afterwards", flush=True)
    results: dict[str, dict] = {}
    for name in names:
        start = time.perf_counter()
        backend = make_backend(args.model, name, threads=args.threads)
        load_s = time.perf_counter() - start
        tok = backend.tokenizer
        tok.padding_side = "left"
        ref_ids = np.array([tok(reference).input_ids], dtype=np.int64)
        ll = float(backend.log_likelihoods(ref_ids, np.ones_like(ref_ids)).mean())
        rows = {}
        for batch in batches:
            enc = tok(prompts(max(batches))[:batch], return_tensors="np", padding=True)
            decode(backend, enc.input_ids, enc.attention_mask, 4)  # warm-up: allocator, thread pool
            runs = [decode(backend, enc.input_ids, enc.attention_mask, args.new_tokens) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r[1])
            rows[batch] = {"tok_s": batch * (args.new_tokens - 1) / best[1], "prefill_ms": 1000 * best[0],
                           "tokens": best[2]}
        results[name] = {"ll": ll, "load_s": load_s, "rows": rows}
        print(f"  {name}: ready in {load_s:.1f} s, mean log-likelihood of the reference {ll:.4f} "
              f"({ref_ids.shape[1]} tokens)", flush=True)
        del backend

    peer = results.get("torch")
    report = Report()
    Report.header("tok/s")
    for batch in batches:
        for name in names:
            row = results[name]["rows"][batch]
            peer_row = peer["rows"][batch] if peer else None
            extra = {"backend": name, "batch": batch, "new_tokens": args.new_tokens,
                     "prefill_ms": round(row["prefill_ms"], 1), "ll": round(results[name]["ll"], 4)}
            if peer:
                extra["ll_rel_diff"] = round(abs(results[name]["ll"] - peer["ll"]) / abs(peer["ll"]), 5)
                extra["greedy_agree"] = round(float(np.mean(row["tokens"] == peer_row["tokens"])), 3)
            report.add(f"decode_b{batch}_{name}", batch * (args.new_tokens - 1), row["tok_s"],
                       peer_row["tok_s"] if peer_row else None, "torch fp32" if peer else "", **extra)
    report.emit_json()


if __name__ == "__main__":
    main()
