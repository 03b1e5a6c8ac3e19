"""Student serving speed and quality: torch fp32 vs ONNX Runtime fp32 vs ONNX Runtime int8, and
the peer a user would otherwise run: transformers' `generate()` on the torch fp32 model.

Every backend paraphrases the same MRPC dev sentences (the first --sentences of the shipped
mrpc-dev set, impdist/data/mrpc_dev.jsonl) through impdist.Paraphraser, i.e. the teacher's decode
loop, greedily (the peer: the same prompts, batches and stopping rule - a line break or EOS - through
model.generate, which keeps finished rows in the batch until the last one ends):
at batch 32 over all of them (sentences/s, and the iBLEU of the outputs: 0.7 * BLEU(out, refs) -
0.3 * BLEU(out, src), corpus BLEU via impdist.kernels.corpus_bleu), and at batch 1 over the first
--batch1-sentences. Best of --repeat timed runs, the backends taking turns. Prints a table, then
one JSON line per row: peer = transformers' generate (torch fp32) at the same batch size;
`vs_torch_loop` is the ratio to impdist's own loop on torch fp32.

Then the decoding race against the engines a user would serve the student with instead
(bench/decode_race.py, as bench_teacher runs it): impdist's --race-backends and the --peers
(CTranslate2 int8 / float32, ONNX Runtime GenAI int8 / int4, converted from the student's own fp32
weights) decode the student's paraphrase prompts of the same MRPC sentences greedily for exactly
--new-tokens steps at each of --race-batches, taking turns; fidelity is the share of
teacher-forced next-token argmaxes equal to fp32's over the first --reference-items prompts
followed by their reference paraphrases. A peer that is not installed is named and skipped
(pip install 'impdist[bench]'); --peers none skips the race.

The student is a folder `impdist train` wrote (--model); its ONNX graphs are exported into the
impdist cache on first use (about a minute for SmolLM2-135M), and the peers convert it once into
the same cache, outside the timings.
"""
from __future__ import annotations

import argparse
import time

import peers as peer_engines
from common import Report, names, read_jsonl
from decode_race import Race, available_peers, run_race
from impdist.decoding.backends import BACKENDS, default_threads
from impdist.decoding.decode import left_pad
from impdist.metrics import ibleu
from impdist.models.names import hf_model_dir, load_tokenizer
from impdist.student.codes import target_text
from impdist.student.meta import prompt_format, read_meta
from impdist.student.serve import MAX_NEW_TOKENS, Paraphraser

PEER = "transformers"


class TransformersGenerate:
    """The peer: the student's torch fp32 weights through transformers' generate(), greedy, with the
    student's prompts, length-sorted batches and stopping rule (EOS or a line break)."""

    def __init__(self, model: str, threads: int | None) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        from impdist.decoding.backends import default_threads
        from impdist.decoding.sampling import newline_token_ids
        from impdist.models.names import load_tokenizer
        from impdist.student.meta import prompt_format, read_meta

        torch.set_num_threads(threads or default_threads())
        self.format = prompt_format(read_meta(model))
        self.tokenizer = tok = load_tokenizer(model)
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()
        self.stop = [tok.eos_token_id, *newline_token_ids(tok)]
        self.pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def paraphrase(self, texts: list[str], batch_size: int) -> list[str]:
        import torch

        controls = self.format.request("paraphrase")
        prompts = [self.tokenizer(self.format.prompt(t, controls), add_special_tokens=False)["input_ids"]
                   for t in texts]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        outputs = [""] * len(texts)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask = left_pad([prompts[i] for i in chunk], self.pad)
            width = ids.shape[1]
            with torch.no_grad():
                out = self.model.generate(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                                          do_sample=False,
                                          max_new_tokens=min(MAX_NEW_TOKENS, 2 * width + 8),
                                          eos_token_id=self.stop, pad_token_id=self.pad)
            for row, i in enumerate(chunk):
                text = self.tokenizer.decode(out[row, width:], skip_special_tokens=True)
                outputs[i] = text.split("\n", 1)[0].strip()
        return outputs


