"""Evaluation engine (layer 3; uses models for decoding and the ELBO, never align): the
eval-task interface (files or the hub), loaders for the paper's file formats, judges, win-rate
protocols, final-answer and IFEval scoring, TruthfulQA MC2, synthetic-task scoring, answers files, and
lm-evaluation-harness model classes for our checkpoints.
"""
