"""The filter on the real embedded models: SmolLM2 candidates, MiniLM judge and embeddings."""
from __future__ import annotations

import json

import numpy as np
import pytest

from impdist.filters.chain import FilterConfig
from impdist.filters.pipeline import filter_dataset, read_dataset
from impdist.generate.pipeline import generate
from impdist.kernels import rouge


@pytest.mark.slow
def test_generate_then_filter_on_the_embedded_models(embedded_cache, tmp_path):
    run = tmp_path / "run"
    generate("smollm2-135m", contexts=6, samples=8, out=run, quiet=True)
    res = filter_dataset(run, judge="embedding", quiet=True)
    kept = list(read_dataset(run))
    rejected = list(read_dataset(run, rejected=True))
    assert res.kept == len(kept) and res.rejected == len(rejected) > 0
    counts = [n for _, n in res.funnel]
    assert counts == sorted(counts, reverse=True) and counts[0] == len(kept) + len(rejected)

    card = json.loads((res.dataset_dir / "card.json").read_text())
    threshold = card["judge_threshold"]
    cfg = FilterConfig()
    for r in kept:  # every kept pair meets every threshold, re-checked from its text
        s = r["scores"]
        assert cfg.min_len_ratio <= len(r["tgt"]) / len(r["src"]) <= cfg.max_len_ratio
        assert rouge([r["tgt"]], [r["src"]], "rougeL")[0, 2] == pytest.approx(s["rougeL"])
        assert s["rougeL"] <= cfg.max_rouge_l and s["numbers_ok"] == 1.0
        assert min(s["judge_fwd"], s["judge_bwd"]) >= threshold
    judged = [r for r in rejected if "judge_fwd" in r["scores"]]
    assert judged and all(-1.0 <= r["scores"]["judge_fwd"] <= 1.0 for r in judged)
    assert np.isclose([r["scores"]["judge_fwd"] for r in judged], [r["scores"]["judge_bwd"] for r in judged]).all()
    assert (res.dataset_dir / "README.md").exists() and card["histograms"]
