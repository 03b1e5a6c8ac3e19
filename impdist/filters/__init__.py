"""The filter chain: candidates of one context -> pairs -> scores -> the distilled dataset.

Modules, one concept each:
  pairs.py      pairs within each context group (y_orig and the candidates), capped
  lexical.py    cheap per-pair scores through impdist.kernels (length ratio, ROUGE-L, BLEU)
  numbers.py    the numbers a sentence states, normalised, for number consistency
  informativeness.py  how much meaning a summary keeps for its length (the graph step's choice)
  dedup.py      exact, MinHash-LSH, FAISS semantic, and entailment-graph dedup
  chain.py      FilterConfig, the steps in order (one small class each), first failing reason per pair
  card.py       the dataset card: funnel, histograms, diversity statistics
  pipeline.py   `impdist filter` as a function: the scored stage and the dataset stage

The judges and embedders the scored stage runs live in impdist.judges.
"""
