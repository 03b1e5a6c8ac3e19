"""Every stage's typed config stores the very JSON the stages wrote before they had types, so run
folders made earlier resume and stage folder names (`contexts-<id>`, ...) do not change.

The expected dicts below are built exactly as the stage code built them by hand (generate/
pipeline.py, filters/pipeline.py, student/rewrites.py before the configs were dataclasses), and
the fingerprints are pinned from that code for `make run`'s defaults."""
from __future__ import annotations

import json
import pickle
from dataclasses import asdict, replace

import pytest

from impdist.filters.chain import FilterConfig
from impdist.filters.pipeline import SCORES_VERSION, DatasetConfig, ScoredConfig, ScoredPayload
from impdist.generate import stages
from impdist.generate.stages import CandidatesConfig, CorpusContextsConfig, NewsContextsConfig, TeacherSpec
from impdist.io import canonical_json
from impdist.run_config import RunConfig
from impdist.student.rewrites import RewritesConfig, RewritesPayload, Sampling

RUN = RunConfig()
TEACHER = TeacherSpec(model=RUN.teacher, backend=RUN.generate_backend)


def old_contexts(teacher: TeacherSpec, seed: int, batch_size: int) -> dict:
    return {"stage": "contexts", "source": "news-prefix", "teacher": asdict(teacher), "seed": seed,
            "prefixes_per_shard": batch_size, "max_new_tokens": stages.CONTEXT_MAX_NEW_TOKENS,
            "sampling": stages.CONTEXT_SAMPLING}


def old_candidates(teacher: TeacherSpec, seed: int, samples: int, contexts: int) -> dict:
    return {"stage": "candidates", "teacher": asdict(teacher), "seed": seed, "samples": samples,
            "max_new_tokens": stages.CONDITIONAL_MAX_NEW_TOKENS, "sampling": stages.CONDITIONAL_SAMPLING,
            "contexts": contexts}


def old_scored(task, judge, cfg: FilterConfig, *, cap, pairing, seed, judge_all, embedder) -> dict:
    gate = None if judge_all else {k: v for k, v in cfg.to_json().items()
                                   if k in ("task", "min_len_ratio", "max_len_ratio", "max_compression",
                                            "max_rouge_l", "numbers")}
    return {"stage": "scored", "task": task, "judge": judge, "cap": cap, "pairing": pairing, "seed": seed,
            "gate": gate, "embedder": embedder, "scores": SCORES_VERSION}


def old_rewrites(round_, task, rewriter, sampling: Sampling) -> dict:
    return {"stage": "candidates", "round": round_, "task": task, "rewriter": rewriter,
            "sampling": {k: v for k, v in asdict(sampling).items() if k not in ("threads", "batch_size")}}


def same(config, old: dict) -> None:
    assert str(config) == canonical_json(old)
    assert json.loads(str(config)) == json.loads(canonical_json(old))


def test_generate_configs_store_what_the_stages_stored():
    same(NewsContextsConfig(TEACHER, RUN.seed, RUN.generate_batch_size),
         old_contexts(TEACHER, RUN.seed, RUN.generate_batch_size))
    other = TeacherSpec("some/model", backend="torch", device="cuda", threads=3, trust_remote_code=True)
    same(NewsContextsConfig(other, 7, 4), old_contexts(other, 7, 4))
    same(CandidatesConfig(TEACHER, RUN.seed, RUN.samples, RUN.contexts),
         old_candidates(TEACHER, RUN.seed, RUN.samples, RUN.contexts))
    same(CandidatesConfig(other, 2, 100, 5), old_candidates(other, 2, 100, 5))
    same(CorpusContextsConfig("/data/corpus.txt"),
         {"stage": "contexts", "source": "corpus", "path": "/data/corpus.txt"})


