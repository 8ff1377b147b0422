"""Method plugins: one leaderboard row each. ``pyproject.toml`` lists them as ``benchmark.methods`` entry points."""
