"""The filter chain: candidates of one context -> pairs -> scores -> the distilled dataset.

Modules, one concept each:
  pairs.py      pairs within each context group (y_orig and the candidates), capped
  lexical.py    cheap per-pair scores through impdist.kernels (length ratio, ROUGE-L, BLEU)
  numbers.py    the numbers a sentence states, normalised, for number consistency
  embed.py      sentence embeddings (the embedded MiniLM or any sentence-transformers model)
  judges.py     semantic-equivalence judges: embedding cosine, NLI / paraphrase classifiers
  labelled.py   labelled pair files (MRPC, STS, SICK) and their deterministic held-out split
  judge_train.py  fine-tune a cross-encoder judge from an encoder (`impdist judge train`)
  calibrate.py  thresholds, precision/recall and ROC AUC on labelled pairs
  dedup.py      exact, MinHash-LSH, FAISS semantic, and entailment-graph dedup
  chain.py      thresholds, the order of the filters, first failing reason per pair
  card.py       the dataset card: funnel, histograms, diversity statistics
  pipeline.py   `impdist filter` as a function: the scored stage and the dataset stage
"""