@pytest.mark.parametrize("task", ["paraphrase", "summary"])
@pytest.mark.parametrize("judge_all", [False, True])
def test_filter_configs_store_what_the_stages_stored(task, judge_all):
    for cfg in (RUN.filters[task], FilterConfig(task=task, max_rouge_l=0.6, numbers=False, near_duplicate=None,
                                                judge_threshold=0.7, min_len_ratio=0.5)):
        options = dict(cap=RUN.pair_cap, pairing="group", seed=RUN.seed, judge_all=judge_all, embedder=RUN.embedder)
        new = ScoredConfig(task, "paraphrase:runs/default/judge", RUN.pair_cap, "group", RUN.seed,
                           gate=None if judge_all else cfg.lexical_gate(), embedder=RUN.embedder)
        same(new, old_scored(task, "paraphrase:runs/default/judge", cfg, **options))
        same(DatasetConfig(cfg, "embedding", 0.625),
             {"stage": "dataset", "filters": cfg.to_json(), "judge": "embedding", "judge_threshold": 0.625})


def test_rewrites_config_leaves_speed_settings_out_as_before():
    for task, r in RUN.rewrites.items():
        sampling = Sampling(**asdict(r), seed=RUN.seed, batch_size=RUN.decode_batch)
        same(RewritesConfig(0, task, "prompted:" + RUN.teacher, sampling),
             old_rewrites(0, task, "prompted:" + RUN.teacher, sampling))
    fast = Sampling(threads=3, batch_size=128)
    assert str(RewritesConfig(2, "summary", "/s", fast)) == str(RewritesConfig(2, "summary", "/s", Sampling()))


# sha256 prefixes of the config JSON `make run` wrote before the configs had types (its
# manifests' config_hash), and the one stage folder whose name depends on its config alone.
PINNED = {
    "contexts": "b03d79c356370b8b",
    "candidates": "62157f745565ffdf",
    "scored paraphrase": "f03934bacf2b7d19",  # judge "paraphrase:/x/judge", as pinned
    "scored summary": "4325f5597c1127bd",
    "rewrites paraphrase": "a3ce2a5c32d06c4e",  # batch_size 64, as pinned
}


def test_make_runs_fingerprints_and_contexts_folder_are_unchanged(tmp_path):
    teacher = replace(TEACHER, backend="onnx-int8")  # make run's teacher runtime when pinned (fp32 since f383cbf)
    contexts = NewsContextsConfig(teacher, RUN.seed, RUN.generate_batch_size)
    assert contexts.fingerprint.startswith(PINNED["contexts"])
    samples = 6  # make run's samples per context when the fingerprint was pinned (2 since 5ce9312)
    assert CandidatesConfig(teacher, RUN.seed, samples, RUN.contexts).fingerprint.startswith(PINNED["candidates"])
    for task in ("paraphrase", "summary"):
        scored = ScoredConfig(task, "paraphrase:/x/judge", RUN.pair_cap, "group", RUN.seed,
                              RUN.filters[task].lexical_gate(), RUN.embedder)
        assert scored.fingerprint.startswith(PINNED[f"scored {task}"])
    sampling = Sampling(**asdict(RUN.rewrites["paraphrase"]), seed=RUN.seed, batch_size=64, backend="onnx-int8")
    assert RewritesConfig(0, "paraphrase", "prompted:" + RUN.teacher, sampling).fingerprint.startswith(
        PINNED["rewrites paraphrase"])
    stage = contexts.open(tmp_path, inputs={})
    assert stage.path.name == "contexts-9e53265a3258"
    assert stage.manifest["config_hash"] == contexts.fingerprint


def test_payloads_are_typed_and_cross_process_boundaries():
    config = ScoredConfig("paraphrase", "embedding", 32, "group", 0, FilterConfig().lexical_gate(), "minilm-l6")
    payload = ScoredPayload(config, "cpu", 32, None, [{"context_id": "c", "y_orig": "A.", "candidates": ["B."]}])
    assert pickle.loads(pickle.dumps(payload)) == payload
    rewrites = RewritesPayload(RewritesConfig(1, "summary", "/s", Sampling()), 32, [{"src": "a", "context_id": "c"}])
    assert pickle.loads(pickle.dumps(rewrites)) == rewrites


def test_the_gate_is_the_lexical_settings_only():
    cfg = FilterConfig(task="summary", max_compression=0.5, judge_threshold=0.9, near_duplicate=None)
    gate = cfg.lexical_gate()
    assert gate == replace(FilterConfig(task="summary"), max_compression=0.5)
    assert gate.lexical_gate() == gate
