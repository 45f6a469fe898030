// The run page: unpacks the data inlined in #page-data and renders it. Every piece of
// text from a run (code, messages, outputs: candidate code is hostile) enters the page as
// a text node, never as markup.
"use strict";

let DATA, STR;  // set by main() once the data is unpacked
const SVGNS = "http://www.w3.org/2000/svg";

function text(value) {  // a packed value: long strings are {"s": index}
  if (value && typeof value === "object" && !Array.isArray(value) && "s" in value) return STR[value.s];
  return value;
}
function str(index) { return index === null || index === undefined ? "" : STR[index]; }

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  for (const child of children.flat()) if (child) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}
const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%");
const num = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));

// ------------------------------------------------------------------ charts (plain SVG)

function lineChart(series, opts) {
  const W = 460, H = 260, L = 48, R = 12, T = 14, B = 40;
  const xs = series.flatMap((x) => x.points.map((p) => p[0]));
  const xMax = Math.max(1, opts.xMax ?? Math.max(...xs, 0));
  const yMax = opts.yMax ?? 100;
  const X = (v) => L + ((W - L - R) * v) / xMax, Y = (v) => T + (H - T - B) * (1 - v / yMax);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": opts.title });
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    svg.append(s("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "grid" }),
      s("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end" }, v.toFixed(0)));
  }
  for (let i = 0; i <= 4; i++) {
    const v = (xMax * i) / 4;
    svg.append(s("text", { x: X(v), y: H - B + 16, "text-anchor": "middle" }, opts.integerX ? Math.round(v) : v.toFixed(0)));
  }
  svg.append(s("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", class: "axis" }, opts.xLabel),
    s("text", { x: 12, y: (T + H - B) / 2, transform: `rotate(-90 12 ${(T + H - B) / 2})`, "text-anchor": "middle", class: "axis" }, opts.yLabel));
  series.forEach((serie, i) => {
    const color = `var(--c${(serie.color ?? i) % 8})`;
    const d = serie.points.map((p, j) => `${j ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    svg.append(s("path", { d, fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": serie.dashed ? "5 4" : "none" }));
    for (const p of serie.points) {
      svg.append(s("circle", { cx: X(p[0]), cy: Y(p[1]), r: 3, fill: color }, s("title", {}, `${serie.name}: ${p[2] || ""} ${p[1].toFixed(1)}%`)));
    }
  });
  const legend = h("div", { class: "legend" }, series.map((serie, i) =>
    h("span", {}, h("i", { style: `background: var(--c${(serie.color ?? i) % 8})` }), serie.name + (serie.dashed ? " (oracle)" : ""))));
  return h("figure", {}, h("figcaption", {}, opts.title), svg, legend);
}

function timeBar(time) {
  if (time.model == null) return h("p", { class: "muted" }, `${num(time.total)} sample-seconds in all; these records do not split model from sandbox time (a run with trace.jsonl does).`);
  const other = Math.max(0, time.total - time.model - time.sandbox);
  const total = Math.max(time.total, time.model + time.sandbox, 1e-9);
  const parts = [["model", time.model, "var(--c0)"], ["sandbox", time.sandbox, "var(--c1)"], ["other", other, "var(--c7)"]];
  return h("div", { class: "timebar-wrap" },
    h("div", { class: "timebar" }, parts.map(([name, v, c]) => h("span", { style: `width:${(100 * v) / total}%;background:${c}`, title: `${name}: ${num(v)} s` }))),
    h("p", { class: "muted" }, parts.map(([name, v]) => `${name} ${num(v)} s (${((100 * v) / total).toFixed(0)}%)`).join(" · "),
      ` — sample-seconds, from ${time.source === "trace" ? "the trace's spans" : "the round records (model: generation and the rest)"}`));
}

// ------------------------------------------------------------------ the head and figures

function oracleBanner(run) {
  return run.oracle ? h("div", { class: "oracle" }, "ORACLE RUN: the model saw the hidden tests while repairing. Its later rounds are an upper bound, not an honest score.") : null;
}

function headTable(run) {
  return h("div", { class: "head" },
    h("table", { class: "kv" }, Object.entries(run.head).map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))),
    Object.keys(run.settings).length ? h("details", {}, h("summary", {}, "every solver flag"),
      h("table", { class: "kv" }, Object.entries(run.settings).map(([k, v]) => h("tr", {}, h("th", {}, "--" + k.replaceAll("_", "-")), h("td", {}, JSON.stringify(v)))))) : null);
}

function lastRound(summary) { return String(summary.rounds); }

function passTable(runs) {
  const ks = [...new Set(runs.flatMap((r) => Object.values(r.summary.pass_at_k).flatMap((v) => Object.keys(v))))].sort((a, b) => a - b);
  const rounds = [...new Set(runs.flatMap((r) => Object.keys(r.summary.pass_at_k)))].sort((a, b) => a - b);
  return h("table", { class: "grid-table", "data-testid": "pass-table" },
    h("tr", {}, h("th", {}, "run"), h("th", {}, "round"), ks.map((k) => h("th", {}, `pass@${k}`))),
    runs.flatMap((run) => rounds.filter((r) => run.summary.pass_at_k[r]).map((r) => h("tr", {},
      h("td", {}, run.name + (run.oracle ? " [ORACLE]" : "")),
      h("td", {}, r === "0" ? "0 (single-shot)" : r === lastRound(run.summary) ? `${r} (last)` : r),
      ks.map((k) => h("td", { class: "n" }, pct(run.summary.pass_at_k[r][k])))))));
}

function figures(runs) {
  const benches = runs.filter((r) => r.summary);
  if (!benches.length) return null;
  const byRound = benches.map((run, i) => ({ name: run.name, dashed: run.oracle, color: i,
    points: Object.entries(run.summary.pass_at_k).filter(([, v]) => "1" in v).map(([r, v]) => [Number(r), 100 * v["1"], `round ${r}`]) }));
  const cost = benches.map((run, i) => ({ name: run.name, dashed: run.oracle, color: i,
    points: Object.entries(run.summary.pass_at_k).filter(([r, v]) => "1" in v && r in run.summary.tokens_by_round)
      .map(([r, v]) => [run.summary.tokens_by_round[r], 100 * v["1"], `round ${r}, ${run.summary.tokens_by_round[r]} tokens`]) })).filter((x) => x.points.length);
  const headline = benches.map((run) => {
    const last = run.summary.pass_at_k[lastRound(run.summary)] || {};
    return h("div", { class: "headline" }, h("span", { class: "label" }, run.name),
      h("span", {}, "pass@1 single-shot ", h("b", { "data-testid": "pass1-first", "data-value": run.summary.pass_at_k["0"]?.["1"] }, pct(run.summary.pass_at_k["0"]?.["1"]))),
      h("span", {}, "pass@1 after the last round ", h("b", { "data-testid": "pass1", "data-value": last["1"] }, pct(last["1"]))),
      run.summary.search ? h("span", {}, "within reach ", h("b", {}, pct(run.summary.search.any_drawn_passes[lastRound(run.summary)]))) : null,
      h("span", {}, "tokens per problem ", h("b", {}, num(run.summary.tokens_by_round[lastRound(run.summary)], 0))),
      run.summary.pass_at_k_base ? h("span", {}, "evalplus base pass@1 ", h("b", {}, pct(run.summary.pass_at_k_base[lastRound(run.summary)]?.["1"]))) : null);
  });
  return h("section", {}, h("h2", {}, "Pass@k"), headline,
    h("div", { class: "charts" },
      lineChart(byRound, { title: "pass@1 on the hidden tests, by round (0 = single-shot)", xLabel: "round", yLabel: "%", integerX: true }),
      cost.length ? lineChart(cost, { title: "pass@1 against generated tokens per problem", xLabel: "tokens per problem (through each round)", yLabel: "%" }) : null),
    passTable(benches),
    h("h2", {}, "Where the time went"), benches.map((run) => h("div", {}, runs.length > 1 ? h("h3", {}, run.name) : null, timeBar(run.time))));
}

// ------------------------------------------------------------------ the task table

const FILTERS = {
  all: ["all tasks", () => true],
  unsolved: ["unsolved (no sample passes at its last round)", (t) => t.solved === 0],
  solved: ["solved by some sample", (t) => t.solved > 0],
  repaired: ["solved by repair (failed at round 0, passes at the last)", (t) => t.repaired],
  reach: ["within reach but not picked (search)", (t) => t.within_reach],
};
const COLUMNS = [["task_id", "task"], ["solved", "solved"], ["solved_first", "at round 0"], ["rounds", "rounds"],
  ["tokens", "tokens"], ["seconds", "seconds"], ["stop_reason", "stop"]];

function taskTable(run, panel) {
  const state = { filter: "all", query: "", sort: null, desc: false };
  const n = Math.max(1, ...run.tasks.map((t) => t.samples.length));
  const body = h("tbody");
  const shown = h("span", { class: "muted", "data-testid": "task-count" });
  function draw() {
    let rows = run.tasks.filter(FILTERS[state.filter][1]).filter((t) => !state.query || t.task_id.toLowerCase().includes(state.query));
    if (state.sort) {
      const key = state.sort, sign = state.desc ? -1 : 1;
      rows = [...rows].sort((a, b) => (a[key] > b[key] ? sign : a[key] < b[key] ? -sign : 0));
    }
    shown.textContent = `${rows.length} of ${run.tasks.length} tasks`;
    body.replaceChildren(...rows.map((t) => h("tr", { class: t.solved ? "ok" : "bad", "data-task": t.task_id, onclick: () => openTask(run, t, panel) },
      h("td", {}, h("a", { href: "#" + encodeURIComponent(run.name + "/" + t.task_id), onclick: (e) => e.preventDefault() }, t.task_id)),
      h("td", { class: "n" }, `${t.solved}/${t.samples.length}`), h("td", { class: "n" }, `${t.solved_first}/${t.samples.length}`),
      h("td", { class: "n" }, num(t.rounds, n > 1 ? 1 : 0)), h("td", { class: "n" }, num(t.tokens, 0)),
      h("td", { class: "n" }, num(t.seconds, 1)), h("td", {}, t.stop_reason || ""))));
  }
  const select = h("select", { "data-testid": "task-filter", onchange: (e) => { state.filter = e.target.value; draw(); } },
    Object.entries(FILTERS).map(([key, [label]]) => h("option", { value: key }, label)));
  const search = h("input", { type: "search", placeholder: "task id", oninput: (e) => { state.query = e.target.value.toLowerCase(); draw(); } });
  const head = h("tr", {}, COLUMNS.map(([key, label]) => h("th", { class: "sortable", onclick: () => {
    state.desc = state.sort === key ? !state.desc : false; state.sort = key; draw(); } }, label)));
  draw();
  return h("section", {}, h("h2", {}, "Tasks"), h("div", { class: "controls" }, select, search, shown),
    h("table", { class: "grid-table tasks", "data-testid": "task-table" }, h("thead", {}, head), body));
}

// ------------------------------------------------------------------ the drill-down

function codeBlock(code) { return h("pre", { class: "code" }, code); }

function diffBlock(before, after) {
  const parts = Diff.diffLines(before, after);
  return h("pre", { class: "code diff" }, parts.map((p) => h("span", { class: p.added ? "add" : p.removed ? "del" : "same" },
    p.value.replace(/^/gm, p.added ? "+ " : p.removed ? "- " : "  ").replace(/(\n)(?:[+\- ] )$/, "$1"))));
}

function verdicts(run, r) {
  const feedback = r.feedback_total
    ? `${r.feedback_passed}/${r.feedback_total} passed` + (r.feedback_error && r.feedback_error !== "passed" ? `, first failure: ${r.feedback_error}` : "")
    : "no feedback tests";
  const hidden = r.hidden_passed === null || r.hidden_passed === undefined ? "not judged" : r.hidden_passed ? "PASS" : `FAIL (${r.hidden_result || r.error_kind || ""})`;
  return h("div", { class: "verdicts" },
    h("span", { class: "badge feedback" + (run.oracle ? " oracle-fb" : "") }, run.oracle ? "feedback — ORACLE (the hidden tests, shown to the model): " : "feedback (the agent's own tests, seen by the agent): ", feedback),
    h("span", { class: "badge hidden " + (r.hidden_passed ? "pass" : r.hidden_passed === false ? "fail" : "") }, "hidden (judged after the agent returned, never seen by it): ", hidden),
    r.base_passed !== null && r.base_passed !== undefined ? h("span", { class: "badge" }, "evalplus base: ", r.base_passed ? "PASS" : "FAIL") : null);
}

function searchFacts(r) {
  if (r.selected_by === null || r.selected_by === undefined) return null;
  return h("div", { class: "search" },
    h("p", {}, `chosen by: ${r.selected_by}; the answer's cluster holds ${r.cluster_size} of the candidates drawn so far, in ${r.clusters} behaviour clusters`,
      r.drawn_passed !== null && r.drawn_passed !== undefined ? `; ${r.drawn_passed} of this round's ${r.drawn.length} drawn candidates pass the hidden tests` : ""),
    r.drawn.length ? h("details", {}, h("summary", {}, `the ${r.drawn.length} candidates drawn this round`),
      r.drawn.map((d, i) => h("div", {}, h("h5", {}, `candidate ${i + 1}` + (STR[d] === str(r.completion) ? " (the answer)" : "")), codeBlock(STR[d])))) : null);
}

