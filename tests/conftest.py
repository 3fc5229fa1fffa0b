"""Shared fixtures: the offline data excerpts beside the checkout, and scripted servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exaone_eval.fake_server import FakeOpenAIServer

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """`../shared/data` (AIME, HMMT, IFEval, MMLU-Pro rows in the Hub schema); skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


@pytest.fixture
def fake_server():
    """Start scripted OpenAI-compatible servers: `fake_server(responder, fail_first=..., ...)`."""
    started = []

    def start(*args, **kwargs) -> FakeOpenAIServer:
        server = FakeOpenAIServer(*args, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


AIME_ROWS = [
    {"problem_idx": 1, "problem": "What is 2+3?", "answer": 5, "problem_type": None},
    {"problem_idx": 2, "problem": "What is 10*7?", "answer": 70, "problem_type": None},
    {"problem_idx": 3, "problem": "What is 1+1?", "answer": 2, "problem_type": None},
]
