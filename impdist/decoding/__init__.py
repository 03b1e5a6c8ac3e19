"""The decoding runtime the teacher, the student and the evaluation share: backends (torch,
ONNX Runtime fp32/int8, seq2seq), one decode loop, one sampler, and the extractive constraint;
runtime.py holds the backend names and the CPU thread set-up every torch model shares, tokenizer.py
loads a model folder's tokenizer. Everything but the torch backends is numpy: the ONNX path runs
in the torch-free serving install (`impdist[serve]`), and torch loads only with a torch backend."""
