"""Which sentence splitter for the context stage: accuracy and speed on real news sentences.

Gold data: MRPC dev sentences (each one sentence of news text), joined into paragraphs of 2-6;
a splitter is right on a paragraph when it returns exactly the original sentences. Speed is
paragraphs per second. Run: python bench/bench_sentences.py
"""
from __future__ import annotations

import json
import random
import time

from common import read_jsonl


def paragraphs(n: int = 3000, seed: int = 0) -> list[list[str]]:
    sents = [r["src"].strip() for r in read_jsonl("mrpc_dev.jsonl")] + [
        r["refs"][0].strip() for r in read_jsonl("mrpc_dev.jsonl")]
    rng = random.Random(seed)
    return [rng.sample(sents, rng.randint(2, 6)) for _ in range(n)]


def splitters():
    import blingfire
    import pysbd

    seg = pysbd.Segmenter(language="en", clean=False)
    return {
        "blingfire": lambda text: [s.strip() for s in blingfire.text_to_sentences(text).split("\n") if s.strip()],
        "pysbd": lambda text: [s.strip() for s in seg.segment(text) if s.strip()],
    }


def main() -> None:
    paras = paragraphs()
    texts = [" ".join(p) for p in paras]
    for name, split in splitters().items():
        start = time.perf_counter()
        out = [split(t) for t in texts]
        rate = len(texts) / (time.perf_counter() - start)
        exact = sum(o == p for o, p in zip(out, paras)) / len(paras)
        gold = sum(len(p) for p in paras)
        found = sum(len(set(o) & set(p)) for o, p in zip(out, paras))
        print(json.dumps({"bench": f"sentences_{name}", "n": len(paras), "paragraphs_per_s": round(rate, 1),
                          "exact_paragraphs": round(exact, 4), "sentence_recall": round(found / gold, 4)}))


if __name__ == "__main__":
    main()
