"""Servers that die, refuse connections, hang, answer slowly or come back: detection within the
`--unreachable-timeout` bound, never for a slow server, and fail-over that stores every sample once."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from conftest import AIME_ROWS, write_jsonl
from helpers import aime_solver

from exaone_eval.backends.openai import OpenAIBackend
from exaone_eval.cli import main
from exaone_eval.config import sample_seed
from exaone_eval.failover import connection_lost, describe
from exaone_eval.store import SampleStore
from exaone_eval.types import Request, Sampling


def _run(tmp_path: Path, urls: list[str], *extra: str) -> int:
    data = tmp_path / "data"
    if not (data / "aime_2025.jsonl").exists():
        write_jsonl(data / "aime_2025.jsonl", AIME_ROWS)
    return main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025", "--base-url", ",".join(urls),
                 "--data-dir", str(data), "--out", str(tmp_path / "run"), "--no-progress", "--max-retries", "0", *extra])


def _samples(tmp_path: Path) -> list[dict]:
    path = tmp_path / "run" / "samples" / "aime_2025.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _stored(tmp_path: Path) -> int:
    store = SampleStore(tmp_path / "run" / "store.sqlite")
    try:
        return store.count("aime_2025")
    finally:
        store.close()


def _servers(tmp_path: Path) -> list[dict]:
    return json.loads((tmp_path / "run" / "run.json").read_text())["servers"]


def _after(seconds: float, action) -> None:
    threading.Timer(seconds, action).start()


def _when_dead(server, then, delay: float = 0.0) -> None:
    """Call `then()` `delay` seconds after `server` dies (a watcher thread)."""
    def watch():
        deadline = time.monotonic() + 60
        while server.died_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        then()

    threading.Thread(target=watch, daemon=True).start()


# ---- telling "gone" from "slow" ------------------------------------------------------------------


class APITimeoutError(Exception):
    """Stands for the client's own wrapper (openai.APITimeoutError / APIConnectionError): only the
    chain of causes matters to failover, and building openai's class needs a request object whose
    type changes between openai releases (httpx in 1.x, httpx2 in 3.x). The end-to-end tests
    below get the real wrapper from the real client."""


def _raised_from(outer: Exception, inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as e:
            raise outer from e
    except Exception as e:
        return e


@pytest.mark.parametrize("cause, gone", [
    (ConnectionRefusedError(111, "Connect call failed"), True),
    (ConnectionResetError(104, "Connection reset by peer"), True),
    (type("ConnectTimeout", (Exception,), {})("Connection timeout to host"), True),
    (type("ServerDisconnectedError", (Exception,), {})("Server disconnected"), True),
    (type("RemoteProtocolError", (Exception,), {})("Server disconnected without sending a response."), True),
    (type("ReadTimeout", (Exception,), {})("Timeout on reading data from socket"), False),
    (ValueError("not JSON"), False),
])
def test_connection_failures_are_told_apart_from_slow_answers(cause, gone):
    error = _raised_from(APITimeoutError("Request timed out."), cause)  # how the client wraps both
    assert connection_lost(error) is gone


def test_the_reason_named_is_the_most_specific_one():
    error = _raised_from(APITimeoutError("Request timed out."), ConnectionRefusedError(111, "Connect call failed"))
    assert describe(error).startswith("ConnectionRefusedError: [Errno 111] Connect call failed")


# ---- a run whose servers are gone stops within the bound ------------------------------------------


def test_a_run_whose_only_server_refuses_connections_stops_within_the_unreachable_timeout(tmp_path, fake_server, capsys):
    server = fake_server(aime_solver, die_after=4, die_how="refuse", delay=0.02)
    assert _run(tmp_path, [server.url], "--k", "10", "--concurrency", "2", "--unreachable-timeout", "1") == 2
    stopped_after = time.monotonic() - server.died_at
    assert stopped_after < 1 + 3  # the bound, plus the slack of a busy test machine
    err = capsys.readouterr().err
    assert "every server has been unreachable for 1 s" in err and f"--out {tmp_path / 'run'}" in err
    assert "left the rotation" in err and "stopping" in err
    finished = _stored(tmp_path)
    assert 1 <= finished <= 4 and len(_samples(tmp_path)) == finished
    healthy = fake_server(aime_solver)
    assert _run(tmp_path, [healthy.url], "--k", "10") == 0  # the rerun generates only the rest
    assert len(healthy.requests) == 30 - finished and len(_samples(tmp_path)) == 30


def test_a_run_whose_only_server_hangs_stops_within_the_bound(tmp_path, fake_server, capsys):
    server = fake_server(aime_solver, die_after=4, die_how="hang", delay=0.02)
    assert _run(tmp_path, [server.url], "--k", "10", "--concurrency", "2", "--unreachable-timeout", "1") == 2
    # Hung: noticed by the next probe (a quarter of the bound), then the bound itself.
    assert time.monotonic() - server.died_at < 1 + 0.5 + 3
    err = capsys.readouterr().err
    assert "every server has been unreachable" in err and f"--out {tmp_path / 'run'}" in err
    assert _stored(tmp_path) >= 1


def test_a_slow_server_is_never_taken_for_a_dead_one(tmp_path, fake_server, capsys):
    server = fake_server(aime_solver, delay=1.5)  # each answer takes 3x the unreachable timeout
    assert _run(tmp_path, [server.url], "--k", "2", "--concurrency", "6", "--unreachable-timeout", "0.5") == 0
    assert len(_samples(tmp_path)) == 6 and len(server.requests) == 6
    report = _servers(tmp_path)[-1]
    assert report["events"] == [] and report["urls"][0]["answered"] == 6
    assert "left the rotation" not in capsys.readouterr().err


def test_requests_wait_for_a_server_that_comes_back_within_the_timeout(tmp_path, fake_server, capsys):
    server = fake_server(aime_solver, die_after=3, die_how="refuse", delay=0.02)
    _when_dead(server, server.revive, delay=0.3)
    assert _run(tmp_path, [server.url], "--k", "4", "--concurrency", "2", "--unreachable-timeout", "5") == 0
    assert len(_samples(tmp_path)) == 12
    events = [e["event"] for e in _servers(tmp_path)[-1]["events"]]
    assert events == ["dropped", "rejoined"]
    assert "is back in the rotation" in capsys.readouterr().err


# ---- fail-over across URLs -----------------------------------------------------------------------


def test_fail_over_completes_the_run_with_every_sample_once_when_one_of_three_urls_dies_and_another_comes_back(tmp_path, fake_server, capsys):
    dying = fake_server(aime_solver, die_after=6, die_how="refuse", delay=0.1)
    returning = fake_server(aime_solver, delay=0.1)
    returning.refuse()  # down when the run starts; back once the run is well under way
    answered = []

    def steady_solver(body: dict) -> dict:
        answered.append(1)
        if len(answered) == 8:
            threading.Thread(target=returning.revive, daemon=True).start()
        return aime_solver(body)

    steady = fake_server(steady_solver, delay=0.1)
    urls = [dying.url, returning.url, steady.url]
    assert _run(tmp_path, urls, "--k", "20", "--concurrency", "4", "--unreachable-timeout", "2") == 0

    samples = _samples(tmp_path)
    assert len(samples) == 60 and _stored(tmp_path) == 60
    assert len({(s["id"], s["sample"]) for s in samples}) == 60  # every sample once
    assert all(s["seed"] == sample_seed(0, "aime_2025", s["id"], s["sample"]) for s in samples)  # with its own seed
    assert all(s["score"] == 1.0 for s in samples)

    report = _servers(tmp_path)[-1]
    by_url = {u["url"]: u for u in report["urls"]}
    assert sum(u["answered"] for u in report["urls"]) >= 60
    assert by_url[returning.url]["answered"] >= 1 and by_url[returning.url]["in_rotation_at_end"]
    assert not by_url[dying.url]["in_rotation_at_end"]
    events = [(e["url"], e["event"]) for e in report["events"]]
    assert (dying.url, "dropped") in events and (returning.url, "rejoined") in events
    err = capsys.readouterr().err
    assert err.count("left the rotation") == 2 and err.count("is back in the rotation") == 1


def test_a_url_unreachable_at_the_start_leaves_the_rotation_and_the_run_goes_on(tmp_path, fake_server, capsys):
    dead = fake_server()
    dead.refuse()
    alive = fake_server(aime_solver)
    assert _run(tmp_path, [dead.url, alive.url], "--k", "2", "--unreachable-timeout", "5") == 0
    assert len(_samples(tmp_path)) == 6 and len(alive.requests) == 6
    report = _servers(tmp_path)[-1]
    assert report["events"][0]["url"] == dead.url and report["events"][0]["event"] == "dropped"
    assert "left the rotation" in capsys.readouterr().err


def test_requests_in_flight_on_a_hung_server_move_to_another_url(fake_server):
    hung = fake_server(die_after=2, die_how="hang", delay=0.05)
    healthy = fake_server(delay=0.05)
    requests = [Request(messages=({"role": "user", "content": f"q{i}"},), sampling=Sampling(temperature=0.6, seed=i), mode="non-reasoning")
                for i in range(20)]
    lines: list[str] = []
    backend = OpenAIBackend([hung.url, healthy.url], model="m", concurrency=6, unreachable_timeout=1.0, log=lines.append)

    async def go():
        await backend.check()
        out = {i: g async for i, g in backend.generate(requests)}
        await backend.aclose()
        return out

    out = asyncio.run(go())
    assert len(out) == 20 and all(g.error is None for g in out.values())
    assert sorted(g.text for g in out.values()) == sorted(f"seed={i}" for i in range(20))
    hung_report = backend.server_report()["urls"][0]
    assert hung_report["moved_away"] >= 1 and not hung_report["in_rotation_at_end"]
    assert any("left the rotation" in line for line in lines)


def test_the_unreachable_timeout_must_be_positive(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _run(tmp_path, ["http://127.0.0.1:9/v1"], "--unreachable-timeout", "0")
    assert "--unreachable-timeout" in capsys.readouterr().err