function eventDetail(e) {
  const f = e.fields;
  switch (e.kind) {
    case "model_call":
      return h("details", {}, h("summary", {}, `model call (${e.node}): ${f.tokens?.prompt ?? "?"} prompt + ${f.tokens?.completion ?? "?"} generated tokens, ${num(e.duration, 2)} s${f.shared ? " (shared by several samples)" : ""}`),
        (f.messages || []).map((m) => h("div", { class: "msg " + m.role }, h("b", {}, m.role), h("pre", {}, text(m.content) ?? JSON.stringify(m)))),
        (f.replies || []).map((rep, i) => h("div", { class: "msg reply" }, h("b", {}, `reply ${i + 1}`), h("pre", {}, text(rep)))));
    case "selection":
      return h("details", {}, h("summary", {}, `selection: ${f.reason}${f.dominant ? " (decisive)" : ""}; ${(f.clusters || []).length} behaviour clusters over ${(f.candidates || []).length} candidates`),
        h("table", { class: "grid-table" }, h("tr", {}, ["cluster", "size", "candidates", "examples passed", "support", "score", "survives", "broken"].map((x) => h("th", {}, x))),
          (f.clusters || []).map((c, i) => h("tr", { class: (c.members || []).includes(f.chosen) ? "chosen" : "" },
            h("td", {}, (i + 1) + ((c.members || []).includes(f.chosen) ? " (the answer)" : "")), h("td", { class: "n" }, (c.members || []).length),
            h("td", {}, (c.members || []).map((m) => m + 1).join(", ")), h("td", { class: "n" }, `${c.examples_passed}/${c.examples_total}`),
            h("td", { class: "n" }, num(c.support, 2)), h("td", { class: "n" }, num(c.score, 2)), h("td", {}, c.survives ? "yes" : "no"), h("td", {}, c.broken ? "yes" : "no")))));
    case "candidates_judged":
      return h("details", {}, h("summary", {}, `${(f.candidates || []).length} candidates judged on the feedback tests; kept candidate ${f.best + 1}`),
        (f.candidates || []).map((c, i) => h("div", {}, h("h5", {}, `candidate ${i + 1}: ${c.passed}/${c.total} (${c.error})`), codeBlock(text(c.completion)))));
    case "feedback":
      return h("details", {}, h("summary", {}, "what the model was told"), h("pre", {}, text(f.message)));
    case "tool_use":
      return h("details", {}, h("summary", {}, `tool ${f.tool}${f.error ? ": " + f.error : ""}`), f.code ? codeBlock(text(f.code)) : null, f.observation ? h("pre", {}, text(f.observation)) : null);
    case "sandbox_job":
      return h("div", { class: "muted" }, `sandbox job (${f.oracle ? "ORACLE: hidden tests" : f.feedback + " tests"}): ${f.passed}/${f.total}, ${f.error_kind}, ${num(e.duration, 2)} s`);
    default:
      return h("div", { class: "muted" }, `${e.kind}: ${JSON.stringify(f).slice(0, 300)}`);
  }
}

