"""Evaluation on real data: loaders for the paper's file formats, judges and win-rate protocols,
TruthfulQA MC2 scoring, and an lm-evaluation-harness model class for DLLMs."""
