"""Task plugins, one per file. Preference tasks (arith, facts, listing) give a suite its training pairs and
verifier (``benchmark.tasks`` entry points); eval tasks (alpacaeval, arena_hard, truthfulqa, gsm8k,
math500, ifeval) score a finished checkpoint on a real benchmark (``benchmark.eval_tasks``)."""
