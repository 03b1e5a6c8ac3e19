"""Evaluation: the baselines a student is compared with, scored by the same metrics."""