function timeline(events) {
  const lanes = [["model", (e) => e.kind === "model_call", "var(--c0)"], ["sandbox", (e) => ["sandbox_job", "candidates_judged", "selection", "tool_use"].includes(e.kind), "var(--c1)"],
    ["other", (e) => true, "var(--c7)"]];
  const end = Math.max(0.001, ...events.map((e) => e.start + e.duration));
  const W = 700, L = 64, lane = 22;
  const svg = s("svg", { viewBox: `0 0 ${W} ${lanes.length * lane + 20}`, class: "timeline" });
  const placed = new Set();
  lanes.forEach(([name, test, color], i) => {
    svg.append(s("text", { x: 0, y: i * lane + 15 }, name));
    for (const e of events) {
      if (placed.has(e.id) || !test(e)) continue;
      placed.add(e.id);
      const x = L + ((W - L - 4) * e.start) / end, w = Math.max(1, ((W - L - 4) * e.duration) / end);
      svg.append(s("rect", { x, y: i * lane + 4, width: w, height: lane - 8, fill: color, opacity: 0.8 },
        s("title", {}, `${e.kind} (${e.node}, round ${e.round}): ${num(e.duration, 3)} s from ${num(e.start, 3)} s`)));
    }
  });
  svg.append(s("text", { x: W - 4, y: lanes.length * lane + 16, "text-anchor": "end" }, `${num(end, 2)} s`));
  return h("figure", {}, h("figcaption", {}, "timeline of the sample's spans"), svg);
}

