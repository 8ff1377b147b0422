"""Orchestration, the top engine-using layer: suites, the runner, the leaderboard, evaluation cells,
reproductions of paper tables and the paper suite's dry run. Uses core and every engine; only the
command line is above it."""
