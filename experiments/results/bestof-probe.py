# Probe (not part of the product), 2026-12-08: best-of-N paraphrases chosen without references, for the
# f383cbf make run's student and its fp32 teacher alike, on the first 1,000 MRPC items outside mrpc-eval
# (/tmp/tune/mrpc-tune1000.jsonl). Documents what was run; its output is bestof-probe-2026-12-08.log.
"""Probe: best-of-N paraphrases chosen without references, student and teacher alike, on the 1,000
MRPC tuning items (outside mrpc-eval). Candidates: the greedy output plus N samples (T 0.7, top-p 0.9).
Choosers: (judge) among candidates the run's judge scores >= 0.75 both ways and that are not copies,
the one with the lowest BLEU to the source; else the greedy output. (embed) max cos - lam * selfBLEU/100."""
import glob, json, sys, time, numpy as np
from impdist.evaluation.data import load_eval_set
from impdist.evaluation.significance import Bootstrap
from impdist.judges.embed import load_embedder, pair_similarity
from impdist.judges.equivalence import load_judge, bidirectional_scores
from impdist.metrics import item_stats, metrics_of
from impdist import kernels
from impdist.student.serve import Paraphraser
from impdist.generate.prompted import PromptedTeacher
N = int(sys.argv[1]) if len(sys.argv) > 1 else 4
RUN = "/tmp/mr5/runs/default"
ev = load_eval_set("/tmp/tune/mrpc-tune1000.jsonl", task="paraphrase")
norm = lambda t: " ".join(t.split()).lower()
def cached(name):
    for f in glob.glob(f"{RUN}/eval/mrpc-tune1000*{name}*.json"):
        return json.load(open(f))["outputs"]
greedy = {"student": cached("student"), "teacher": cached("teacher")}
emb = load_embedder("minilm-l6"); judge = load_judge(f"paraphrase:{RUN}/judge")
boot = Bootstrap(len(ev.srcs), 1000, 12345)
def score(name, outs):
    items = item_stats("paraphrase", outs, ev.refs, ev.srcs, embedder=emb); boot.add(name, items)
    m = metrics_of(items, outs, ev.srcs)
    print(json.dumps({"system": name, **{k: round(m[k], 2) for k in ("ibleu", "bert_ibleu", "copies")}}), flush=True)
samples = {}
t = time.time()
p = Paraphraser.load(f"{RUN}/student-onnx-int8/paraphrase")
samples["student"] = p.generate(ev.srcs, task="paraphrase", n=N, sample=True, temperature=0.7, top_p=0.9, diversity=0.4, batch_size=64)
print("student sampled", time.time() - t, flush=True); t = time.time()
del p
tt = PromptedTeacher("smollm2-135m")
samples["teacher"] = tt.generate(ev.srcs, task="paraphrase", n=N, sample=True, temperature=0.7, top_p=0.9, batch_size=64)
print("teacher sampled", time.time() - t, flush=True)
json.dump(samples, open(f"/tmp/tune/bestof-samples-{N}.json", "w"))
for sysname in ("student", "teacher"):
    score(sysname, greedy[sysname])
    cands = [[g] + list(s) for g, s in zip(greedy[sysname], samples[sysname])]
    flat_src = [src for src, cs in zip(ev.srcs, cands) for _ in cs]; flat = [c for cs in cands for c in cs]
    ok = np.array([bool(c.strip()) and norm(c) != norm(s) for s, c in zip(flat_src, flat)])
    js = np.zeros(len(flat)); idx = np.flatnonzero(ok)
    js[idx] = bidirectional_scores(judge, [flat_src[i] for i in idx], [flat[i] for i in idx])
    sims = np.zeros(len(flat)); sims[idx] = pair_similarity(emb, [flat_src[i] for i in idx], [flat[i] for i in idx])
    sb = np.array(kernels.sentence_bleu(flat, [[s] for s in flat_src])) if hasattr(kernels, "sentence_bleu") else None
    if sb is None:
        from sacrebleu.metrics import BLEU
        b = BLEU(effective_order=True); sb = np.array([b.sentence_score(c, [s]).score for s, c in zip(flat_src, flat)])
    k = len(cands[0])
    for label, pick in (("judge", lambda i: [j for j in range(k) if ok[i*k+j] and js[i*k+j] >= 0.75]),):
        outs = []
        for i in range(len(cands)):
            good = pick(i)
            outs.append(cands[i][min(good, key=lambda j: sb[i*k+j])] if good else cands[i][0])
        score(f"{sysname}, best of {N}+greedy by {label}", outs)
    for lam in (0.3, 0.5):
        sc = np.where(ok, sims - lam * sb / 100, -9).reshape(-1, k)
        outs = [cands[i][int(np.argmax(sc[i]))] for i in range(len(cands))]
        score(f"{sysname}, best of {N}+greedy by embed {lam}", outs)
names = list(boot._systems) if hasattr(boot, "_systems") else None
for a, b in [("student", "teacher")] + [(f"student, best of {N}+greedy by {l}", f"teacher, best of {N}+greedy by {l}") for l in ("judge", "embed 0.3", "embed 0.5")]:
    for m in ("ibleu", "bert_ibleu"): print(json.dumps(boot.compare(a, b, m).to_json()), flush=True)
