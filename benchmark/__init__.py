"""dllm-align-bench: AR-MAP beside DLLM-native preference alignment, on shared tasks, models and budgets.

``import benchmark`` registers the model classes ``dllm`` and ``bench-ar`` with lm-eval, as lazy
entries (``module:Class`` strings): lm-eval finds them by name, and nothing heavy (torch, the model
classes) is imported until lm-eval asks for one, so ``--help`` and ``list`` stay fast.
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
