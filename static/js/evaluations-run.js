// Evaluator IDE, part 1: small helpers, and the runner. A run POSTs the editor's code to the
// streaming preview and reads its server-sent events with a fetch reader (EventSource cannot
// POST): each `result` lands in the results table and the console as soon as its row finishes,
// then `summary`, then `end`. With "sample from model", `progress` events say how many rows a
// worker has generated; each result then shows the completion it scored. Stop aborts the fetch; the server frees its workers on disconnect.
(function () {
  "use strict";
  const RftIde = (window.RftIde = window.RftIde || {});

  // ---- helpers shared by the IDE scripts -------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(body && body.detail ? body.detail : "Request failed (" + status + ")");
      this.status = status;
      this.errors = (body && body.errors) || [];
    }
    // "Invalid evaluator code: line 2: invalid syntax" — every problem, with its line or field.
    describe() {
      const parts = this.errors.map((e) =>
        (e.line ? "line " + e.line + ": " : e.field ? e.field + ": " : "") + e.message);
      return [this.message].concat(parts).join(" · ");
    }
  }

  const csrf = () => document.getElementById("ide").dataset.csrf;
  const headers = () => ({ "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() });

  async function api(method, path, body, options) {
    const response = await fetch(path, Object.assign({
      method: method,
      headers: headers(),
      body: body === undefined ? undefined : JSON.stringify(body),
    }, options || {}));
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({ detail: response.statusText, errors: [] }));
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  const fmtScore = (s) => (s === null || s === undefined ? "—" : Number(s).toFixed(2));
  const fmtMs = (ms) => (ms < 10 ? ms.toFixed(1) : Math.round(ms).toString());

  RftIde.util = { el, api, ApiError, headers, fmtScore, fmtMs };

  // ---- server-sent events over fetch -----------------------------------------------------
  async function readEvents(body, onEvent) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onEvent(event, JSON.parse(data.join("\n")));
      }
    }
  }

  // Insert `node` among `parent`'s children in row order (rows finish in any order).
  function insertByRow(parent, node, row) {
    const after = Array.from(parent.children).find((c) => Number(c.dataset.row) > row);
    parent.insertBefore(node, after || null);
  }

  const USER_FRAME = /File "<evaluator[^"]*>", line (\d+)/;

  // ---- the runner --------------------------------------------------------------------------
  // ctx: { code(), dataset(), scope() -> {body, label} | null, marks, status(msg), onResults(list, dataset) }
  RftIde.createRunner = function (ctx) {
    const $ = (id) => document.getElementById(id);
    const tbody = $("results").querySelector("tbody");
    const consoleBox = $("console");
    let controller = null;
    let current = null; // the console block of the latest run
    let results = [];
    let summary = null;

    function consoleLine(text, cls) {
      (current || consoleBox).appendChild(el("div", { class: "console-line " + (cls || "") }, text));
      consoleBox.scrollTop = consoleBox.scrollHeight;
    }

    function traceback(text) {
      const pre = el("pre", { class: "out-error" });
      for (const line of text.split("\n")) {
        const match = USER_FRAME.exec(line);
        if (match) {
          pre.appendChild(el("button", {
            type: "button", class: "tb-line", title: "Show line " + match[1] + " in the editor",
            onclick: () => ctx.marks.focusLine(Number(match[1])),
          }, line));
          pre.appendChild(document.createTextNode("\n"));
        } else {
          pre.appendChild(document.createTextNode(line + "\n"));
        }
      }
      return pre;
    }

    // A row scored on several sampled completions gives one result per completion.
    const keyOf = (r) => String(r.row_index) + (r.sample_index === null || r.sample_index === undefined ? "" : "." + r.sample_index);
    const sampleLabel = (r) => (r.sample_index === null || r.sample_index === undefined ? "" : " #" + (r.sample_index + 1));

    function completionCell(r) {
      if (r.completion === null || r.completion === undefined) {
        return el("td", { class: "completion muted" }, r.source === "sampled" ? "none" : "from the dataset");
      }
      const label = r.source === "typed" ? "typed" : "#" + (r.sample_index + 1);
      return el("td", { class: "completion", title: r.completion, "data-testid": "completion" },
        el("span", { class: "source" }, label), r.completion);
    }

    function addResult(r) {
      results.push(r);
      const cls = r.is_score_valid ? "valid" : "invalid";
      const metrics = Object.entries(r.metrics || {})
        .map(([name, m]) => name + " " + fmtScore(m.score)).join(", ");
      const key = keyOf(r);
      const tr = el("tr", { class: cls, "data-row": String(r.row_index), "data-key": key },
        el("td", {}, el("button", {
          type: "button", class: "link row-link", "aria-label": "Show row " + r.row_index + sampleLabel(r) + " in the console",
          onclick: () => select(r, tr),
        }, String(r.row_index))),
        completionCell(r),
        el("td", { class: "num score" }, fmtScore(r.score)),
        el("td", {}, el("span", { class: "pill " + cls }, r.is_score_valid ? "valid" : "invalid")),
        el("td", { class: "reason", title: r.reason || "" }, r.reason || ""),
        el("td", { class: "metrics", title: metrics }, metrics),
        el("td", { class: "num" }, fmtMs(r.duration_ms)));
      insertByRow(tbody, tr, r.row_index);

      const head = "row " + r.row_index + sampleLabel(r) + " · " + (r.is_score_valid ? "score " + fmtScore(r.score) : "invalid") +
        " · " + fmtMs(r.duration_ms) + " ms";
      const said = r.completion === null || r.completion === undefined ? null
        : (r.source === "typed" ? "typed: " : "sampled: ") + JSON.stringify(r.completion);
      const block = el("section", { class: "out " + cls, "data-row": String(r.row_index), "data-key": key },
        el("div", { class: "out-head" }, head),
        said ? el("pre", { class: "out-completion" }, said) : null,
        r.stdout ? el("pre", { class: "out-stdout" }, r.stdout) : null,
        r.error ? traceback(r.error) : (!r.is_score_valid && r.reason ? el("pre", { class: "out-error" }, r.reason) : null));
      insertByRow(current || consoleBox, block, r.row_index);
      consoleBox.scrollTop = consoleBox.scrollHeight;
      if (r.error_line) ctx.marks.addError(r.error_line, lastLine(r.error));
      renderSummary(null);
    }

    function lastLine(text) {
      const lines = (text || "").trim().split("\n");
      return lines[lines.length - 1] || "error";
    }

    function select(r, tr) {
      tbody.querySelectorAll("tr.selected").forEach((t) => t.classList.remove("selected"));
      tr.classList.add("selected");
      const block = (current || consoleBox).querySelector('.out[data-key="' + keyOf(r) + '"]');
      consoleBox.querySelectorAll(".out.selected").forEach((b) => b.classList.remove("selected"));
      if (block) {
        block.classList.add("selected");
        consoleBox.scrollTop = block.offsetTop - 4;
      }
      if (r.error_line) ctx.marks.focusLine(r.error_line, false);
    }

    // As the server bins (evaluator_preview.histogram): 0-1, or the scores' own range when any
    // falls outside it (TRL, verl and Predibase rewards are any float).
    function fmtBound(x) { return String(Math.round(x * 100) / 100); }

    function histogram(scores) {
      let low = 0, high = 1;
      if (scores.some((x) => x < 0 || x > 1)) {
        low = Math.min(...scores); high = Math.max(...scores);
        if (low === high) { low -= 0.5; high += 0.5; }
      }
      const span = high - low;
      return Array.from({ length: 10 }, (_, i) => ({
        start: low + (span * i) / 10, end: low + (span * (i + 1)) / 10,
        count: scores.filter((x) => Math.min(Math.max(Math.floor(((x - low) * 10) / span), 0), 9) === i).length,
      }));
    }

    // The server's summary when the run completed; otherwise one computed from what arrived.
    function renderSummary(final) {
      const box = $("summary");
      const valid = results.filter((r) => r.is_score_valid && r.score !== null);
      const s = final || {
        count: results.length,
        valid: valid.length,
        invalid: results.length - valid.length,
        mean_score: valid.length ? valid.reduce((a, r) => a + r.score, 0) / valid.length : null,
        histogram: histogram(valid.map((r) => r.score)),
      };
      const max = Math.max(1, ...s.histogram.map((b) => b.count));
      const bars = el("div", { class: "histogram", role: "img",
        "aria-label": "Score histogram: " + s.histogram.map((b) => b.count).join(", ") });
      for (const b of s.histogram) {
        bars.appendChild(el("span", {
          class: "hbar", title: fmtBound(b.start) + "–" + fmtBound(b.end) + ": " + b.count,
          style: "height:" + Math.round((100 * b.count) / max) + "%",
        }));
      }
      box.replaceChildren(
        el("span", { class: "stat" }, "mean ", el("strong", { "data-testid": "mean-score" }, fmtScore(s.mean_score))),
        el("span", { class: "stat" }, el("strong", {}, String(s.valid)), " valid"),
        el("span", { class: "stat" + (s.invalid ? " bad" : "") }, el("strong", {}, String(s.invalid)), " invalid"),
        el("span", { class: "stat muted" }, s.count + (results.some((r) => r.source === "sampled") ? " completions" : " rows") + (final ? " in " + (final.duration_ms / 1000).toFixed(2) + " s" : "")),
        el("span", { class: "hist-wrap" }, el("span", { class: "hist-label muted" }, fmtBound(s.histogram[0].start)), bars,
          el("span", { class: "hist-label muted" }, fmtBound(s.histogram[s.histogram.length - 1].end))));
    }

    function setRunning(on) {
      $("run").disabled = on;
      $("stop").disabled = !on;
      $("ide").classList.toggle("running", on);
    }

    async function run() {
      if (controller) return;
      const dataset = ctx.dataset();
      if (!dataset) { ctx.status("Pick a dataset first (or upload one on the Datasets page)."); return; }
      const scope = ctx.scope();
      if (!scope) return;
      controller = new AbortController();
      const mine = controller;
      results = []; summary = null;
      tbody.replaceChildren();
      ctx.marks.clear();
      $("summary").replaceChildren(el("span", { class: "muted" }, "Running…"));
      const progress = $("run-progress");
      progress.hidden = true;
      const extra = ctx.extra ? ctx.extra(dataset, scope.body) : null;
      if (extra && extra.sample) {
        progress.hidden = false;
        progress.textContent = "Asking a worker to sample " + extra.sample.n + " completions per row from " + extra.label + "…";
      }
      // Keep the two previous runs' output above this one; older output goes.
      consoleBox.querySelectorAll(".run-block").forEach((b, i, all) => { if (i < all.length - 2) b.remove(); });
      current = el("div", { class: "run-block" },
        el("div", { class: "console-line run-head" },
          "▶ " + new Date().toLocaleTimeString() + " · " + dataset.name + " · " + scope.label +
          (extra && extra.sample ? " · sampled from " + extra.label : "")));
      consoleBox.appendChild(current);
      setRunning(true);
      let ended = false;
      try {
        const response = await fetch("/api/v1/evaluators/preview/stream", {
          method: "POST", headers: headers(), signal: controller.signal,
          body: JSON.stringify(Object.assign({ code: ctx.code(), requirements: ctx.requirements(), dataset_id: dataset.id }, scope.body,
            extra ? extra.body : {})),
        });
        if (!response.ok) {
          const body = await response.json().catch(() => ({ detail: response.statusText }));
          const error = new ApiError(response.status, body);
          for (const e of error.errors) if (e.line) ctx.marks.addError(e.line, e.message, true);
          consoleLine("✖ " + error.describe(), "error");
          ctx.status(error.message);
          $("summary").replaceChildren(el("span", { class: "bad" }, "Not run: " + error.message));
          return;
        }
        await readEvents(response.body, (event, data) => {
          if (event === "result") addResult(data);
          else if (event === "progress") {
            progress.hidden = false;
            progress.textContent = data.generated < data.rows
              ? "generating " + data.generated + "/" + data.rows + " rows…"
              : "generated " + data.rows + "/" + data.rows + " rows";
          }
          else if (event === "summary") summary = data;
          else if (event === "error") consoleLine("✖ " + data.detail, "error");
          else if (event === "end") ended = true;
        });
        renderSummary(summary);
        consoleLine("■ " + results.length + " rows scored" + (ended ? "" : " (the stream was cut)"), "muted");
        ctx.status("Scored " + results.length + " rows.");
      } catch (err) {
        if (err.name === "AbortError") {
          renderSummary(null);
          consoleLine("■ Stopped after " + results.length + " rows.", "muted");
          ctx.status("Stopped.");
        } else {
          $("summary").replaceChildren(el("span", { class: "bad" }, "The run failed: " + err.message));
          consoleLine("✖ The run failed: " + err.message, "error");
          ctx.status("The run failed: " + err.message);
        }
      } finally {
        if (controller === mine) controller = null;
        setRunning(false);
        ctx.onResults(results, dataset);
      }
    }

    function stop() {
      if (controller) controller.abort();
    }

    $("run").addEventListener("click", run);
    $("stop").addEventListener("click", stop);
    $("console-clear").addEventListener("click", () => { consoleBox.replaceChildren(); current = null; });
    return { run, consoleLine };
  };
})();
