// Evaluator IDE, part 2: the panels around the editor. Rows (a dataset's rows, paged, each
// shown as a chat plus its other fields as JSON, with a pin button), Tests (pinned rows with
// the score range they must get; "Run tests" checks the editor's code against them) and
// Versions (the saved history, a diff of any version against the editor, restore).
(function () {
  "use strict";
  const RftIde = (window.RftIde = window.RftIde || {});
  const { el, api, fmtScore } = RftIde.util;
  const $ = (id) => document.getElementById(id);
  const PAGE = 10;

  function text(content) {
    if (typeof content === "string") return content;
    if (Array.isArray(content)) return content.map((p) => (p && p.text) || "").join(" ");
    return "";
  }

  function chat(row) {
    const box = el("div", { class: "chat" });
    if (Array.isArray(row.messages)) {
      for (const m of row.messages) {
        box.appendChild(el("div", { class: "msg role-" + m.role },
          el("span", { class: "role" }, m.role),
          el("div", { class: "content" }, text(m.content)),
          m.tool_calls ? el("pre", { class: "json" }, JSON.stringify(m.tool_calls, null, 2)) : null));
      }
    } else {
      box.appendChild(el("div", { class: "msg role-prompt" },
        el("span", { class: "role" }, "prompt"), el("div", { class: "content" }, String(row.prompt))));
    }
    const extras = Object.fromEntries(Object.entries(row).filter(([k]) => k !== "messages" && k !== "prompt"));
    if (Object.keys(extras).length) {
      const flat = JSON.stringify(extras);
      box.appendChild(el("pre", { class: "json extras" }, flat.length <= 90 ? flat : JSON.stringify(extras, null, 2)));
    }
    return box;
  }

  // ---- Rows --------------------------------------------------------------------------------
  // ctx: { datasets, status, typed: {get, set}, pin(body) -> bool, lastScore(datasetId, row), onSelect(row), onPage(rows) }
  RftIde.createRows = function (ctx) {
    const list = $("rows");
    const select = $("dataset-select");
    let dataset = null, offset = 0, count = 0, indices = [], selected = null, loading = 0;

    for (const d of ctx.datasets) select.appendChild(el("option", { value: String(d.id) }, d.name + " (" + d.row_count.toLocaleString() + " rows)"));
    const remembered = Number(localStorage.getItem("rft-ide:dataset"));
    const first = ctx.datasets.find((d) => d.id === remembered) || ctx.datasets[0];
    $("rows-empty").hidden = Boolean(first);
    select.disabled = !first;

    async function load() {
      const ticket = ++loading;
      if (!dataset) { list.replaceChildren(); $("rows-status").textContent = ""; return; }
      $("rows-status").textContent = "Loading…";
      let page;
      try {
        page = await api("GET", "/api/v1/datasets/" + dataset.id + "/rows?offset=" + offset + "&limit=" + PAGE);
      } catch (err) {
        $("rows-status").textContent = "";
        ctx.status("Could not read the rows: " + err.message);
        return;
      }
      if (ticket !== loading) return; // a newer page was asked for meanwhile
      count = page.count;
      indices = page.data.map((item) => item.index);
      list.replaceChildren(...page.data.map((item) => rowItem(item.index, item.row)));
      list.scrollTop = 0;
      const last = offset + page.data.length - 1;
      $("rows-status").textContent = page.data.length
        ? "Rows " + offset.toLocaleString() + "–" + last.toLocaleString() + " of " + count.toLocaleString() : "No rows";
      $("rows-prev").disabled = offset === 0;
      $("rows-next").disabled = last >= count - 1;
      ctx.onPage(indices.slice());
    }

    function rowItem(index, row) {
      const item = el("li", { class: "row-item" + (index === selected ? " selected" : ""), "data-row": String(index) });
      item.appendChild(el("div", { class: "row-head" },
        el("button", {
          type: "button", class: "row-select link", "aria-pressed": String(index === selected),
          onclick: () => choose(index),
        }, "Row " + index),
        el("span", { class: "row-actions" },
          el("button", {
            type: "button", class: "type-completion link", "aria-label": "Type a completion for row " + index,
            title: "Score a completion you type instead of the row's own", onclick: () => typedForm(item, index),
          }, "Type completion"),
          " · ",
          el("button", {
            type: "button", class: "pin link", "aria-label": "Pin row " + index + " as a test case",
            title: "Pin as a test case", onclick: () => pinForm(item, index),
          }, "Pin as test"))));
      item.appendChild(chat(row));
      showTyped(item, index);
      item.addEventListener("click", (e) => { if (!e.target.closest("button, form, pre")) choose(index); });
      return item;
    }

    function choose(index) {
      selected = index;
      for (const item of list.children) {
        const on = Number(item.dataset.row) === index;
        item.classList.toggle("selected", on);
        item.querySelector(".row-select").setAttribute("aria-pressed", String(on));
      }
      ctx.onSelect(index);
    }

    // A completion typed by hand: runs that include this row score it instead of the row's own.
    function showTyped(item, index) {
      const value = ctx.typed.get(dataset.id, index);
      const old = item.querySelector(".msg.role-typed");
      if (old) old.remove();
      if (value === undefined) return;
      item.querySelector(".chat").appendChild(el("div", { class: "msg role-typed", "data-testid": "typed-completion" },
        el("span", { class: "role" }, "typed"), el("div", { class: "content" }, value)));
    }

    function typedForm(item, index) {
      const open = item.querySelector(".typed-form");
      if (open) { open.remove(); return; }
      const current = ctx.typed.get(dataset.id, index);
      const area = el("textarea", { "aria-label": "Completion for row " + index, placeholder: "The model's answer, as you want it scored" });
      area.value = current === undefined ? "" : current;
      const form = el("form", { class: "typed-form" }, area,
        el("span", { class: "actions" },
          el("button", { type: "submit" }, "Use this completion"),
          el("button", { type: "button", class: "secondary", onclick: () => {
            ctx.typed.set(dataset.id, index, null); showTyped(item, index); form.remove();
            ctx.status("Row " + index + " is scored on its own completion again.");
          } }, "Clear"),
          el("button", { type: "button", class: "secondary", onclick: () => form.remove() }, "Cancel")));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        ctx.typed.set(dataset.id, index, area.value);
        showTyped(item, index);
        form.remove();
        ctx.status("Row " + index + " will be scored on the completion you typed (Run to score it).");
      });
      form.addEventListener("keydown", (e) => { if (e.key === "Escape") { form.remove(); item.querySelector(".type-completion").focus(); } });
      item.querySelector(".row-head").after(form);
      area.focus();
    }

    function pinForm(item, index) {
      const open = item.querySelector(".pin-form");
      if (open) { open.remove(); return; }
      const last = ctx.lastScore(dataset.id, index);
      const value = last === null || last === undefined ? "1" : String(last);
      const field = (name, label, attrs) => el("label", {}, label, el("input", Object.assign({ name: name }, attrs)));
      const score = { type: "number", min: "0", max: "1", step: "any", value: value, required: true, size: 4 };
      const form = el("form", { class: "pin-form" },
        field("min_score", "min", score), field("max_score", "max", score),
        field("note", "note", { type: "text", maxlength: "500", placeholder: "what this row checks" }),
        el("button", { type: "submit" }, "Add test"),
        el("button", { type: "button", class: "secondary", onclick: () => form.remove() }, "Cancel"));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const data = new FormData(form);
        const ok = await ctx.pin({
          dataset_id: dataset.id, row_index: index, note: String(data.get("note") || ""),
          min_score: Number(data.get("min_score")), max_score: Number(data.get("max_score")),
        });
        if (ok) form.remove();
      });
      form.addEventListener("keydown", (e) => { if (e.key === "Escape") { form.remove(); item.querySelector(".pin").focus(); } });
      item.querySelector(".row-head").after(form);
      form.querySelector("input").focus();
    }

    function show(id) {
      dataset = ctx.datasets.find((d) => d.id === id) || null;
      offset = 0; selected = null;
      if (dataset) { select.value = String(id); localStorage.setItem("rft-ide:dataset", String(id)); }
      ctx.onSelect(null);
      return load();
    }

    select.addEventListener("change", () => show(Number(select.value)));
    $("rows-prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
    $("rows-next").addEventListener("click", () => { offset = Math.min(offset + PAGE, Math.max(count - 1, 0)); load(); });

    show(first ? first.id : null);
    return {
      dataset: () => dataset,
      selected: () => selected,
      pageIndices: () => indices.slice(),
    };
  };

  // ---- Tests -------------------------------------------------------------------------------
  // ctx: { evaluator(), code(), datasetName(id), status, marks, consoleLine }
  RftIde.createTests = function (ctx) {
    const tbody = $("tests").querySelector("tbody");
    let cases = [];
    let outcome = {}; // test id -> its last result

    function render() {
      $("tests-count").textContent = cases.length ? String(cases.length) : "";
      $("tests").hidden = !cases.length;
      $("run-tests").disabled = !cases.length;
      tbody.replaceChildren(...cases.map((c) => {
        const r = outcome[c.id];
        const result = !r ? el("span", { class: "muted" }, "not run")
          : el("span", { class: "pill " + (r.passed ? "valid" : "invalid"), title: r.error || r.reason || "" },
            (r.passed ? "✔ pass " : "✖ fail ") + fmtScore(r.score));
        const where = (c.dataset_id === null ? "(deleted dataset)" : ctx.datasetName(c.dataset_id)) + " · row " + c.row_index;
        return el("tr", { "data-test": String(c.id), class: r ? (r.passed ? "passed" : "failed") : "" },
          el("td", { title: where }, where),
          el("td", { class: "num" }, fmtScore(c.min_score) + "–" + fmtScore(c.max_score)),
          el("td", { class: "reason", title: c.note }, c.note),
          el("td", {}, result, r && !r.passed && (r.error || r.reason) ? el("div", { class: "muted reason" }, shorten(r.error || r.reason)) : null),
          el("td", {}, el("button", {
            type: "button", class: "link danger", "aria-label": "Delete the test of row " + c.row_index,
            onclick: () => remove(c),
          }, "Delete")));
      }));
    }

    function shorten(message) {
      const lines = message.trim().split("\n");
      return lines[lines.length - 1];
    }

    async function load() {
      cases = []; outcome = {};
      const ev = ctx.evaluator();
      $("tests-help").textContent = ev
        ? "Pin a row (its Pin as test button in Rows) with the score range it must get; Run tests checks the code in the editor against every pinned row."
        : "Save the evaluator first: test cases belong to a saved evaluator.";
      if (ev) {
        try { cases = (await api("GET", "/api/v1/evaluators/" + ev.id + "/tests")).data; }
        catch (err) { ctx.status("Could not load the tests: " + err.message); }
      }
      render();
    }

    async function add(body) {
      const ev = ctx.evaluator();
      if (!ev) { ctx.status("Save the evaluator first: test cases belong to a saved evaluator."); return false; }
      try {
        const created = await api("POST", "/api/v1/evaluators/" + ev.id + "/tests", body);
        cases.push(created);
        render();
        ctx.status("Pinned row " + body.row_index + ": expects " + fmtScore(body.min_score) + "–" + fmtScore(body.max_score) + ".");
        return true;
      } catch (err) {
        ctx.status(err.describe ? err.describe() : err.message);
        return false;
      }
    }

    async function remove(c) {
      const ev = ctx.evaluator();
      try {
        await api("DELETE", "/api/v1/evaluators/" + ev.id + "/tests/" + c.id);
        cases = cases.filter((x) => x.id !== c.id);
        render();
        ctx.status("Deleted the test of row " + c.row_index + ".");
      } catch (err) { ctx.status(err.message); }
    }

    async function run() {
      const ev = ctx.evaluator();
      if (!ev || !cases.length) return;
      $("run-tests").disabled = true;
      $("tests-summary").textContent = "Running…";
      try {
        const body = await api("POST", "/api/v1/evaluators/" + ev.id + "/tests/run", { code: ctx.code() });
        outcome = Object.fromEntries(body.data.map((r) => [r.test.id, r]));
        ctx.marks.clear();
        for (const r of body.data) {
          if (r.error_line) ctx.marks.addError(r.error_line, shorten(r.error || ""));
          if (!r.passed) {
            ctx.consoleLine("✖ test: row " + r.test.row_index + " expected " + fmtScore(r.test.min_score) + "–" +
              fmtScore(r.test.max_score) + ", got " + (r.score === null ? "no valid score" : fmtScore(r.score)), "error");
            if (r.error) ctx.consoleLine(shorten(r.error), "error");
          }
        }
        $("tests-summary").textContent = body.passed + " passed, " + body.failed + " failed";
        ctx.status("Tests: " + body.passed + " passed, " + body.failed + " failed.");
      } catch (err) {
        $("tests-summary").textContent = "";
        ctx.status(err.describe ? err.describe() : err.message);
        if (err.errors) for (const e of err.errors) if (e.line) ctx.marks.addError(e.line, e.message, true);
      } finally {
        render();
      }
    }

    $("run-tests").addEventListener("click", run);
    return { load, add, run };
  };

  // ---- Versions and diff -------------------------------------------------------------------
  // ctx: { evaluator(), code(), dataset(), baseModel, confirmReplace(question) -> bool,
  //        restored(evaluator), status }
  RftIde.createVersions = function (ctx) {
    const list = $("versions");
    const dialog = $("diff-dialog");
    let versions = [];
    let diffEditor = null;

    function hint() {
      const ev = ctx.evaluator();
      $("job-hint").hidden = !ev;
      if (!ev) return;
      const ds = ctx.dataset();
      $("job-hint-id").textContent = "ID " + ev.id;
      $("job-hint-command").textContent = "rft jobs create --base-model " + ctx.baseModel +
        " --dataset " + (ds ? ds.id : "DATASET_ID") + " --evaluator " + ev.id;
    }

    async function load() {
      hint();
      const ev = ctx.evaluator();
      versions = [];
      if (ev) {
        try { versions = (await api("GET", "/api/v1/evaluators/" + ev.id + "/versions")).data; }
        catch (err) { ctx.status("Could not load the versions: " + err.message); }
      }
      $("versions-empty").hidden = versions.length > 0;
      const byNumber = Object.fromEntries(versions.map((v) => [v.version, v]));
      list.replaceChildren(...versions.slice().reverse().map((v) => {
        const previous = byNumber[v.version - 1];
        const latest = v.version === ev.latest_version;
        return el("li", { "data-version": String(v.version) },
          el("strong", {}, "v" + v.version), latest ? el("span", { class: "badge" }, "latest") : null,
          el("span", { class: "note", title: v.note }, v.note || "(no note)"),
          el("span", { class: "muted when" }, new Date(v.created_at).toLocaleString()),
          el("span", { class: "actions" },
            el("button", { type: "button", class: "link", onclick: () => diff(v.code, "v" + v.version, ctx.code(), "editor") },
              "Diff vs editor"),
            previous ? el("button", { type: "button", class: "link",
              onclick: () => diff(previous.code, "v" + previous.version, v.code, "v" + v.version) }, "Diff vs v" + previous.version) : null,
            latest ? null : el("button", { type: "button", class: "link", onclick: () => restore(v) }, "Restore")));
      }));
    }

    function diff(left, leftLabel, right, rightLabel) {
      $("diff-title").textContent = "Diff: " + leftLabel + " → " + rightLabel;
      dialog.showModal();
      if (!diffEditor) {
        diffEditor = monaco.editor.createDiffEditor($("diff-host"), {
          readOnly: true, automaticLayout: true, minimap: { enabled: false }, renderSideBySide: true,
          scrollBeyondLastLine: false, fontSize: 13,
        });
      }
      const old = diffEditor.getModel();
      diffEditor.setModel({
        original: monaco.editor.createModel(left, "python"),
        modified: monaco.editor.createModel(right, "python"),
      });
      if (old) { old.original.dispose(); old.modified.dispose(); }
      diffEditor.layout();
      $("diff-close").focus();
    }

    async function restore(v) {
      const ev = ctx.evaluator();
      if (!ctx.confirmReplace("Restore v" + v.version + "? It is saved as a new version.")) return;
      try {
        const saved = await api("POST", "/api/v1/evaluators/" + ev.id + "/versions/" + v.version + "/restore");
        ctx.restored(saved);
        ctx.status("Restored v" + v.version + " as v" + saved.latest_version + ".");
        await load();
      } catch (err) { ctx.status(err.message); }
    }

    $("job-hint-copy").addEventListener("click", async () => {
      const command = $("job-hint-command").textContent;
      try { await navigator.clipboard.writeText(command); ctx.status("Copied: " + command); }
      catch (err) { ctx.status("Copy it by hand (the clipboard is not available here): " + command); }
    });
    return { load, hint };
  };
})();
