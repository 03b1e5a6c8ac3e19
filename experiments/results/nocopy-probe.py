# Probe (not part of the product): a no-copy decoding rule for student and teacher on the first 1,000 MRPC items outside
# mrpc-eval; reads the outputs that /tmp evaluation caches of the 03ada91 run held, so it documents what was run.
"""What a no-copy rule would do: greedy outputs that copy the input replaced by the first of 4
samples (temperature 0.7, top-p 0.9) that does not; student and teacher alike, on the tuning items."""
import glob, json, sys, numpy as np
from impdist.evaluation.data import load_eval_set
from impdist.evaluation.significance import Bootstrap
from impdist.judges.embed import load_embedder
from impdist.metrics import item_stats, metrics_of
from impdist.student.serve import Paraphraser
from impdist.generate.prompted import PromptedTeacher
ev = load_eval_set("/tmp/tune/mrpc-tune1000.jsonl", task="paraphrase")
norm = lambda t: " ".join(t.split()).lower()
def cached(sub, ctrl):
    for f in glob.glob("/tmp/s4/cache/mrpc-tune1000*.json"):
        d = json.load(open(f)); i = d["identity"]
        if sub in json.dumps(i) and i.get("controls", {}) == ctrl: return d["outputs"]
stud = cached("/tmp/mr3/", {"diversity": 0.4}); teach = cached("teacher", {}) or cached("instruction", {})
emb = load_embedder("minilm-l6")
boot = Bootstrap(len(ev.srcs), 1000, 12345)
def score(name, outs):
    items = item_stats("paraphrase", outs, ev.refs, ev.srcs, embedder=emb); boot.add(name, items)
    m = metrics_of(items, outs, ev.srcs); print(json.dumps({"system": name, **{k: round(m[k], 2) for k in ("ibleu", "bert_ibleu", "copies")}}), flush=True)
score("student", stud); score("teacher", teach)
p = Paraphraser.load("/tmp/mr3/impdist/runs/default/student-onnx-int8/paraphrase")
idx = [i for i, (o, s) in enumerate(zip(stud, ev.srcs)) if norm(o) == norm(s)]
samples = p.generate([ev.srcs[i] for i in idx], task="paraphrase", n=4, sample=True, temperature=0.7, top_p=0.9, diversity=0.4)
fixed = list(stud)
for i, ss in zip(idx, samples):
    fixed[i] = next((x for x in ss if norm(x) != norm(ev.srcs[i]) and x.strip()), stud[i])
score("student, no copy", fixed)
t = PromptedTeacher("smollm2-135m")
tidx = [i for i, (o, s) in enumerate(zip(teach, ev.srcs)) if norm(o) == norm(s) or not o.strip()]
tsamples = t.generate([ev.srcs[i] for i in tidx], task="paraphrase", n=4, sample=True, temperature=0.7, top_p=0.9)
tfixed = list(teach)
for i, ss in zip(tidx, tsamples):
    tfixed[i] = next((x for x in ss if norm(x) != norm(ev.srcs[i]) and x.strip()), teach[i])
score("teacher, no copy", tfixed)
for a, b in [("student, no copy", "student"), ("student, no copy", "teacher, no copy"), ("student", "teacher")]:
    for m in ("ibleu", "bert_ibleu"): print(json.dumps(boot.compare(a, b, m).to_json()))
