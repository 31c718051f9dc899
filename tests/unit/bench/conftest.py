"""Bench files written into tmp_path, beside real key store and image folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hanbench.bench.bench_config import BenchConfig
from hanbench.bench.bench_file import load_bench
from hanbench.bench.config_reader import BenchConfigError

@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    """``tmp_path/bench`` with ``../keys`` and ``../images`` folders beside it."""
    for folder in ("bench", "keys", "images"):
        (tmp_path / folder).mkdir()
    return tmp_path / "bench"


@pytest.fixture
def write_bench(bench_dir: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "t.toml") -> Path:
        path = bench_dir / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_text(write_bench: Callable[[str], Path]) -> Callable[[str], BenchConfig]:
    return lambda text: load_bench(write_bench(text))


@pytest.fixture
def error_for(write_bench: Callable[[str], Path]) -> Callable[[str], BenchConfigError]:
    """The BenchConfigError loading ``text`` raises (fails the test if it loads)."""

    def load(text: str) -> BenchConfigError:
        path = write_bench(text)
        with pytest.raises(BenchConfigError) as caught:
            load_bench(path)
        assert caught.value.file == path
        return caught.value

    return load
