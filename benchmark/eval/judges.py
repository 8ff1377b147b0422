"""Pairwise judges for AlpacaEval / Arena-Hard style win rates. A judge rates two answers to one prompt
(shown in a given order) on AR-MAP's 1-10 helpfulness scale; ``None`` means the verdict did not parse.

    rule          deterministic, offline, order-independent (for tests and smoke runs; not a quality judge)
    openai        any OpenAI-compatible chat endpoint (AR-MAP: gpt-4o-mini at temperature 0); cached, retried
    reward-model  a local Hugging Face sequence-classification model by path (raw rewards, not 1-10)

Judges are plugins: register more with ``@register_judge("name")`` or the ``benchmark.judges`` group.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import urlsplit

from benchmark.core.errors import BenchmarkError
from benchmark.core.registry import Registry
from benchmark.core.store import atomic_write_text, cache_root
from benchmark.models.loading import load_tokenizer

log = logging.getLogger(__name__)
JUDGES: Registry = Registry("judge", "benchmark.judges")
register_judge = JUDGES.register

Scores = tuple[float | None, float | None]


class Judge(ABC):
    name: str = ""

    @abstractmethod
    def rate(self, prompt: str, first: str, second: str) -> Scores:
        """Scores of ``first`` and ``second`` (in the order shown to the judge)."""


@register_judge("rule")
class RuleJudge(Judge):
    """1-10 from length and repetition: 1 + 9 x (distinct-word ratio) x min(1, words / 60), rounded.

    Deterministic and order-independent, so both protocols can be checked by hand; it prefers long,
    non-repetitive answers and knows nothing about correctness.
    """

    name = "rule"

    @staticmethod
    def score_text(text: str) -> float:
        words = text.lower().split()
        if not words:
            return 1.0
        return float(round(1 + 9 * (len(set(words)) / len(words)) * min(1.0, len(words) / 60)))

    def rate(self, prompt: str, first: str, second: str) -> Scores:
        return self.score_text(first), self.score_text(second)


JUDGE_TEMPLATE = """[Instruction]
Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants \
to the user question displayed below. Rate each response on a scale of 1 to 10 for helpfulness, relevance, \
accuracy, depth and level of detail. Output exactly: "Score A: <n>, Score B: <n>".

[Question]
{prompt}

