"""Benchmarks: each module exposes ``run() -> dict[str, float]`` and runs as ``python -m``."""
