"""lm-eval's command line with our model classes registered.

    python -m benchmark.eval.lm_eval_cli run --model dllm --model_args pretrained=DIR,mc_num=8 \\
        --tasks gsm8k_local --include_path DIR_WITH_YAML

(lm-eval has no plugin flag for model classes, so this wrapper imports ours, then hands over.)
"""

from benchmark.eval.lm_eval_model import register_with_lm_eval


def main() -> None:
    register_with_lm_eval()
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()


if __name__ == "__main__":
    main()