def timed_round_robin(students: dict, texts: list[str], batch: int, repeat: int) -> tuple[dict, dict]:
    """Best seconds of `repeat` runs of each student over texts at this batch size, and its outputs.

    The students take turns, one run each per round, so a slow spell of a shared machine (this
    one's speed drifts by a quarter from minute to minute) lands on every row alike instead of
    on whichever ran during it."""
    best = {name: float("inf") for name in students}
    outputs: dict[str, list[str]] = {}
    for _ in range(repeat):
        for name, student in students.items():
            start = time.perf_counter()
            outputs[name] = student.paraphrase(texts, batch_size=batch)
            best[name] = min(best[name], time.perf_counter() - start)
    return best, outputs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="runs/default/student", help="a trained student folder (default: %(default)s)")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (default: %(default)s)")
    ap.add_argument("--sentences", type=int, default=256, help="MRPC sentences at batch 32 (default: %(default)s)")
    ap.add_argument("--batch1-sentences", type=int, default=16, help="sentences at batch 1 (default: %(default)s)")
    ap.add_argument("--batch", type=int, default=32, help="the large batch size (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per row; the best counts (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads (default: all cores)")
    ap.add_argument("--peers", default=",".join(peer_engines.PEERS),
                    help="peer engines of the decoding race, comma-separated, or 'none' (default: %(default)s)")
    ap.add_argument("--race-backends", default="onnx-int8,onnx",
                    help="impdist backends in the decoding race (default: %(default)s)")
    ap.add_argument("--race-batches", default="1,16,64", help="the race's batch sizes (default: %(default)s)")
    ap.add_argument("--new-tokens", type=int, default=32,
                    help="the race's decode steps per run, about an MRPC paraphrase (default: %(default)s)")
    ap.add_argument("--race-repeat", type=int, default=3, help="race runs per row; the best counts (default: %(default)s)")
    ap.add_argument("--reference-items", type=int, default=40,
                    help="prompt + reference paraphrase sequences the race's fidelity is measured over (default: %(default)s)")
    args = ap.parse_args()
    systems = [PEER] + names(args.backends)
    rows = read_jsonl("mrpc_dev.jsonl")[: args.sentences]
    srcs, refs = [r["src"] for r in rows], [r["refs"] for r in rows]
    print(f"student {args.model}; {len(srcs)} MRPC dev sentences at batch {args.batch}, "
          f"{args.batch1_sentences} at batch 1", flush=True)

    students, load_s = {}, {}
    for name in systems:
        start = time.perf_counter()
        students[name] = (TransformersGenerate(args.model, args.threads) if name == PEER
                          else Paraphraser.load(args.model, backend=name, threads=args.threads))
        students[name].paraphrase(srcs[:4], batch_size=4)  # warm-up: allocator, thread pool, newline ids
        load_s[name] = time.perf_counter() - start
    big_s, big_out = timed_round_robin(students, srcs, args.batch, args.repeat)
    one_s, _ = timed_round_robin(students, srcs[: args.batch1_sentences], 1, args.repeat)
    results: dict[str, dict] = {}
    for name, student in students.items():
        outputs = big_out[name]
        tokens = sum(len(student.tokenizer(o, add_special_tokens=False)["input_ids"]) + 1 for o in outputs)
        results[name] = {"load_s": load_s[name], args.batch: len(srcs) / big_s[name],
                         1: args.batch1_sentences / one_s[name], "quality": ibleu(outputs, refs, srcs),
                         "tok_s": tokens / big_s[name], "outputs": outputs}
        q = results[name]["quality"]
        print(f"  {name}: ready in {load_s[name]:.1f} s; iBLEU {q['ibleu']:.2f} (BLEU {q['bleu']:.2f}, self-BLEU "
              f"{q['self_bleu']:.2f}); e.g. {srcs[0]!r} -> {outputs[0]!r}", flush=True)

    peer, loop = results[PEER], results.get("torch")
    if loop:
        same = sum(a == b for a, b in zip(peer["outputs"], loop["outputs"]))
        print(f"greedy outputs equal between transformers' generate and impdist's torch loop: {same}/{len(srcs)}")
    report = Report()
    Report.header("sent/s")
    for batch in (1, args.batch):
        for name in systems:
            r = results[name]
            q = r["quality"]
            extra = {"backend": name, "batch": batch, "ibleu": round(q["ibleu"], 2), "bleu": round(q["bleu"], 2),
                     "self_bleu": round(q["self_bleu"], 2), "ibleu_sentences": len(srcs)}
            if batch == args.batch:
                extra["tok_s"] = round(r["tok_s"], 1)
            extra["ibleu_diff"] = round(q["ibleu"] - peer["quality"]["ibleu"], 2)
            if loop:
                extra["vs_torch_loop"] = round(r[batch] / loop[batch], 2)
            n = len(srcs) if batch == args.batch else args.batch1_sentences
            report.add(f"student_b{batch}_{name}", n, r[batch], peer[batch], "transformers generate, torch fp32",
                       **extra)
    report.emit_json()
    race(args, srcs, [r[0] for r in refs])


def race(args: argparse.Namespace, srcs: list[str], refs: list[str]) -> None:
    """The decoding race on the student's own paraphrase prompts (bench/decode_race.py)."""
    peer_names = available_peers(args.peers)
    if not peer_names:
        return
    threads = args.threads or default_threads()
    batches = [int(b) for b in args.race_batches.split(",")]
    fmt, tokenizer = prompt_format(read_meta(args.model)), load_tokenizer(args.model)
    controls = fmt.request("paraphrase")
    prompts = [fmt.prompt(t, controls) for t in srcs]
    ids = [tokenizer(p, add_special_tokens=False).input_ids for p in prompts]
    references = [tokenizer(p + target_text(ref, decoder_only=True), add_special_tokens=False).input_ids
                  for p, ref in zip(prompts, refs[: args.reference_items])]
    print(f"\ndecoding race: the student's paraphrase prompts of {max(batches)} MRPC sentences, greedy, "
          f"{args.new_tokens} new tokens, {threads} threads", flush=True)
    run_race(Race(args.model, hf_model_dir(args.model), ids[: max(batches)], references, args.new_tokens, threads),
             names(args.race_backends), peer_names, batches,
             args.race_repeat, prefix="student_decode").emit_json()


if __name__ == "__main__":
    main()
