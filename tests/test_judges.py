"""Judges: the OpenAI-compatible client against a local stand-in server, and a local reward model."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from benchmark.core.errors import BenchmarkError
from benchmark.eval.judges import JUDGES, OpenAIJudge


class FakeEndpoint(BaseHTTPRequestHandler):
    """Answers /chat/completions; fails the first ``fail_first`` requests with HTTP 429."""

    calls = []
    fail_first = 0
    replies = []  # raw bodies to answer with first (e.g. content null, garbage), then real verdicts

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeEndpoint.calls.append({"auth": self.headers.get("Authorization"), "body": body})
        if len(FakeEndpoint.calls) <= FakeEndpoint.fail_first:
            self.send_response(429)
            self.end_headers()
            return
        if FakeEndpoint.replies:
            payload = FakeEndpoint.replies.pop(0)
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        content = body["messages"][0]["content"]
        first = content.split("[The Start of Assistant A's Answer]")[1].split("[The End")[0]
        second = content.split("[The Start of Assistant B's Answer]")[1].split("[The End")[0]
        verdict = f"Score A: {min(10, len(first.split()))}, Score B: {min(10, len(second.split()))}"
        payload = json.dumps({"choices": [{"message": {"content": verdict}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture()
def endpoint():
    FakeEndpoint.calls, FakeEndpoint.fail_first, FakeEndpoint.replies = [], 0, []
    server = HTTPServer(("127.0.0.1", 0), FakeEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_openai_judge_scores_retries_and_caches(endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-secret-123")
    monkeypatch.setattr("time.sleep", lambda s: None)
    FakeEndpoint.fail_first = 2
    judge = OpenAIJudge(base_url=endpoint, model="judge-x", key_env="MY_KEY", cache_dir=tmp_path / "cache")
    assert judge.rate("q", "one two three", "one") == (3.0, 1.0)
    assert len(FakeEndpoint.calls) == 3, "two 429s were retried"
    assert FakeEndpoint.calls[-1]["auth"] == "Bearer sk-secret-123"
    assert FakeEndpoint.calls[-1]["body"]["model"] == "judge-x" and FakeEndpoint.calls[-1]["body"]["temperature"] == 0
    assert judge.rate("q", "one two three", "one") == (3.0, 1.0)
    assert len(FakeEndpoint.calls) == 3, "the second verdict came from the cache"
    cached = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    assert "sk-secret-123" not in cached and "judge-x" in cached


def test_openai_judge_without_key_is_a_clear_error(endpoint, tmp_path, monkeypatch):
    monkeypatch.delenv("MISSING_KEY", raising=False)
    judge = OpenAIJudge(base_url=endpoint, key_env="MISSING_KEY", cache_dir=tmp_path)
    with pytest.raises(BenchmarkError, match=r"set \$MISSING_KEY"):
        judge.rate("q", "a", "b")
    assert FakeEndpoint.calls == []


def test_openai_judge_gives_up_after_retries(endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "k")
    monkeypatch.setattr("time.sleep", lambda s: None)
    FakeEndpoint.fail_first = 100
    judge = OpenAIJudge(base_url=endpoint, key_env="MY_KEY", cache_dir=tmp_path, retries=2)
    with pytest.raises(BenchmarkError, match="no answer after 3 tries"):
        judge.rate("q", "a", "b")


def test_reward_model_judge_on_a_local_classifier(micro_pair, tmp_path):
    import torch
    from transformers import Qwen2Config, Qwen2ForSequenceClassification

    from benchmark.models.loading import load_tokenizer

    tok = load_tokenizer(micro_pair.ar_path)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, num_labels=1, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    Qwen2ForSequenceClassification(cfg).save_pretrained(tmp_path / "rm")
    tok.save_pretrained(tmp_path / "rm")
    judge = JUDGES.get("reward-model")(tmp_path / "rm")
    a, b = judge.rate("what is 1 plus 1 ?", "2", "3")
    assert isinstance(a, float) and isinstance(b, float) and a != b
    assert judge.rate("what is 1 plus 1 ?", "3", "2") == (b, a), "rewards do not depend on the order shown"
    with pytest.raises(BenchmarkError, match="not a model folder"):
        JUDGES.get("reward-model")(tmp_path / "nothing-here")


NULL_CONTENT = json.dumps({"choices": [{"message": {"content": None}}]}).encode()
NO_VERDICT = json.dumps({"choices": [{"message": {"content": "I cannot decide."}}]}).encode()


def test_openai_base_url_of_the_openai_client_is_honoured(endpoint, tmp_path, monkeypatch):
    for var in ("JUDGE_BASE_URL", "JUDGE_API_KEY", "JUDGE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", endpoint)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    judge = OpenAIJudge(cache_dir=tmp_path)
    assert judge.base_url == endpoint
    assert judge.rate("q", "a b", "a") == (2.0, 1.0)
    assert FakeEndpoint.calls[-1]["auth"] == "Bearer sk-local"


def test_an_openai_key_is_never_sent_to_a_judge_host_it_was_not_given_for(endpoint, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("JUDGE_API_KEY", raising=False)
    monkeypatch.setenv("JUDGE_BASE_URL", endpoint)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-only")
    with pytest.raises(BenchmarkError, match="JUDGE_API_KEY"):
        OpenAIJudge(cache_dir=tmp_path).rate("q", "a", "b")
    assert FakeEndpoint.calls == []
    monkeypatch.setenv("JUDGE_API_KEY", "sk-for-the-judge")
    OpenAIJudge(cache_dir=tmp_path).rate("q", "a", "b")
    assert FakeEndpoint.calls[-1]["auth"] == "Bearer sk-for-the-judge"


def test_failed_verdicts_are_retried_counted_and_never_cached(endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "k")
    FakeEndpoint.replies = [NULL_CONTENT, NO_VERDICT]
    judge = OpenAIJudge(base_url=endpoint, key_env="MY_KEY", cache_dir=tmp_path, parse_retries=2)
    assert judge.rate("q", "a b c", "a") == (3.0, 1.0), "the third ask parsed"
    assert len(FakeEndpoint.calls) == 3 and judge.unparsed == 0
    FakeEndpoint.replies = [NULL_CONTENT] * 3
    assert judge.rate("q2", "a", "b") == (None, None)
    assert judge.unparsed == 1
    cached = [json.loads(p.read_text())["verdict"] for p in tmp_path.rglob("*.json")]
    assert cached and all(isinstance(v, str) and "Score A" in v for v in cached), "only parsed verdicts are cached"
    assert judge.rate("q2", "a", "b") == (1.0, 1.0), "a failure is asked again, not served from the cache"


def test_a_poisoned_cache_entry_is_asked_again(endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "k")
    judge = OpenAIJudge(base_url=endpoint, key_env="MY_KEY", cache_dir=tmp_path)
    cache = judge._cache_file("q", "a", "b")
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps({"model": judge.model, "verdict": None}))  # what older versions cached
    assert judge.rate("q", "a", "b") == (1.0, 1.0)


@pytest.mark.parametrize("reply,message", [(b"<html>oops</html>", "not JSON"),
                                           (b'{"error": "overloaded"}', "no choices")])
def test_an_answer_that_is_not_a_completion_is_a_clear_error(endpoint, tmp_path, monkeypatch, reply, message):
    monkeypatch.setenv("MY_KEY", "k")
    FakeEndpoint.replies = [reply]
    with pytest.raises(BenchmarkError, match=message):
        OpenAIJudge(base_url=endpoint, key_env="MY_KEY", cache_dir=tmp_path).rate("q", "a", "b")


def test_win_rate_with_no_parsed_verdict_prints_null_not_nan(endpoint, tmp_path, monkeypatch, capsys):
    from benchmark.cli import main

    monkeypatch.setenv("JUDGE_API_KEY", "k")
    monkeypatch.setenv("JUDGE_BASE_URL", endpoint)
    FakeEndpoint.replies = [NULL_CONTENT] * 20
    for name, text in (("new", "an answer"), ("base", "another answer")):
        (tmp_path / f"{name}.jsonl").write_text(json.dumps({"raw_prompt": "q", "responses": [text]}) + "\n")
    monkeypatch.setenv("DLLM_BENCH_CACHE", str(tmp_path / "cache"))
    assert main(["eval", "--answers", str(tmp_path / "new.jsonl"), "--base", str(tmp_path / "base.jsonl"),
                 "--judge", "openai", "--protocol", "armap"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and json.loads(out)["win_rate"] is None and json.loads(out)["unparsed"] == 1


def test_a_redirect_is_refused_and_never_carries_the_key(endpoint, tmp_path, monkeypatch):
    """An endpoint answering 307 to another host: the key must not follow it (the client refuses redirects)."""
    seen = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    other = HTTPServer(("127.0.0.1", 0), Elsewhere)
    threading.Thread(target=other.serve_forever, daemon=True).start()

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{other.server_port}/v1/chat/completions")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MY_KEY", "sk-secret-123")
    judge = OpenAIJudge(base_url=f"http://127.0.0.1:{server.server_port}/v1", model="m", key_env="MY_KEY",
                        cache_dir=tmp_path / "cache")
    try:
        with pytest.raises(BenchmarkError, match="HTTP 307 redirects to .*never sent on"):
            judge.rate("q", "a", "b")
        assert seen == [], "nothing reached the redirect's host"
    finally:
        server.shutdown()
        other.shutdown()


def test_verdicts_cached_for_one_endpoint_are_not_served_for_another(endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "k")
    OpenAIJudge(base_url=endpoint, model="m", key_env="MY_KEY", cache_dir=tmp_path / "c").rate("q", "a b", "a")
    other = OpenAIJudge(base_url=endpoint + "-other", model="m", key_env="MY_KEY", cache_dir=tmp_path / "c")
    assert other._cache_file("q", "a b", "a") != OpenAIJudge(base_url=endpoint, model="m", key_env="MY_KEY",
                                                              cache_dir=tmp_path / "c")._cache_file("q", "a b", "a")


def test_ray_workers_get_no_secret_through_runtime_env():
    from benchmark.harness.ray_executor import FORWARDED_ENV

    assert not [name for name in FORWARDED_ENV if "KEY" in name or "TOKEN" in name or "SECRET" in name]