function roundCard(run, sample, r, previous) {
  const events = (sample.events || []).filter((e) => e.round === r.round && e.kind !== "inputs" && e.kind !== "feedback_tests");
  const code = str(r.completion);
  const before = previous ? str(previous.completion) : null;
  const showDiff = before !== null && before !== code, unchanged = before === code;
  return h("div", { class: "round", "data-round": r.round },
    h("h4", {}, `round ${r.round}: ${r.action}` + (r.tool ? ` (${r.tool})` : "") + (r.candidates > 1 ? `, ${r.candidates} candidates` : "") +
      (r.kept_previous ? (r.selected_by ? " — the answer was drawn in an earlier round" : " — kept the earlier answer") : "") + ` · ${r.completion_tokens} tokens · ${num(r.seconds, 1)} s`),
    verdicts(run, r), searchFacts(r),
    r.observation !== null && r.observation !== undefined ? h("details", {}, h("summary", {}, "what the tool answered"), h("pre", {}, str(r.observation))) : null,
    h("div", { class: "code-tabs" },
      h("details", { class: "answer", open: !showDiff && !unchanged }, h("summary", {}, unchanged ? "the answer after this round (unchanged from the previous round)" : "the answer after this round"), codeBlock(code)),
      showDiff ? h("details", { open: true }, h("summary", {}, "diff against the previous round's answer"), diffBlock(before, code)) : null),
    events.length ? h("div", { class: "events" }, h("h5", {}, "trace"), events.map(eventDetail)) : null,
    r.stop_reason ? h("p", { class: "stop" }, `stopped: ${r.stop_reason}`) : null);
}

