"""`impdist export`: a trained student as a self-contained ONNX directory (optimum's KV-cache graph,
int8 MatMulNBits weights with --int8: impdist.models.onnx_export builds both, through impdist.models' cache)
plus its student.json and a Hub-ready model card (README.md: YAML metadata with base_model,
library_name, pipeline_tag and a model-index of the held-out evaluation, built and read back with
huggingface_hub's ModelCard). The directory loads with plain optimum / onnxruntime, without
impdist; the card shows how."""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from impdist._version import __version__
from impdist.io import read_jsonl
from impdist.io.atomic import publish_dir, write_bytes_atomic
from impdist.metrics import paraphrase_metrics, signatures
from impdist.models import onnx_export as export
from impdist.models.embedded import hub_model_id
from impdist.models.names import onnx_model_dir
from impdist.student.errors import StudentError
from impdist.student.meta import read_meta, write_meta
from impdist.student.serve import Paraphraser
from impdist.student.train import HELDOUT_FILE

CARD = "README.md"
EVAL_LIMIT = 64  # held-out pairs the exported graph is evaluated on
LICENSE = "unknown"  # the base model's and the data's terms decide; the user sets it before publishing
NOT_METRICS = ("pairs", "sentences_per_s", "decoding", "signatures")  # evaluation entries kept out of the model-index


@dataclass
class ExportResult:
    """Where the export is and what its evaluation said."""

    out: Path
    int8: bool
    evaluation: dict | None

    def __str__(self) -> str:
        kind = "int8" if self.int8 else "fp32"
        ev = "" if not self.evaluation else ", held-out " + ", ".join(
            f"{k} {v}" for k, v in self.evaluation.items() if k in ("ibleu", "bleu", "self_bleu", "sentences_per_s"))
        return f"ONNX {kind} student in {self.out}{ev}\nmodel card: {self.out / CARD}"


def export_student(model: str | os.PathLike, out: str | os.PathLike, *, int8: bool = False, evaluate: bool = True,
                   threads: int | None = None) -> ExportResult:
    """Export the student in `model` (a folder `impdist train` wrote) to `out`.

    evaluate: decode the student's held-out sources with the exported graph and put BLEU to the
    targets, self-BLEU to the sources, iBLEU and speed in the card. An existing export in `out`
    is replaced; any other non-empty `out` is refused.
    """
    model, out = Path(model), Path(out)
    meta = read_meta(model)
    if "export" in meta:
        raise StudentError(f"{model} is already an export; give the folder `impdist train` wrote")
    if meta["kind"] != "decoder-only":
        raise StudentError(f"{model} is an encoder-decoder student: impdist exports decoder-only students to "
                           "ONNX only (serve this one with backend='torch')")
    _check_out(out, model)
    graph = onnx_model_dir(str(model), int8=int8)
    evaluation = None

    def build(tmp: Path) -> None:
        nonlocal evaluation
        shutil.copytree(graph, tmp, dirs_exist_ok=True)
        meta["export"] = {"int8": int8, "source": str(model.resolve()), "impdist": __version__,
                          "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          "runtime": "onnxruntime", "graph": export.ONNX_FILE,
                          "exporter": "optimum main_export, task text-generation-with-past",
                          "quantization": export.INT8_SCHEME if int8 else None}
        write_meta(tmp, meta)  # the graph folder is a student now: the evaluation loads it as one
        evaluation = _evaluate(tmp, model, threads) if evaluate else None
        meta["export"]["evaluation"] = evaluation
        write_meta(tmp, meta)
        write_bytes_atomic(tmp / CARD, model_card(meta).encode())

    # Built beside `out`, fsynced, renamed into place; an earlier export there is renamed aside
    # first and deleted after, so a kill never leaves half an export under `out`.
    publish_dir(build, out, replace=True)
    return ExportResult(out, int8, evaluation)