[The Start of Assistant A's Answer]
{first}
[The End of Assistant A's Answer]

[The Start of Assistant B's Answer]
{second}
[The End of Assistant B's Answer]"""
_VERDICT = re.compile(r"Score A:\s*(\d+(?:\.\d+)?)\D+Score B:\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


@register_judge("openai")
class OpenAIJudge(Judge):
    """An OpenAI-compatible ``/chat/completions`` endpoint.

    Settings, first found wins: arguments; the project's ``JUDGE_BASE_URL``, ``JUDGE_MODEL`` and
    ``JUDGE_API_KEY``; the OpenAI client's own ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``; defaults
    api.openai.com/v1 and gpt-4o-mini. A key from ``OPENAI_API_KEY`` goes only to the host of
    ``OPENAI_BASE_URL`` (or OpenAI's when that is unset), never to a ``JUDGE_BASE_URL`` host the key
    was not given for. The key is sent, never stored: the cache holds parsed verdicts keyed by
    (model, prompt, answers, order), so a rerun costs nothing. Failures (no content, a verdict that does
    not parse) are retried, counted, and never cached.
    """

    name = "openai"
    DEFAULT_URL = "https://api.openai.com/v1"

    def __init__(self, base_url: str | None = None, model: str | None = None, key_env: str | None = None,
                 cache_dir: str | Path | None = None, timeout: float = 60.0, retries: int = 5,
                 parse_retries: int = 2) -> None:
        env = os.environ
        self.base_url = (base_url or env.get("JUDGE_BASE_URL") or env.get("OPENAI_BASE_URL")
                         or self.DEFAULT_URL).rstrip("/")
        self.model = model or env.get("JUDGE_MODEL") or "gpt-4o-mini"
        if key_env is None:
            key_env = "JUDGE_API_KEY" if env.get("JUDGE_API_KEY") else "OPENAI_API_KEY"
        self.key_env, self.timeout, self.retries, self.parse_retries = key_env, timeout, retries, parse_retries
        self.explicit_url = base_url is not None
        self.cache_dir = Path(cache_dir or cache_root() / "judgments")
        self.unparsed = 0  # verdicts that did not parse after every retry (reported, not cached)

    def describe(self) -> dict:
        """What identifies this judge in a result record (no secrets)."""
        return {"judge": self.name, "base_url": self.base_url, "model": self.model}

    def _key(self) -> str:
        key = os.environ.get(self.key_env)
        if not key:
            raise BenchmarkError(f"judge 'openai': set ${self.key_env} (the API key) or use another judge")
        if self.key_env == "OPENAI_API_KEY" and not self.explicit_url:
            meant_for = (os.environ.get("OPENAI_BASE_URL") or self.DEFAULT_URL).rstrip("/")
            if _host(meant_for) != _host(self.base_url):
                raise BenchmarkError(
                    f"judge 'openai': $OPENAI_API_KEY belongs to {_host(meant_for)}, but the judge would send it "
                    f"to {_host(self.base_url)} ($JUDGE_BASE_URL); set $JUDGE_API_KEY for that endpoint")
        return key

    def _cache_file(self, prompt: str, first: str, second: str) -> Path:
        """Keyed by the endpoint too: another server with a model of the same name is another judge."""
        key = hashlib.sha256(json.dumps([self.base_url, self.model, prompt, first, second]).encode()).hexdigest()
        return self.cache_dir / key[:2] / f"{key}.json"

    def rate(self, prompt: str, first: str, second: str) -> Scores:
        cache = self._cache_file(prompt, first, second)
        if cache.is_file():
            try:
                scores = _parse(json.loads(cache.read_text()).get("verdict"))
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                scores = None
            if scores is not None:
                return scores
            cache.unlink(missing_ok=True)  # a failure cached by an older version: ask again
        for attempt in range(self.parse_retries + 1):
            verdict = self._ask(JUDGE_TEMPLATE.format(prompt=prompt, first=first, second=second))
            scores = _parse(verdict)
            if scores is not None:
                atomic_write_text(cache, json.dumps({"model": self.model, "verdict": verdict}))
                return scores
            log.warning("judge verdict did not parse (%r); asking again (%d/%d)", (verdict or "")[:80],
                        attempt + 1, self.parse_retries)
        self.unparsed += 1
        return None, None

    def _ask(self, content: str) -> str | None:
        key = self._key()
        body = json.dumps({"model": self.model, "temperature": 0,
                           "messages": [{"role": "user", "content": content}]}).encode()
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {key}"})
        delay = 1.0
        for attempt in range(self.retries + 1):
            try:
                with _NO_REDIRECTS.open(request, timeout=self.timeout) as response:
                    raw = response.read()
                return _content(raw, self.base_url)
            except urllib.error.HTTPError as exc:
                if 300 <= exc.code < 400:
                    raise BenchmarkError(f"judge 'openai' at {self.base_url}: HTTP {exc.code} redirects to "
                                         f"{exc.headers.get('Location')!r}; the key is never sent on to another "
                                         "address: set $JUDGE_BASE_URL to the endpoint itself") from exc
                if exc.code not in (408, 409, 429) and exc.code < 500:
                    raise BenchmarkError(f"judge 'openai' at {self.base_url}: HTTP {exc.code} {exc.reason}") from exc
                err = exc
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                err = exc
            if attempt < self.retries:
                log.warning("judge request failed (%s); retry %d/%d in %.0fs", err, attempt + 1, self.retries, delay)
                time.sleep(delay)
                delay = min(delay * 2, 60)
        raise BenchmarkError(f"judge 'openai' at {self.base_url}: no answer after {self.retries + 1} tries ({err})")


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: following it would send the Authorization header to the new address."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises the 3xx as an HTTPError


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _parse(verdict) -> Scores | None:
    match = _VERDICT.search(verdict) if isinstance(verdict, str) else None
    return (float(match.group(1)), float(match.group(2))) if match else None


def _content(raw: bytes, url: str) -> str | None:
    """The message text of a chat completion; None when the endpoint answered without content."""
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BenchmarkError(f"judge 'openai' at {url}: the answer is not JSON ({raw[:120]!r})") from exc
    try:
        content = payload["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise BenchmarkError(f"judge 'openai' at {url}: the answer has no choices[0].message "
                             f"(got {str(payload)[:160]})") from exc
    return content if isinstance(content, str) else None


@register_judge("reward-model")
class RewardModelJudge(Judge):
    """A local reward model (any ``AutoModelForSequenceClassification`` folder); rates each answer alone."""
    name = "reward-model"

    def __init__(self, path: str | Path) -> None:
        from transformers import AutoModelForSequenceClassification

        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise BenchmarkError(f"judge 'reward-model': {self.path} is not a model folder (no config.json)")
        self.tokenizer = load_tokenizer(self.path)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.path, trust_remote_code=False).eval()

    def _reward(self, prompt: str, answer: str) -> float:
        import torch

        with torch.no_grad():
            inputs = self.tokenizer(prompt, answer, return_tensors="pt", truncation=True)
            return float(self.model(**inputs).logits[0, 0])

    def rate(self, prompt: str, first: str, second: str) -> Scores:
        return self._reward(prompt, first), self._reward(prompt, second)


def make_judge(name: str, model: str | None = None) -> Judge:
    """A judge by registry name; ``model`` is the endpoint's model (openai) or a folder (reward-model)."""
    cls = JUDGES.get(name)
    if name == "reward-model":
        if not model:
            raise BenchmarkError("the reward-model judge needs a model folder (--judge-model DIR, or --set "
                                 "judge_model=DIR with eval --task)")
        return cls(model)
    if name == "openai":
        return cls(model=model)
    return cls()

