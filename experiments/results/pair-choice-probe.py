# Probe (not part of the product), 2026-12-08: re-filters the f383cbf make run's paraphrase rewrites with another
# pair per source, trains a student on each as make run does and evaluates it on the 1,000 MRPC tuning items
# against the fp32 teacher. Documents what was run; its rows are in pair-choice-2026-12-08.jsonl.
"""Which pair per source teaches iBLEU: the entailment-graph step keeps, per source, the most
reworded pair (lowest ROUGE-L, the default), the pair the judge is surest of (lowest -min(fwd, bwd)),
or the least reworded under the gate (lowest -ROUGE-L). Students trained as make run trains them
(3 epochs, at least 40 steps), evaluated on the 1,000 MRPC tuning items against the fp32 teacher."""
import sys, json, time
sys.path.insert(0, "/work/main/experiments")
from dataclasses import replace
from pathlib import Path
import numpy as np
import impdist.filters.chain as chain
from common import train_and_evaluate, kept_pairs
from impdist.filters.pipeline import filter_dataset
from impdist.run_config import read_run_config
from impdist.student.train import steps_for
run = Path("/tmp/mr5/runs/default"); config = read_run_config(run / "run.json")
cands = run / "rewrites/paraphrase/candidates-a4afd4a76472"
costs = {"surest": lambda p: -np.minimum(p.score("judge_fwd"), p.score("judge_bwd")),
         "least_reworded": lambda p: -p.score("rougeL")}
original = chain.graph_cost
for name in sys.argv[1:]:
    chain.graph_cost = lambda pairs, task, f=costs[name]: f(pairs) if task == "paraphrase" else original(pairs, task)
    out = Path(f"/tmp/tune/v-{name}")
    t = time.time()
    kept = filter_dataset(cands, out, task="paraphrase", config=config.filters["paraphrase"], pairing="source", cap=None,
                          judge=f"paraphrase:{run}/judge", embedder=config.embedder, seed=config.seed, quiet=True)
    rows = kept_pairs(kept.dataset_dir)
    print(name, "kept", kept.kept, "mean rougeL", round(float(np.mean([r["scores"]["rougeL"] for r in rows])), 3), flush=True)
    training = replace(config.student, max_steps=steps_for(kept.kept, config.student, config.train_min_steps))
    r = train_and_evaluate([kept.dataset_dir], out, training, config, run, "/tmp/tune/mrpc-tune1000.jsonl", 1000)
    print(json.dumps({"variant": name, "pairs": kept.kept, **r}), flush=True)
