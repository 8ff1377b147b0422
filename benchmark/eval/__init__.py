"""Evaluation engine (layer 3; uses models for decoding and the ELBO, align's checkpoint reader): the
eval-task interface (files or the hub), loaders for the paper's file formats, judges, win-rate
protocols, final-answer and IFEval scoring, TruthfulQA MC2, synthetic-task scoring, answers files, and
lm-evaluation-harness model classes for our checkpoints.

Importing this package registers the model classes ``dllm`` and ``bench-ar`` with lm-eval (as lazy
entries: nothing heavy is imported until lm-eval asks for them).
"""


def register_lazily() -> None:
    try:
        import lm_eval.models  # noqa: F401  (lm-eval fills its registry lazily only while it is empty)
        from lm_eval.api.registry import model_registry
    except ImportError:  # lm-eval is a declared dependency; stay importable without it all the same
        return
    for name, target in (("dllm", "benchmark.eval.lm_eval_model:BenchLM"),
                         ("bench-ar", "benchmark.eval.lm_eval_model:BenchARLM")):
        if name not in model_registry.keys():
            model_registry.register(name, target=target)


register_lazily()
