// The report's sample browser and run comparison. Plain JS, no library, no network.
// Model output is hostile: every text from a sample goes into the page through text nodes
// (el() below appends strings as text, never as HTML), so markup in a response stays text.
"use strict";
(function () {
  const INDEX = JSON.parse(document.getElementById("report-index").textContent);
  const ROW_H = 30;          // px per list row: the list is virtual, only visible rows are in the DOM
  const OVERSCAN = 12;       // rows drawn above and below the visible ones, so fast scrolling shows no gaps
  const FLIPS_SHOWN = 200;   // flipped items listed before a "show all" button
  const cache = new Map();   // blob id -> Promise of {columns, rows, C: column index by name}

  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      node.append(kid instanceof Node ? kid : String(kid));
    }
    return node;
  }

  // --- data: one gzipped JSON blob per run and benchmark, decoded the first time it is needed ---
  async function decode(b64) {
    let bytes;
    if (Uint8Array.fromBase64) bytes = Uint8Array.fromBase64(b64);
    else {
      const bin = atob(b64);
      bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  function load(run, bench) {
    const meta = INDEX.runs[run].benchmarks.find((b) => b.name === bench);
    if (!meta) return Promise.resolve(null);
    if (!cache.has(meta.blob)) {
      cache.set(meta.blob, decode(document.getElementById(meta.blob).textContent).then((d) => {
        d.C = {};
        d.columns.forEach((c, i) => { d.C[c] = i; });
        d.byId = null;
        return d;
      }));
    }
    return cache.get(meta.blob);
  }

  function rowsOfItem(d, id, budget) {
    if (!d.byId) {
      d.byId = new Map();
      d.rows.forEach((r, i) => {
        const key = r[d.C.id];
        if (!d.byId.has(key)) d.byId.set(key, []);
        d.byId.get(key).push(i);
      });
    }
    return (d.byId.get(id) || []).map((i) => d.rows[i]).filter((r) => budget === null || String(r[d.C.budget]) === budget);
  }

  // --- one sample, in full ----------------------------------------------------------------
  const fmt = (n) => (n === null || n === undefined ? "?" : Number(n).toLocaleString("en-US"));

  function lengthNote(shown, full, tokens) {
    const parts = [];
    if (full !== null && full !== undefined) parts.push(`${fmt(full)} characters`);
    if (tokens !== null && tokens !== undefined) parts.push(`${fmt(tokens)} tokens`);
    if (shown !== null && full !== null && full !== undefined && shown.length < full) parts.push("the middle is not kept in this file");
    return parts.length ? ` (${parts.join("; ")})` : "";
  }

  function badge(verdict) {
    return el("span", { class: "badge v-" + verdict.replace(" ", "-") }, verdict);
  }

  const ROLE_NAMES = { system: "system", user: "user", assistant: "agent", tool: "tool result" };

  function conversation(r, C) {
    const conv = r[C.conversation];
    const simulated = (r[C.turns] || []).some((t) => t[0] === "user");  // a user simulator spoke (Tau-Bench)
    return el("div", { class: "conversation" }, conv.map((m, i) => {
      const [role, text, full, calls] = m;
      let name = ROLE_NAMES[role] || role;
      if (role === "user" && simulated) name = "user simulator";
      const head = el("div", { class: "role" }, `${i + 1}. ${name}`, text && text.length < full ? ` (${fmt(full)} characters, middle not kept)` : "");
      // A system prompt (Tau-Bench's policy: 8K characters) would push the conversation out of view: collapsed.
      const body = !text ? null : role === "system" ? el("details", {}, el("summary", {}, "system prompt"), el("pre", {}, text)) : el("pre", {}, text);
      return el("div", { class: "turn role-" + role, "data-turn": i }, head, body,
        calls ? el("div", { class: "tool-calls" }, el("span", { class: "label" }, "tool calls"), el("pre", {}, calls)) : null);
    }));
  }

  function generatedTurns(r, C) {
    const turns = r[C.turns];
    return el("details", { class: "turn-records" }, el("summary", {}, `Generated turns (${turns.length}): reasoning and finish reason of each call`),
      turns.map(([role, turn, reasoning, answer, calls, finish]) => el("div", { class: "turn-record" },
        el("div", { class: "role" }, `${role === "user" ? "user simulator" : "agent"} turn ${turn} · finish ${finish || "?"}`),
        reasoning ? el("details", {}, el("summary", {}, "reasoning"), el("pre", {}, reasoning)) : null,
        answer ? el("pre", {}, answer) : null,
        calls ? el("pre", { class: "tool-calls" }, calls) : null)));
  }

  function codeVerdict(detail) {
    // LiveCodeBench: the sandbox's verdict class, the first failing test and the stderr tail.
    if (!detail || typeof detail.verdict !== "string" || !("n_tests" in detail)) return null;
    return el("div", { class: "code-verdict" },
      el("div", {}, el("b", {}, "Verdict class: "), detail.verdict),
      el("div", {}, el("b", {}, "Tests passed: "), `${fmt(detail.tests_passed)} of ${fmt(detail.n_tests)}`),
      detail.failed_test !== null && detail.failed_test !== undefined ? el("div", {}, el("b", {}, "First failing test: "), `#${detail.failed_test}`) : null,
      detail.error ? el("div", {}, el("b", {}, "Error: "), el("pre", {}, detail.error)) : null,
      detail.stderr_tail ? el("div", {}, el("b", {}, "stderr (tail):"), el("pre", { class: "stderr" }, detail.stderr_tail)) : null);
  }

  function sampleView(r, d, opts) {
    const C = d.C, full = !(opts && opts.compact);
    const [prompt, promptChars] = d.prompts[r[C.prompt]] || [null, null];
    const refSize = r[C.reference_size];
    const detail = r[C.detail];
    const budget = r[C.budget];
    return el("div", { class: "sample" },
      el("h3", {}, `item ${r[C.id]} · sample ${r[C.sample]}`, budget !== null ? ` · budget ${fmt(budget)}` : "", " ", badge(r[C.verdict]), ` score ${r[C.score]}`),
      el("dl", {},
        el("dt", {}, "Extracted"), el("dd", {}, r[C.extracted] === null ? el("i", {}, "none (no answer found)") : el("pre", {}, r[C.extracted])),
        el("dt", {}, "Gold"), el("dd", {}, r[C.gold] !== null ? el("pre", {}, r[C.gold])
          : el("i", {}, refSize !== null && refSize !== undefined ? `not copied into each sample (its JSON is ${fmt(refSize)} characters)` : "not recorded in the samples file")),
        el("dt", {}, "Finish"), el("dd", {}, `${r[C.finish] || "?"}, ${fmt(r[C.completion_tokens])} tokens generated`)),
      codeVerdict(detail),
      full ? (prompt !== null
        ? el("details", { class: "prompt", open: prompt.length < 400 ? "" : null }, el("summary", {}, "Prompt" + lengthNote(prompt, promptChars, r[C.prompt_tokens])), el("pre", {}, prompt))
        : el("p", { class: "muted" }, `Prompt not kept in this run${r[C.prompt_tokens] !== null ? ` (${fmt(r[C.prompt_tokens])} tokens)` : ""}.`)) : null,
      r[C.reasoning] !== null
        ? el("details", { class: "reasoning" }, el("summary", {}, "Reasoning" + lengthNote(r[C.reasoning], r[C.reasoning_chars])), el("pre", {}, r[C.reasoning]))
        : null,
      r[C.conversation] ? el("div", {}, el("h4", {}, `Conversation (${r[C.conversation].length} messages)`), conversation(r, C)) : null,
      el("div", { class: "response" }, el("h4", {}, (r[C.conversation] ? "Final response" : "Response") + lengthNote(r[C.answer], r[C.answer_chars])), el("pre", {}, r[C.answer])),
      r[C.turns] && full ? generatedTurns(r, C) : null,
      detail && full ? el("details", { class: "score-detail" }, el("summary", {}, "Score details"), el("pre", {}, JSON.stringify(detail, null, 1))) : null);
  }

  // --- the sample browser: a virtual list filtered by verdict and text ----------------------
  const list = document.getElementById("sample-list");
  const spacer = list.querySelector(".spacer");
  const detailBox = document.getElementById("sample-detail");
  const select = document.getElementById("bench-select");
  const search = document.getElementById("search");
  const count = document.getElementById("shown-count");
  const filters = document.getElementById("verdict-filters");
  const state = { run: 0, bench: null, data: null, verdicts: new Set(), query: "", shown: [], hay: null, selected: -1 };

  INDEX.runs.forEach((run, ri) => run.benchmarks.forEach((b) => {
    const label = (INDEX.runs.length > 1 ? run.label + " — " : "") + `${b.name} (${fmt(b.n)})`;
    select.append(el("option", { value: `${ri}/${b.name}` }, label));
  }));

  function drawFilters() {
    const meta = INDEX.runs[state.run].benchmarks.find((b) => b.name === state.bench);
    filters.replaceChildren(
      el("button", { class: "filter", "data-verdict": "all", "aria-pressed": String(state.verdicts.size === 0),
        onclick: () => { state.verdicts.clear(); drawFilters(); applyFilter(); } }, "all"),
      ...INDEX.verdicts.map((v) => el("button", { class: "filter v-" + v.replace(" ", "-"), "data-verdict": v, "aria-pressed": String(state.verdicts.has(v)),
        onclick: () => { state.verdicts.has(v) ? state.verdicts.delete(v) : state.verdicts.add(v); drawFilters(); applyFilter(); } },
        `${v} (${fmt(meta ? meta.counts[v] : 0)})`)));
  }

  function haystack(r, d) {
    const C = d.C, prompt = d.prompts[r[C.prompt]];
    const conv = r[C.conversation] ? r[C.conversation].map((m) => m[1] + "\n" + (m[3] || "")).join("\n") : "";
    return [r[C.id], prompt && prompt[0], r[C.answer], r[C.reasoning], r[C.extracted], conv].filter((x) => x).join("\n").toLowerCase();
  }

  function applyFilter() {
    const d = state.data;
    if (!d) return;
    const C = d.C, q = state.query.toLowerCase(), vs = state.verdicts;
    if (q && !state.hay) state.hay = d.rows.map((r) => haystack(r, d));  // built on the first search only
    const shown = [];
    for (let i = 0; i < d.rows.length; i++) {
      if (vs.size && !vs.has(d.rows[i][C.verdict])) continue;
      if (q && !state.hay[i].includes(q)) continue;
      shown.push(i);
    }
    state.shown = shown;
    count.textContent = `${fmt(shown.length)} of ${fmt(d.rows.length)} samples`;
    spacer.style.height = shown.length * ROW_H + "px";
    list.scrollTop = 0;
    drawRows();
  }

  function drawRows() {
    const d = state.data;
    if (!d) return;
    const C = d.C;
    const first = Math.max(0, Math.floor(list.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(state.shown.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW_H) + OVERSCAN);
    const rows = [];
    for (let k = first; k < last; k++) {
      const i = state.shown[k], r = d.rows[i];
      rows.push(el("div", { class: "sample-row" + (i === state.selected ? " selected" : ""), "data-index": i, style: `top:${k * ROW_H}px`,
        onclick: () => showSample(i) },
        el("span", { class: "id" }, r[C.id]), el("span", { class: "s" }, "#" + r[C.sample] + (r[C.budget] !== null ? " @" + r[C.budget] : "")),
        badge(r[C.verdict]), el("span", { class: "score" }, r[C.score]), el("span", { class: "ex" }, r[C.extracted] === null ? "—" : r[C.extracted])));
    }
    spacer.replaceChildren(...rows);
  }

  function showSample(i) {
    state.selected = i;
    detailBox.replaceChildren(sampleView(state.data.rows[i], state.data));
    drawRows();
  }

  async function openBench(run, bench) {
    state.run = run; state.bench = bench; state.hay = null; state.selected = -1; state.verdicts.clear();
    select.value = `${run}/${bench}`;
    drawFilters();
    count.textContent = "decoding…";
    const d = await load(run, bench);
    if (state.run !== run || state.bench !== bench) return;  // another benchmark was picked meanwhile
    state.data = d;
    detailBox.replaceChildren(el("p", { class: "hint" }, "Pick a sample on the left."));
    applyFilter();
  }

  list.addEventListener("scroll", () => requestAnimationFrame(drawRows));
  select.addEventListener("change", () => { const [r, b] = select.value.split(/\/(.*)/s); openBench(Number(r), b); });
  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { state.query = search.value.trim(); applyFilter(); }, 120); });

  // --- two runs: the items whose verdict flipped, each opening both responses ----------------
  function flipEntry(group, kind, [item, before, after]) {
    const [bench, budget] = group.key.includes("@") ? group.key.split("@") : [group.key, null];
    const body = el("div", { class: "pair" }, "loading…");
    const node = el("details", { class: "flip " + kind, "data-item": item },
      el("summary", {}, `item ${item}: ${before.toFixed(2)} → ${after.toFixed(2)}`), body);
    node.addEventListener("toggle", async () => {
      if (!node.open || node.dataset.loaded) return;
      node.dataset.loaded = "1";
      const sides = await Promise.all([0, 1].map((run) => load(run, bench)));
      body.replaceChildren(...sides.map((d, run) => el("div", { class: "side " + (run === 0 ? "baseline" : "candidate") },
        el("h4", {}, run === 0 ? "baseline: " + INDEX.runs[0].label : "candidate: " + INDEX.runs[1].label),
        rowsOfItem(d, item, budget).map((r) => sampleView(r, d, { compact: true })))));
    });
    return node;
  }

  function flipList(group, kind) {
    const items = group[kind];
    const box = el("div", { class: "flip-list " + kind, id: `flips-${group.key}-${kind}` },
      el("h4", {}, `${kind === "broken" ? "Broken" : "Fixed"} (${fmt(items.length)}): ${kind === "broken" ? "worse" : "better"} in the candidate`));
    const more = items.length > FLIPS_SHOWN
      ? el("button", { onclick: () => { more.replaceWith(...items.slice(FLIPS_SHOWN).map((f) => flipEntry(group, kind, f))); } }, `show all ${fmt(items.length)}`)
      : null;
    box.append(...items.slice(0, FLIPS_SHOWN).map((f) => flipEntry(group, kind, f)), ...(more ? [more] : []));
    if (!items.length) box.append(el("p", { class: "muted" }, "none"));
    return box;
  }

  const flipsBox = document.getElementById("flips");
  if (flipsBox && INDEX.compare) {
    flipsBox.replaceChildren(...INDEX.compare.groups.map((g) => el("div", { class: "flip-group", "data-key": g.key, id: "compare-" + g.key },
      el("h3", {}, `${g.key}: ${fmt(g.broken.length)} broken, ${fmt(g.fixed.length)} fixed`),
      el("div", { class: "flip-columns" }, flipList(g, "broken"), flipList(g, "fixed")))));
  }

  // --- routes: #samples/<run>/<benchmark>, #compare/<key>/<broken|fixed> ---------------------
  function route() {
    const hash = decodeURIComponent(location.hash.slice(1));
    const [section, ...rest] = hash.split("/");
    if (section === "samples" && rest.length >= 2) {
      openBench(Number(rest[0]), rest.slice(1).join("/"));
      document.getElementById("samples").scrollIntoView();
    } else if (section === "compare" && rest.length >= 2) {
      const target = document.getElementById(`flips-${rest[0]}-${rest[1]}`);
      if (target) {
        document.querySelectorAll(".flip-list.highlight").forEach((n) => n.classList.remove("highlight"));
        target.classList.add("highlight");
        target.scrollIntoView();
      }
    }
  }
  window.addEventListener("hashchange", route);

  // The first benchmark is decoded when the browser comes into view, not before: the overview paints first.
  const firstRun = INDEX.runs.findIndex((r) => r.benchmarks.length);
  if (location.hash.startsWith("#samples/") || location.hash.startsWith("#compare/")) route();
  else if (firstRun >= 0) {
    select.value = `${firstRun}/${INDEX.runs[firstRun].benchmarks[0].name}`;
    state.run = firstRun; state.bench = INDEX.runs[firstRun].benchmarks[0].name;
    drawFilters();
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !state.data) { seen.disconnect(); openBench(state.run, state.bench); }
    });
    seen.observe(document.getElementById("samples"));
  }
})();
