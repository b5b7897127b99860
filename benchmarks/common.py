"""Helpers shared by the benchmark scripts (run them as ``python benchmarks/NAME.py``)."""


def markdown(frame):
    """A pandas DataFrame as a GitHub markdown table (pandas' own needs the tabulate package)."""
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"