function sampleView(run, sample) {
  return h("div", { class: "sample" },
    sample.events ? timeline(sample.events) : h("p", { class: "muted" }, "This run kept no trace.jsonl: rounds, code and verdicts come from its attempts."),
    (sample.events || []).filter((e) => e.round === 0 && (e.kind === "feedback_tests" || e.kind === "inputs")).map((e) =>
      h("details", {}, h("summary", {}, e.kind === "inputs" ? "the inputs candidates are compared on, and the model's proposed tests" : `the feedback tests (${e.fields.feedback})`),
        h("pre", {}, JSON.stringify(e.fields, (k, v) => text(v), 1)))),
    sample.rounds.map((r, i) => roundCard(run, sample, r, i ? sample.rounds[i - 1] : null)));
}

function openTask(run, task, panel, scroll = true) {
  const picker = task.samples.length > 1 ? h("select", { "data-testid": "sample-picker", onchange: (e) => body.replaceChildren(sampleView(run, task.samples[Number(e.target.value)])) },
    task.samples.map((smp, i) => h("option", { value: i }, `sample ${smp.sample}: ${smp.rounds.at(-1).hidden_passed ? "passes" : "fails"}, ${smp.rounds.length} round${smp.rounds.length > 1 ? "s" : ""}`))) : null;
  const body = h("div", {}, sampleView(run, task.samples[0]));
  panel.replaceChildren(h("section", { class: "drill", "data-testid": "drill", "data-task": task.task_id },
    h("h2", {}, task.task_id, h("button", { class: "close", onclick: () => panel.replaceChildren() }, "close")),
    oracleBanner(run),
    task.prompt !== null ? h("details", { open: true }, h("summary", {}, "the prompt"), codeBlock(str(task.prompt))) : null,
    picker, body));
  if (scroll) panel.scrollIntoView({ block: "start" });
}

