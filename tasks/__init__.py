"""Task plugins. Each file registers one task; ``pyproject.toml`` lists them as ``benchmark.tasks`` entry points."""