def _check_out(out: Path, model: Path) -> None:
    if out.resolve() == model.resolve():
        raise StudentError(f"--out {out} is the student's own folder; export into another folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        try:
            if "export" in read_meta(out):
                return  # an earlier export: replaced
        except StudentError:
            pass
        raise StudentError(f"{out} exists and is not an impdist export; choose an empty or new --out folder")


def _evaluate(exported: Path, model: Path, threads: int | None) -> dict | None:
    """Scores and speed of the exported graph on the student's held-out pairs (None without any)."""
    held = model / HELDOUT_FILE
    pairs = list(read_jsonl(held))[:EVAL_LIMIT] if held.exists() and held.stat().st_size else []
    if not pairs:
        return None
    student = Paraphraser.load(exported, threads=threads)
    by_task: dict[str, list[dict]] = {}
    for p in pairs:
        by_task.setdefault(p["task"], []).append(p)
    outputs, srcs, refs = [], [], []
    start = time.perf_counter()
    for task, group in by_task.items():
        outputs += [o[0] for o in student.generate([p["src"] for p in group], task=task)]
        srcs += [p["src"] for p in group]
        refs += [[p["tgt"]] for p in group]
    seconds = time.perf_counter() - start
    scores = {k: round(v, 4) for k, v in paraphrase_metrics(outputs, refs, srcs).items()}
    return {"pairs": len(pairs), **scores, "sentences_per_s": round(len(pairs) / seconds, 2),
            "decoding": "greedy, batch 32, no control codes but the task",
            "signatures": signatures("paraphrase")}


def _table(rows: dict) -> str:
    def show(v):
        return f"{v:.4g}" if isinstance(v, float) else v
    return "\n".join(["| | |", "|---|---|"] + [f"| {k} | {show(v)} |" for k, v in rows.items()])


def _eval_results(meta: dict, task_name: str) -> list[Any]:
    """The model-index entries: the export's held-out scores (with their signatures when the
    evaluation recorded them) and the training's held-out loss."""
    from huggingface_hub import EvalResult  # the models extra brings it

    evaluation = meta["export"].get("evaluation") or {}
    signatures = evaluation.get("signatures") or {}
    dataset = {"task_type": "text-generation", "task_name": task_name, "dataset_type": "impdist-heldout",
               "dataset_name": "the student's held-out pairs", "dataset_split": "heldout"}
    results = [EvalResult(**dataset, metric_type=k, metric_name=k, metric_value=v, metric_config=signatures.get(k))
               for k, v in evaluation.items() if k not in NOT_METRICS and isinstance(v, (int, float))]
    loss = meta.get("evaluation", {}).get("heldout_loss")
    if loss is not None:
        results.append(EvalResult(**dataset, metric_type="loss", metric_name="held-out loss per target token",
                                  metric_value=loss))
    return results


def model_card_data(meta: dict) -> Any:
    """The README's YAML metadata as a huggingface_hub ModelCardData."""
    from huggingface_hub import ModelCardData  # the models extra brings it

    tasks = list(meta.get("data", {}).get("tasks", {})) or ["paraphrase"]
    name = f"impdist student ({', '.join(tasks)})"
    base = hub_model_id(meta.get("base"))
    return ModelCardData(
        model_name=name, base_model=base, library_name="onnx", pipeline_tag="text-generation", language=["en"],
        license=meta.get("license", LICENSE), eval_results=_eval_results(meta, " and ".join(tasks)) or None,
        tags=["impdist", "impossible-distillation", "onnx", "optimum", *(["int8"] if meta["export"]["int8"] else []),
              *("summarization" if t == "summary" else t for t in tasks)],
        impdist={"version": meta["export"]["impdist"], "base": meta.get("base"), "tasks": tasks,
                 "quantization": meta["export"]["quantization"]})


def model_card(meta: dict) -> str:
    """The README.md of an exported student: YAML metadata (model_card_data), then use, prompt
    format, data, filters, training, evaluation; raises ValueError if huggingface_hub cannot read
    the metadata back."""
    from huggingface_hub import ModelCard  # the models extra brings it

    data = model_card_data(meta)
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{_card_body(meta)}")
    if card.data.to_dict() != data.to_dict():  # what the Hub will parse is what we meant
        raise ValueError(f"the model card's metadata does not read back: {card.data.to_dict()}")
    return str(card)


def _card_body(meta: dict) -> str:
    """The Markdown under the card's metadata."""
    ex, data, training = meta["export"], meta.get("data", {}), meta.get("training", {})
    cards = data.get("cards", {})
    fmt = meta["format"]
    tasks = ", ".join(f"{t} ({n})" for t, n in data.get("tasks", {}).items()) or "?"
    q = ex["quantization"] or {}
    # exports before 2026-12-07 put some MatMuls in finer blocks (fine_nodes); the card still names them
    fine = f" ({q['fine_nodes']}: {q['fine_block_size']})" if q.get("fine_nodes") else ""
    quant = (f"int8: MatMulNBits, {q['bits']}-bit weights in blocks of {q['block_size']}{fine}, "
             f"accuracy level {q['accuracy_level']}" if ex["int8"] else "fp32")
    evaluation = {"held-out loss (per target token)": meta.get("evaluation", {}).get("heldout_loss"),
                  "train loss (last steps)": meta.get("evaluation", {}).get("train_loss")}
    if ex.get("evaluation"):
        evaluation.update({f"held-out {k}": v for k, v in ex["evaluation"].items()})
    lines = [
        f"# impdist student ({tasks})", "",
        f"A `{meta.get('base')}` student distilled with impdist {ex['impdist']} (Impossible Distillation, Jung et "
        f"al. 2023), exported {ex['date']} as ONNX ({quant}) with its KV cache.", "",
        "## Use it without impdist", "",
        "```python",
        "from optimum.onnxruntime import ORTModelForCausalLM",
        "from transformers import AutoTokenizer",
        "",
        "model = ORTModelForCausalLM.from_pretrained(FOLDER)",
        "tokenizer = AutoTokenizer.from_pretrained(FOLDER)",
        "prompt = \"<task: paraphrase>\\nInput: The council approved the new budget on Tuesday.\\nOutput:\"",
        "ids = tokenizer(prompt, return_tensors=\"pt\", add_special_tokens=False)",
        "out = model.generate(input_ids=ids.input_ids, attention_mask=ids.attention_mask, max_new_tokens=64,",
        "                     do_sample=False)",
        "print(tokenizer.decode(out[0, ids.input_ids.shape[1]:], skip_special_tokens=True).split(\"\\n\")[0].strip())",
        "```", "",
        "With impdist: `impdist.Paraphraser.load(FOLDER).paraphrase([...], diversity=0.6)` or "
        "`impdist paraphrase --model FOLDER < sentences.txt`.", "",
        "## Prompt format and control codes", "",
        "`<task: T | length: L | diversity: D | syntax: S>` then `Input: SOURCE` and `Output:` on their own lines; "
        "the student writes ` TARGET` and EOS. Every code but the task may be left out.", "",
        f"- task: {', '.join(data.get('tasks', {}) or ['paraphrase'])}",
        f"- length: the bucket of len(target) / len(source) in characters, edges {fmt['length_edges']}",
        f"- diversity: the bucket of 1 - ROUGE-L F1(target, source), edges {fmt['diversity_edges']}",
        "- syntax: a sketch of an exemplar sentence (function words and punctuation, other words as `_`)", "",
        "## Data", "",
        _table({"dataset": data.get("path"), "fingerprint": data.get("fingerprint"), "pairs": data.get("pairs"),
                "pairs per self-distillation round": data.get("rounds"), "tasks": data.get("tasks")}), "",
        "## Filters", "",
    ]
    if not cards:
        lines += ["No dataset card: the pairs came from a JSONL file.", ""]
    for task, card in cards.items():
        lines += [f"### {task}", "", _table({"judge": card.get("judge"), "judge threshold": card.get("judge_threshold"),
                                             "funnel": card.get("funnel")}), ""]
        if card.get("filters"):
            lines += ["Thresholds:", "", "```json", json.dumps(card["filters"], indent=2, sort_keys=True), "```", ""]
    lines += [
        "## Training", "",
        _table({"status": training.get("status"), "steps": f"{training.get('steps')} / {training.get('planned_steps')}",
                "minutes": training.get("minutes"), "train examples": training.get("train_examples"),
                "held-out examples": training.get("heldout_examples")}), "",
        "```json", json.dumps(training.get("config", {}), indent=2, sort_keys=True), "```", "",
        "## Evaluation", "", _table(evaluation), "",
        "## Export", "", _table({"graph": ex["graph"], "exporter": ex["exporter"], "runtime": ex["runtime"],
                                 "weights": quant, "trained student": ex["source"]}), "",
        "## Licence", "",
        f"`{meta.get('license', LICENSE)}`: the base model's licence and the terms of the data it was distilled "
        "from decide; set them before you publish this model (`impdist push`).", "",
    ]
    return "\n".join(lines)

