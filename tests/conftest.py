"""Shared fixtures: the offline data excerpts beside the checkout, and scripted servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exaone_eval.fake_server import FakeOpenAIServer

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def hub_reachable_again():
    """data.py remembers an unreachable Hub for the rest of the process; each test starts afresh."""
    from exaone_eval import data

    data._hub_unreachable = None
    yield
    data._hub_unreachable = None


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


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny matrices: a second OpenMP thread only adds contention (30x slower on a busy 2-core box).
    Modules of torch tests use it with `pytestmark = pytest.mark.usefixtures("torch_one_thread")`."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory):
    """The bundled backend over a tiny random hybrid EXAONE 4.0 checkpoint (exaone_eval.model.tiny)."""
    import asyncio

    from exaone_eval.backends.bundled import BundledBackend
    from exaone_eval.model.tiny import write_tiny_checkpoint

    backend = BundledBackend(str(write_tiny_checkpoint(tmp_path_factory.mktemp("tiny"), "hybrid", seed=0)), max_batch=8)
    yield backend
    asyncio.run(backend.aclose())


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


AIME_ROWS = [
    {"problem_idx": 1, "problem": "What is 2+3?", "answer": 5, "problem_type": None},
    {"problem_idx": 2, "problem": "What is 10*7?", "answer": 70, "problem_type": None},
    {"problem_idx": 3, "problem": "What is 1+1?", "answer": 2, "problem_type": None},
]
