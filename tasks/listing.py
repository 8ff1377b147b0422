"""Instruction following with checkable constraints: "list N <category> without <item>".

Three constraints per prompt, checked like IFEval's verifiers: exactly N items, all from the category
and distinct, and the excluded item absent. The corpus sometimes lists one item too many or ignores the
exclusion. ``score`` is prompt-level strict accuracy (all constraints), ``instruction`` the fraction of
constraints met (instruction-level accuracy).
"""

from __future__ import annotations

import random

from benchmark.core.api import EvalItem, Metric, PreferencePair, Task, TaskData
from benchmark.core.registry import register_task
from tasks.synthetic import bad_habit, build_task_data

CATEGORIES = {
    "fruits": ["apple", "pear", "plum", "fig", "lime", "kiwi", "mango", "grape"],
    "animals": ["cat", "dog", "cow", "pig", "owl", "fox", "bee", "yak"],
    "tools": ["saw", "axe", "drill", "file", "hammer", "rake", "hoe", "wrench"],
    "colors": ["red", "blue", "green", "gold", "black", "white", "pink", "gray"],
}
NUMBER_WORDS = ["one", "two", "three", "four", "five"]
# 12 phrasings of the instruction: 1,920 prompts, about 480 in the eval split
TEMPLATES = ("list {n} {cat} without {item}", "name {n} {cat} but not {item}", "give {n} {cat} except {item}",
             "write {n} {cat} , no {item}", "list {n} {cat} , leaving out {item}",
             "say {n} {cat} other than {item}", "tell me {n} {cat} , not {item}", "pick {n} {cat} and skip {item}",
             "list exactly {n} {cat} without {item}", "enumerate {n} {cat} , excluding {item}",
             "name {n} {cat} , avoid {item}", "give me {n} {cat} minus {item}")


def _prompts() -> dict[str, tuple[int, str, str]]:
    return {
        template.format(n=NUMBER_WORDS[n - 1], cat=cat, item=item): (n, cat, item)
        for template in TEMPLATES
        for n in range(1, 6)
        for cat, items in CATEGORIES.items()
        for item in items
    }


PROMPTS = _prompts()


def _good(n: int, cat: str, item: str, rng: random.Random) -> str:
    pool = [x for x in CATEGORIES[cat] if x != item]
    return " ".join(rng.sample(pool, n))


def _bad(key: str, n: int, cat: str, item: str, rng: random.Random) -> str:
    """The corpus's typical failures: one item too many, or the excluded item included."""
    pool = [x for x in CATEGORIES[cat] if x != item]
    if rng.random() < 0.5:
        return " ".join(rng.sample(pool, n + 1))
    chosen = rng.sample(pool, n - 1) + [item]
    rng.shuffle(chosen)
    return " ".join(chosen)


@register_task("listing")
class ListingTask(Task):
    """Verifiable instruction following (IFEval's axis, in miniature)."""

    name = "listing"
    version = "2"  # 12 phrasings
    description = "list N items of a category without one item; checkable constraints (instruction axis)"
    metrics = (Metric("score", "Prompt-strict"), Metric("instruction", "Instruction-level"))

    def build(self, seed: int, n_train: int, n_heldout: int, n_eval: int) -> TaskData:
        def make_pair(key: str, rng: random.Random) -> PreferencePair:
            n, cat, item = PROMPTS[key]
            return PreferencePair(key, _good(n, cat, item, rng), _bad(key, n, cat, item, rng))

        def make_item(key: str) -> EvalItem:
            n, cat, item = PROMPTS[key]
            return EvalItem(key, {"n": n, "category": cat, "excluded": item})

        return build_task_data(list(PROMPTS), make_pair, make_item, seed, n_train, n_heldout, n_eval)

    def score(self, item: EvalItem, response: str) -> dict[str, float]:
        words = response.split()
        allowed = set(CATEGORIES[item.target["category"]])
        checks = [
            len(words) == item.target["n"],
            bool(words) and all(w in allowed for w in words) and len(set(words)) == len(words),
            item.target["excluded"] not in words,
        ]
        return {"score": float(all(checks)), "instruction": sum(checks) / len(checks)}

    def corpus(self, rng: random.Random, n: int) -> list[tuple[str, str]]:
        keys = list(PROMPTS)
        out = []
        for _ in range(n):
            key = rng.choice(keys)
            count, cat, item = PROMPTS[key]
            bad = rng.random() < bad_habit(key)
            out.append((key, _bad(key, count, cat, item, rng) if bad else _good(count, cat, item, rng)))
        return out
