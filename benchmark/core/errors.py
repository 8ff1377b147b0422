"""The base class of every error caused by input (data, checkpoints, flags); the CLI prints these as
``error: <message>`` and exits 2, while anything else is a bug and keeps its traceback."""


class BenchmarkError(ValueError):
    """Bad input; the message names the file and the field (or the flag) at fault."""
