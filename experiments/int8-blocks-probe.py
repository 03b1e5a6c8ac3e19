"""Probe (not part of the product): int8 agreement with fp32 (teacher-forced top-1) under
per-node MatMulNBits block sizes, over --items reference sequences, and optionally decode speed
beside the peers, the engines taking turns. It replaced impdist's INT8_SCHEME for the session, so
each variant gets its own cache entry. Run from the repository root:
  .venv/bin/python experiments/int8-blocks-probe.py runs/default/student/paraphrase --items 40 \
      --variants cur,all32,all16 --peers genai-int8          # agreement
  .venv/bin/python experiments/int8-blocks-probe.py smollm2-135m --items 0 --variants cur,all16 \
      --peers genai-int8 --time 1,16,64                      # speed (the teacher)
Results of 2026-12-07: experiments/results/int8-blocks-2026-12-07.log and the README."""
import argparse, json, shutil, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import onnx
import peers as peer_engines
from decode_race import fp32_argmax, agreement, time_round_robin
from impdist.models import onnx_export as export
from impdist.decoding.backends import make_backend, default_threads
from impdist.models.names import hf_model_dir, load_tokenizer
from impdist.student.codes import target_text
from impdist.student.meta import prompt_format, read_meta
from common import read_jsonl

# variant: (default block, {node substring: block}, symmetric)
V = {
    "cur": (128, {"down_proj": 32}, True),
    "all32": (32, {}, True),
    "all16": (16, {}, True),
    "d16": (128, {"down_proj": 16}, True),
    "d16h32": (128, {"down_proj": 16, "lm_head": 32}, True),
    "d32h32": (128, {"down_proj": 32, "lm_head": 32}, True),
    "d32h16": (128, {"down_proj": 32, "lm_head": 16}, True),
    "d16h16": (128, {"down_proj": 16, "lm_head": 16}, True),
    "asym": (128, {"down_proj": 32}, False),
    "asym32": (32, {}, False),
    "d32o32": (128, {"down_proj": 32, "o_proj": 32}, True),
    "d32q32": (128, {"down_proj": 32, "qkv_proj": 32}, True),
    "d32g32": (128, {"down_proj": 32, "gate_up": 32}, True),
    "a32d16": (32, {"down_proj": 16}, True),
    "d16g32": (128, {"down_proj": 16, "gate_up": 32}, True),
    "d16q32": (128, {"down_proj": 16, "qkv_proj": 32}, True),
    "a32h128": (32, {"lm_head": 128}, True),
    "a16h128": (16, {"lm_head": 128}, True),
    "a16h32": (16, {"lm_head": 32}, True),
    "a32d16h128": (32, {"down_proj": 16, "lm_head": 128}, True),
    "q32o32d16": (128, {"qkv_proj": 32, "o_proj": 32, "down_proj": 16}, True),
    "q16o16d16": (128, {"qkv_proj": 16, "o_proj": 16, "down_proj": 16}, True),
    "d16h64": (128, {"down_proj": 16, "lm_head": 64}, True),
}

def quantize(src: Path, out: Path) -> None:
    s = export.INT8_SCHEME
    model = onnx.load(str(src / export.ONNX_FILE))
    mm = [n.name for n in model.graph.node if n.op_type == "MatMul"]
    plan = {}
    for n in mm:
        bs = s["block_size"]
        for pat, b in s["rules"].items():
            if pat in n:
                bs = b
        plan[n] = bs
    for bs in sorted(set(plan.values())):
        model = export._matmul_nbits(model, bs, exclude=[n for n in mm if plan[n] != bs])
    export.save_onnx(model, out / export.ONNX_FILE)
    for p in src.iterdir():
        if p.name not in (export.ONNX_FILE, export._EXTERNAL_DATA) and p.is_file():
            shutil.copy2(p, out / p.name)

export.quantize_int8 = quantize

def backend_for(model, name):
    d, rules, sym = V[name]
    export.INT8_SCHEME = {"method": "matmulnbits", "bits": 8, "block_size": d, "symmetric": sym,
                         "accuracy_level": 4, "rules": rules, "probe": 1}
    b = make_backend(model, "onnx-int8", threads=default_threads())
    return peer_engines.ImpdistEngine(b)

ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("--items", type=int, default=48)
ap.add_argument("--variants", default="cur,all32")
ap.add_argument("--peers", default="genai-int8")
ap.add_argument("--time", default="")  # batches e.g. 1,16,64
ap.add_argument("--repeat", type=int, default=3)
a = ap.parse_args()
rows = read_jsonl("mrpc_dev.jsonl")
srcs, refs = [r["src"] for r in rows], [r["refs"][0] for r in rows]
tok = load_tokenizer(a.model)
if Path(a.model).is_dir():
    fmt = prompt_format(read_meta(a.model))
    controls = fmt.request("paraphrase")
    prompts = [fmt.prompt(t, controls) for t in srcs]
    refs_ids = [tok(p + target_text(r, decoder_only=True), add_special_tokens=False).input_ids
                for p, r in zip(prompts, refs[: a.items])]
else:  # the teacher: news sentences as plain text, each the source then its paraphrase
    prompts = srcs
    refs_ids = [tok(s + " " + r, add_special_tokens=False).input_ids for s, r in zip(srcs, refs[: a.items])]
ids = [tok(p, add_special_tokens=False).input_ids for p in prompts]
hf = hf_model_dir(a.model)
fp32 = fp32_argmax(hf, refs_ids)
ntok = sum(len(f) for f in fp32)
print("reference tokens", ntok, flush=True)
engines = {}
for v in [x for x in a.variants.split(",") if x]:
    t = time.time(); e = backend_for(a.model, v); engines[v] = e
    if a.items:
        print(json.dumps({"variant": v, "agree": round(agreement(e, refs_ids, fp32), 4),
                          "s": round(time.time() - t, 1)}), flush=True)
for p in [x for x in a.peers.split(",") if x]:
    e = peer_engines.make_peer(p, hf, default_threads()); engines[p] = e
    if a.items:
        print(json.dumps({"variant": p, "agree": round(agreement(e, refs_ids, fp32), 4)}), flush=True)
if a.time:
    bs = [int(b) for b in a.time.split(",")]
    res = time_round_robin(engines, bs, ids[: max(bs)], 32, a.repeat)
    for b in bs:
        for n in engines:
            print(json.dumps({"variant": n, "batch": b, "tok_s": round(res[n][b]["tok_s"], 1)}), flush=True)
