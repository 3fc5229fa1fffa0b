"""`exaone-eval report` at scale: a synthetic 50,000-sample run, its file size and how fast it opens.

Writes a run directory shaped like a full reasoning suite (MMLU-Pro and MMLU-Redux at k = 3 / 2,
GPQA-Diamond k = 8, AIME k = 32, LiveCodeBench with sandbox verdicts, IFEval, Multi-IF and
Tau-Bench conversations, BFCL), with long reasoning (2K-120K characters: the report keeps the head
and tail) and text drawn word by word at random, so gzip does not find more repetition than in
real model output. Then writes the report and opens it in headless Chromium (Playwright, the
browser at /usr/bin/chromium), measuring:

- file size;
- first render: navigation start to the first contentful paint, and to the load event;
- opening the largest benchmark's sample list (decode its blob, draw the visible rows);
- filtering that list to wrong answers, and a text search (the 120 ms typing debounce included).

Targets (issue 20: "opens in a few seconds and stays responsive"): file <= 100 MB, first render
<= 3 s, largest list open <= 3 s, filter <= 0.5 s, search <= 1.5 s. Each is printed met / not met.

    python bench/report.py [--samples 50000] [--keep DIR] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exaone_eval.report import write_report  # noqa: E402
from exaone_eval.stats import summarize  # noqa: E402

# (benchmark, items, k) of a full reasoning suite: 50,000 samples at scale 1.
PLAN = [("mmlu_pro", 10_000, 3), ("mmlu_redux", 3_000, 2), ("gpqa_diamond", 198, 8), ("aime_2025", 30, 32),
        ("livecodebench_v6", 1_000, 4), ("ifeval", 541, 4), ("multi_if", 909, 4), ("tau_bench_retail", 114, 4),
        ("bfcl_v3", 1_200, 1)]
TARGETS = {"file_mb": 100.0, "first_render_s": 3.0, "open_list_s": 3.0, "filter_s": 0.5, "search_s": 1.5}


class Words:
    """Random text, word by word from a 6,000-word vocabulary with Zipf-like frequencies."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        letters = np.array(list("etaoinshrdlucmfwypvbgkjqxz"))
        sizes = self.rng.integers(2, 10, size=6_000)
        self.vocab = np.array(["".join(self.rng.choice(letters, size=n)) for n in sizes])
        weights = 1.0 / np.arange(1, 6_001)
        self.p = weights / weights.sum()

    def text(self, chars: int) -> str:
        words = self.vocab[self.rng.choice(len(self.vocab), size=max(1, chars // 6), p=self.p)]
        return " ".join(words)[:chars]


def sample_record(bench: str, item: int, sample: int, question: str, words: Words, rng: np.random.Generator) -> dict:
    verdict = rng.choice(["correct", "wrong", "truncated", "no answer"], p=[0.6, 0.3, 0.05, 0.05])
    reasoning_len = int(rng.integers(2_000, 120_000))
    # Only the kept head and tail need fresh words; the middle is never written into the report.
    reasoning = words.text(1_200) + " [middle] " * 4 + words.text(600) if reasoning_len > 3_000 else words.text(reasoning_len)
    answer = words.text(int(rng.integers(200, 4_000)))
    rec = {"id": f"{bench}-{item}", "sample": sample, "seed": int(rng.integers(2**31)), "response": f"<think>{reasoning}</think>{answer}",
           "extracted": None if verdict in ("no answer", "truncated") else words.text(12), "score": float(verdict == "correct"),
           "reasoning": reasoning, "answer": answer, "reasoning_closed": verdict != "truncated", "finish_reason": "stop",
           "prompt_tokens": int(rng.integers(100, 3_000)), "completion_tokens": reasoning_len // 4, "prompt_hash": "0" * 16,
           "detail": {"reference": words.text(10)}, "item_meta": {"question": question}}
    if bench == "livecodebench_v6":
        rec["detail"] = {"verdict": "passed" if verdict == "correct" else "wrong answer", "failed_test": None if verdict == "correct" else 3,
                         "tests_passed": 3, "n_tests": 12, "error": None, "exit_code": 0, "stderr_tail": words.text(300), "seconds": 1.2}
    if bench in ("multi_if", "tau_bench_retail"):
        n = 3 if bench == "multi_if" else int(rng.integers(8, 30))
        rec["transcript"] = [{"role": ("user", "assistant", "tool")[t % 3], "content": words.text(int(rng.integers(50, 2_500)))} for t in range(n)]
        rec["turns"] = [{"role": "agent", "turn": t, "reasoning": words.text(800), "answer": words.text(200), "tool_calls": None,
                         "finish_reason": "stop"} for t in range(n // 2)]
    return rec


def write_run(folder: Path, total: int) -> int:
    scale = total / sum(items * k for _, items, k in PLAN)
    (folder / "samples").mkdir(parents=True)
    words, rng = Words(0), np.random.default_rng(1)
    scores, written = {}, 0
    for bench, items, k in PLAN:
        items = max(1, round(items * scale))
        per_item: dict[str, list[float]] = {}
        with open(folder / "samples" / f"{bench}.jsonl", "w", encoding="utf-8") as f:
            for item in range(items):
                question = words.text(int(rng.integers(200, 5_000)))  # the item's prompt: the same for its k samples
                for sample in range(k):
                    rec = sample_record(bench, item, sample, question, words, rng)
                    per_item.setdefault(rec["id"], []).append(rec["score"])
                    f.write(json.dumps(rec) + "\n")
                    written += 1
        scores[bench] = {**summarize(per_item), "k": k, "metrics": {}, "n_samples": items * k, "truncated": 0, "no_answer": 0}
    config = {"model": {"name": "32b"}, "mode": "reasoning", "suite": "reasoning", "benchmarks": [b for b, _, _ in PLAN],
              "versions": {b: 1 for b, _, _ in PLAN}}
    (folder / "run.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "scores.json").write_text(json.dumps(scores), encoding="utf-8")
    return written


def measure(html: Path, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(html.as_uri(), wait_until="load", timeout=120_000)
        paint = page.evaluate("() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime")
        loaded = page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
        largest = max(PLAN, key=lambda b: b[1] * b[2])[0]
        n_rows = page.evaluate(f"() => JSON.parse(document.getElementById('report-index').textContent).runs[0].benchmarks.find(b => b.name === '{largest}').n")
        start = time.perf_counter()
        page.evaluate(f"() => {{ location.hash = '#samples/0/{largest}'; }}")
        page.wait_for_function(f"() => document.getElementById('shown-count').textContent.endsWith('of {n_rows:,} samples')", timeout=120_000)
        page.wait_for_selector("#sample-list .sample-row")
        open_list = time.perf_counter() - start
        in_dom = page.evaluate("() => document.querySelectorAll('#sample-list .sample-row').length")
        filter_ms = page.evaluate("""() => new Promise(done => {
            const t = performance.now();
            document.querySelector('button.filter[data-verdict="wrong"]').click();
            requestAnimationFrame(() => setTimeout(() => done(performance.now() - t), 0)); })""")
        shown = page.text_content("#shown-count")
        page.click('button.filter[data-verdict="all"]')
        start = time.perf_counter()
        page.fill("#search", "zq")
        page.wait_for_function(f"() => !document.getElementById('shown-count').textContent.startsWith('{n_rows:,} of')", timeout=60_000)
        search = time.perf_counter() - start
        browser.close()
    return {"first_render_s": paint / 1000, "load_s": loaded / 1000, "open_list_s": open_list, "filter_s": filter_ms / 1000,
            "search_s": search, "rows_in_dom": in_dom, "filtered": shown, "largest": largest, "largest_n": n_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--keep", help="write the run and report here instead of a temporary folder")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="report-bench-"))
    try:
        start = time.perf_counter()
        n = write_run(root / "run", args.samples)
        print(f"synthetic run: {n:,} samples, {sum(p.stat().st_size for p in (root / 'run' / 'samples').iterdir()) / 1e6:.0f} MB of JSONL "
              f"({time.perf_counter() - start:.0f} s)")
        start = time.perf_counter()
        write_report([root / "run"], root / "report.html")
        size_mb = (root / "report.html").stat().st_size / 1e6
        print(f"report written in {time.perf_counter() - start:.1f} s: {size_mb:.1f} MB")
        figures = {"file_mb": size_mb, **measure(root / "report.html", args.chromium)}
        print(f"largest benchmark: {figures['largest']} ({figures['largest_n']:,} samples); rows in the DOM after opening it: "
              f"{figures['rows_in_dom']}; after the filter: {figures['filtered']}")
        print(f"load event: {figures['load_s']:.2f} s")
        for name, limit in TARGETS.items():
            value = figures[name]
            unit = "MB" if name == "file_mb" else "s"
            print(f"{name:<15} {value:8.2f} {unit}   target <= {limit:g} {unit}: {'met' if value <= limit else 'NOT MET'}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
