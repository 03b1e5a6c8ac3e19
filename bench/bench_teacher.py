"""Teacher decode speed and fidelity: impdist's backends (torch fp32, ONNX Runtime fp32 / int8)
beside the engines a user would pick instead (bench/peers.py: CTranslate2 int8 / float32, ONNX
Runtime GenAI int8 / int4, each converted once from the same fp32 weights impdist decodes).

Every engine decodes the same news-dateline prompts (the paper's `CITY, COUNTRY (MEDIA) --`
contexts from the shipped impdist/data/news_prefix.json; the first B of them at batch B), greedily,
for exactly --new-tokens steps (no early stop, so every engine produces the same number of tokens),
with the same --threads. tokens/s counts the decode steps after the first token (prefill reported
apart); best of --repeat runs. Fidelity: over --reference-items reference texts (each the source
sentence of an MRPC dev item, then its paraphrase: about 2,000 tokens for 40; fewer tokens let a
handful of ties decide the ranking), the share of teacher-forced next-token argmaxes equal to those
of the fp32 model (torch, transformers' forward over each whole text). The engines take turns,
one run each per round (bench/decode_race.py). Prints a table whose ratio is each row's speed over the fastest
peer's at that batch size, then one JSON line per row. A peer that is not installed is named in
one line and its rows skipped (pip install 'impdist[bench]').
"""
from __future__ import annotations

import argparse
import json

import peers as peer_engines
from common import DATA_DIR, names, read_jsonl
from decode_race import Race, available_peers, run_race
from impdist.decoding.backends import BACKENDS, default_threads
from impdist.io.cache import cache_dir
from impdist.models.names import hf_model_dir, load_tokenizer


def prompts(n: int) -> list[str]:
    """n dateline contexts, e.g. 'Kabul, Afghanistan (REUTERS) --', of varied token lengths."""
    prefix = json.loads((DATA_DIR / "news_prefix.json").read_text(encoding="utf-8"))
    cities, media = prefix["city_country"], prefix["media_list"]
    step = len(cities) // n
    return [f"{cities[i * step][0]}, {cities[i * step][1]} ({media[(i * 7) % len(media)]}) --" for i in range(n)]


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
    ap.add_argument("--reference-items", type=int, default=40,
                    help="MRPC dev items whose source + paraphrase fidelity is measured over (default: %(default)s)")
    args = ap.parse_args()
    threads = args.threads or default_threads()
    batches = [int(b) for b in args.batches.split(",")]
    references = [f"{r['src']} {r['refs'][0]}" for r in read_jsonl("mrpc_dev.jsonl")[: args.reference_items]]

    print(f"model {args.model}, {threads} threads; the first run exports ONNX graphs and converts the peers "
          f"(a few minutes for smollm2-135m), cached under {cache_dir()} afterwards", flush=True)
    peer_names = available_peers(args.peers)
    tokenizer = load_tokenizer(args.model)
    race = Race(args.model, hf_model_dir(args.model), [tokenizer(p).input_ids for p in prompts(max(batches))],
                [tokenizer(r).input_ids for r in references], args.new_tokens, threads)
    run_race(race, names(args.backends), peer_names, batches,
             args.repeat).emit_json()


if __name__ == "__main__":
    main()