// ------------------------------------------------------------------ comparing runs

function comparison(runs) {
  const ids = [...new Set(runs.flatMap((r) => r.tasks.map((t) => t.task_id)))];
  const index = runs.map((r) => Object.fromEntries(r.tasks.map((t) => [t.task_id, t])));
  const pick = (id) => h("select", { id, onchange: () => draw() }, runs.map((r, i) => h("option", { value: i }, r.name)));
  const a = pick("cmp-a"), b = pick("cmp-b");
  if (runs.length > 1) b.value = "1";
  const mode = h("select", { "data-testid": "compare-mode", onchange: () => draw() },
    h("option", { value: "b-not-a" }, "solved by B, not by A"), h("option", { value: "a-not-b" }, "solved by A, not by B"),
    h("option", { value: "differ" }, "where they differ"), h("option", { value: "all" }, "all tasks"));
  const body = h("tbody"), count = h("span", { class: "muted", "data-testid": "compare-count" });
  const rate = (t) => (t ? t.solved / t.samples.length : null);
  function draw() {
    const A = index[Number(a.value)], B = index[Number(b.value)];
    const keep = { "b-not-a": (x, y) => rate(y) > 0 && !rate(x), "a-not-b": (x, y) => rate(x) > 0 && !rate(y),
      differ: (x, y) => rate(x) !== rate(y), all: () => true }[mode.value];
    const rows = ids.filter((id) => keep(A[id], B[id]));
    count.textContent = `${rows.length} tasks`;
    body.replaceChildren(...rows.map((id) => h("tr", {}, h("td", {}, id),
      index.map((ix) => h("td", { class: "n " + (ix[id] ? (ix[id].solved ? "ok" : "bad") : "") }, ix[id] ? `${ix[id].solved}/${ix[id].samples.length}` : "–")))));
  }
  draw();
  return h("section", { "data-testid": "comparison" }, h("h2", {}, "Side by side, per task"),
    h("div", { class: "controls" }, "A ", a, " B ", b, " show ", mode, count),
    h("table", { class: "grid-table" }, h("thead", {}, h("tr", {}, h("th", {}, "task"), runs.map((r) => h("th", {}, r.name + (DATA.grid?.[r.name] ? " " + JSON.stringify(DATA.grid[r.name]) : ""))))), body));
}

// ------------------------------------------------------------------ the page

function runSection(run) {
  const panel = h("div", { class: "panel" });
  const section = h("div", { class: "run", "data-run": run.name }, oracleBanner(run), headTable(run), figures([run]), taskTable(run, panel), panel);
  if (run.tasks.length === 1) openTask(run, run.tasks[0], panel, false);  // a solve: its one problem, opened
  return section;
}

async function unpack() {  // #page-data: base64 of gzipped JSON
  const bytes = Uint8Array.from(atob(document.getElementById("page-data").textContent.trim()), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(stream).text());
}

async function main() {
  DATA = await unpack();
  STR = DATA.strings;
  const root = document.getElementById("app");
  const runs = DATA.runs;
  root.append(h("header", {}, h("h1", {}, DATA.title), h("p", { class: "muted" }, `page written ${DATA.generated}; ${runs.length} run${runs.length > 1 ? "s" : ""}`),
    runs.some((r) => r.oracle) ? h("div", { class: "oracle" }, "This page holds ORACLE runs (marked): their feedback was the hidden tests.") : null));
  if (runs.length === 1) {
    root.append(runSection(runs[0]));
  } else {
    const tabs = h("nav", { class: "tabs" }), content = h("div");
    const views = [["compare", () => h("div", {}, figures(runs), comparison(runs))], ...runs.map((r) => [r.name, () => runSection(r)])];
    views.forEach(([name, make], i) => tabs.append(h("button", { "data-tab": name, onclick: (e) => {
      tabs.querySelectorAll("button").forEach((x) => x.classList.remove("on")); e.target.classList.add("on"); content.replaceChildren(make()); } }, name)));
    root.append(tabs, content);
    tabs.firstChild.click();
  }
  document.body.dataset.ready = "1";
}

main().catch((error) => {
  document.getElementById("app").append(h("p", { class: "oracle" }, `This page could not be read: ${error}`));
  throw error;
});
