// Evaluator IDE, part 3: the page itself. The Monaco editor, unsaved edits kept in local
// storage (restored on reload, never replaced without asking), Save as a new version, the
// keyboard (Ctrl/Cmd+Enter runs, Ctrl/Cmd+S saves, arrows move between tabs), and the wiring
// of the runner (evaluations-run.js) and the panels (evaluations-panels.js).
(function () {
  "use strict";
  const RftIde = window.RftIde;
  const { el, api } = RftIde.util;
  const $ = (id) => document.getElementById(id);
  const boot = JSON.parse($("ide-boot").textContent);

  let evaluator = boot.evaluator; // the saved evaluator (latest version), or null for a new one
  let baseCode = evaluator ? evaluator.code : boot.templates[0].code; // what "unsaved" compares to
  const scores = new Map(); // "dataset:row" -> the score of the last run, to prefill pins
  const typedStore = new Map(); // "dataset:row" -> a completion typed by hand (for this page)

  function status(message) { $("ide-status").textContent = message; }

  // ---- the editor and its error marks --------------------------------------------------
  const editor = monaco.editor.create($("editor"), {
    value: baseCode, language: "python", automaticLayout: true, minimap: { enabled: false },
    fontSize: 13, tabSize: 4, insertSpaces: true, scrollBeyondLastLine: false, glyphMargin: true,
    lineNumbersMinChars: 3, renderLineHighlight: "line", fixedOverflowWidgets: true,
    ariaLabel: "Evaluator code. Ctrl+Enter runs; Ctrl+M switches Tab between indenting and moving focus.",
  });
  RftIde.editor = editor;
  const code = () => editor.getValue();

  const marks = (function () {
    let markers = [];
    const lines = editor.createDecorationsCollection();
    function publish() { monaco.editor.setModelMarkers(editor.getModel(), "rft-run", markers); }
    return {
      clear() { markers = []; publish(); lines.clear(); },
      // An error at `line`: a red squiggle with the message; the first one is also highlighted.
      addError(line, message, reveal) {
        if (markers.some((m) => m.startLineNumber === line && m.message === message)) return;
        const model = editor.getModel();
        const n = Math.min(Math.max(1, line), model.getLineCount());
        markers.push({
          severity: monaco.MarkerSeverity.Error, message: message || "error",
          startLineNumber: n, startColumn: model.getLineFirstNonWhitespaceColumn(n) || 1,
          endLineNumber: n, endColumn: model.getLineMaxColumn(n),
        });
        publish();
        if (markers.length === 1 || reveal) this.focusLine(n, false);
      },
      focusLine(line, focus) {
        lines.set([{ range: new monaco.Range(line, 1, line, 1), options: {
          isWholeLine: true, className: "ide-error-line", glyphMarginClassName: "ide-error-glyph",
        } }]);
        editor.revealLineInCenterIfOutsideViewport(line);
        if (focus !== false) { editor.setPosition({ lineNumber: line, column: 1 }); editor.focus(); }
      },
    };
  })();

  // ---- drafts: unsaved edits survive a reload ------------------------------------------
  const draftKey = () => "rft-ide:draft:" + (evaluator ? evaluator.id : "new");
  function readDraft() {
    try { return JSON.parse(localStorage.getItem(draftKey()) || "null"); } catch (err) { return null; }
  }
  function keepDraft() {
    const current = code();
    try {
      if (current === baseCode) localStorage.removeItem(draftKey());
      else localStorage.setItem(draftKey(), JSON.stringify({
        code: current, version: evaluator ? evaluator.latest_version : null, saved_at: Date.now(),
      }));
    } catch (err) {
      status("Your edits could not be kept in this browser (" + err.message + "): save them.");
    }
    showDirty();
  }
  function showDirty() {
    const dirty = code() !== baseCode;
    $("dirty").hidden = !dirty;
    $("discard-draft").hidden = !dirty;
  }
  function confirmReplace(question) {
    return code() === baseCode || window.confirm(question + "\n\nYour unsaved edits in the editor will be replaced.");
  }
  function setCode(value) { editor.setValue(value); keepDraft(); }

  let draftTimer = null;
  editor.onDidChangeModelContent(() => {
    showDirty();
    clearTimeout(draftTimer);
    draftTimer = setTimeout(keepDraft, 200);
  });
  window.addEventListener("pagehide", keepDraft);
  document.addEventListener("visibilitychange", () => { if (document.hidden) keepDraft(); });

  $("discard-draft").addEventListener("click", () => {
    const target = evaluator ? "v" + evaluator.latest_version : "the template";
    if (!window.confirm("Discard your unsaved edits and go back to " + target + "?")) return;
    setCode(baseCode);
    status("Edits discarded.");
  });

  // ---- the toolbar: open, templates, name, save ----------------------------------------
  const evaluatorSelect = $("evaluator-select");
  function fillEvaluators() {
    evaluatorSelect.replaceChildren(el("option", { value: "" }, "New evaluator"),
      ...boot.evaluators.map((e) => el("option", { value: String(e.id) }, e.name)));
    evaluatorSelect.value = evaluator ? String(evaluator.id) : "";
  }
  evaluatorSelect.addEventListener("change", () => {
    keepDraft(); // edits stay in this browser under the evaluator they belong to
    const id = evaluatorSelect.value;
    location.assign("/evaluations" + (id ? "?evaluator=" + id : ""));
  });

  const templateSelect = $("template-select");
  templateSelect.replaceChildren(el("option", { value: "" }, "Templates…"),
    ...boot.templates.map((t) => el("option", { value: t.slug, title: t.description }, t.name)));
  templateSelect.addEventListener("change", () => {
    const template = boot.templates.find((t) => t.slug === templateSelect.value);
    templateSelect.value = "";
    if (!template || !confirmReplace("Replace the code with the " + template.name + " template?")) return;
    setCode(template.code);
    status("Loaded the " + template.name + " template" + (evaluator ? ": Save makes it a new version." : "."));
  });

  // Declared requirements: one per line in the environment panel; sent with saves and runs.
  function requirements() {
    return $("requirements").value.split("\n").map((line) => line.trim()).filter(Boolean);
  }
  function showEnvironment(saved) {
    const env = saved && saved.environment;
    $("env-status").textContent = !saved || !saved.requirements.length ? ""
      : env ? "Environment " + env.status + (env.packages.length ? ": " + env.packages.join(", ") : "")
      : "";
    $("env-log").textContent = env ? env.log : "";
    $("env-log-box").hidden = !env || !env.log;
  }

  function showEvaluator() {
    $("evaluator-name").value = evaluator ? evaluator.name : "";
    $("requirements").value = evaluator ? (evaluator.requirements || []).join("\n") : "";
    showEnvironment(evaluator);
    $("evaluator-version").textContent = evaluator ? "ID " + evaluator.id + " · v" + evaluator.latest_version : "not saved";
    document.title = (evaluator ? evaluator.name : "Evaluations") + " · RFT Studio";
    fillEvaluators();
    versions.hint();
  }

  // After a save or a restore: the editor holds exactly the saved code.
  function adopt(saved) {
    const wasNew = !evaluator;
    if (wasNew) { try { localStorage.removeItem(draftKey()); } catch (err) { /* nothing kept */ } }
    evaluator = saved;
    baseCode = saved.code;
    if (code() !== saved.code) editor.setValue(saved.code);
    keepDraft();
    const known = boot.evaluators.find((e) => e.id === saved.id);
    if (known) Object.assign(known, { name: saved.name, latest_version: saved.latest_version });
    else boot.evaluators.push({ id: saved.id, name: saved.name, latest_version: saved.latest_version });
    history.replaceState(null, "", "/evaluations?evaluator=" + saved.id);
    showEvaluator();
    versions.load();
    if (wasNew) tests.load();
  }

  async function save() {
    const name = $("evaluator-name").value.trim();
    const note = $("save-note").value.trim();
    const current = code();
    let saved;
    try {
      if (!evaluator) {
        if (!name) { status("Name the evaluator to save it."); $("evaluator-name").focus(); return; }
        saved = await api("POST", "/api/v1/evaluators", { name: name, code: current, note: note, requirements: requirements() });
      } else {
        const body = {};
        if (name && name !== evaluator.name) body.name = name;
        if (current !== evaluator.code) Object.assign(body, { code: current, note: note });
        if (requirements().join("\n") !== (evaluator.requirements || []).join("\n")) {
          Object.assign(body, { requirements: requirements(), note: note });
        }
        if (!Object.keys(body).length) { status("Nothing to save: the editor holds v" + evaluator.latest_version + "."); return; }
        saved = await api("PUT", "/api/v1/evaluators/" + evaluator.id, body);
      }
    } catch (err) {
      status("Not saved: " + (err.describe ? err.describe() : err.message));
      if ((err.errors || []).some((e) => String(e.field || "").startsWith("requirements"))) {
        $("env-status").textContent = "Requirements not installed: see the message below.";
        $("env-log").textContent = err.errors.map((e) => e.message).join("\n");
        $("env-log-box").hidden = false;
        $("env-log-box").open = true;
      }
      for (const e of err.errors || []) if (e.line) marks.addError(e.line, e.message, true);
      return;
    }
    const changed = !evaluator || saved.latest_version !== evaluator.latest_version;
    $("save-note").value = "";
    adopt(saved);
    status(changed ? "Saved version " + saved.latest_version + "." : "Renamed.");
  }
  $("save-form").addEventListener("submit", (e) => { e.preventDefault(); save(); });

  // ---- panels and the runner -------------------------------------------------------------
  const scopeSelect = $("run-scope");
  let tests = null;
  let versions = null;
  const rows = RftIde.createRows({
    datasets: boot.datasets, status: status,
    typed: {
      get: (datasetId, row) => typedStore.get(datasetId + ":" + row),
      set: (datasetId, row, value) => {
        if (value === null) typedStore.delete(datasetId + ":" + row);
        else typedStore.set(datasetId + ":" + row, value);
      },
    },
    pin: (body) => tests.add(body),
    lastScore: (datasetId, row) => scores.get(datasetId + ":" + row),
    onSelect: (index) => {
      scopeSelect.options[0].textContent = index === null ? "Selected row" : "Selected row (" + index + ")";
      if (versions) versions.hint(); // the job hint names the chosen dataset
    },
    onPage: (shown) => {
      scopeSelect.options[1].textContent = shown.length ? "This page (" + shown[0] + "–" + shown[shown.length - 1] + ")" : "This page";
    },
  });
  // ---- completions: from the dataset, sampled from a model, or typed by hand --------------
  const typed = typedStore;
  const source = $("completion-source");
  const modelSelect = $("sample-model");
  (function fillModels() {
    const bases = el("optgroup", { label: "Base models" },
      ...boot.models.map((m) => el("option", { value: "model:" + m }, m)));
    const checkpoints = el("optgroup", { label: "Checkpoints" },
      ...boot.checkpoints.map((c) => el("option", { value: "checkpoint:" + c.id }, c.label)));
    modelSelect.replaceChildren(bases, checkpoints);
    if (!boot.models.length) bases.appendChild(el("option", { value: "", disabled: true }, "none yet: run `rft demo`"));
    if (!boot.checkpoints.length) checkpoints.appendChild(el("option", { value: "", disabled: true }, "none yet"));
    const preferred = boot.models.includes(boot.base_model) ? "model:" + boot.base_model : null;
    if (preferred) modelSelect.value = preferred;
  })();
  source.addEventListener("change", () => { $("sample-options").hidden = source.value !== "sample"; });
  $("sample-options").hidden = source.value !== "sample";

  // What a run adds to its request: the typed completions of its rows, and what to sample from.
  function extra(dataset, scopeBody) {
    const inScope = scopeBody.rows ? (i) => scopeBody.rows.includes(i) : (i) => i < scopeBody.limit;
    const completions = {};
    for (const [key, value] of typed) {
      const [ds, row] = key.split(":").map(Number);
      if (ds === dataset.id && inScope(row)) completions[row] = value;
    }
    const body = {};
    if (Object.keys(completions).length) body.completions = completions;
    if (source.value !== "sample") return { body: body, sample: null };
    const [kind, value] = modelSelect.value.split(/:(.*)/s);
    const sample = {
      n: Number($("sample-n").value), temperature: Number($("sample-temperature").value),
      max_tokens: Number($("sample-max-tokens").value), all_rows: true,
    };
    if (kind === "checkpoint") sample.checkpoint_id = Number(value);
    else sample.model = value || "";
    body.sample = sample;
    const label = modelSelect.selectedOptions.length ? modelSelect.selectedOptions[0].textContent : "the model";
    return { body: body, sample: sample, label: label };
  }

  const runner = RftIde.createRunner({
    code: code, requirements: requirements, dataset: rows.dataset, marks: marks, status: status, extra: extra,
    scope: () => {
      if (scopeSelect.value === "row") {
        const index = rows.selected();
        if (index === null) { status("Select a row first: its number in Rows."); return null; }
        return { body: { rows: [index] }, label: "row " + index };
      }
      if (scopeSelect.value === "page") {
        const shown = rows.pageIndices();
        if (!shown.length) { status("This page has no rows."); return null; }
        return { body: { rows: shown }, label: "rows " + shown[0] + "–" + shown[shown.length - 1] };
      }
      const n = Math.min(1000, Math.max(1, Math.floor(Number($("run-n").value) || 20)));
      $("run-n").value = String(n);
      return { body: { limit: n }, label: "first " + n + " rows" };
    },
    onResults: (results, ds) => {
      for (const r of results) if (r.is_score_valid) scores.set(ds.id + ":" + r.row_index, r.score);
    },
  });
  tests = RftIde.createTests({
    evaluator: () => evaluator, code: code, status: status, marks: marks,
    consoleLine: runner.consoleLine,
    datasetName: (id) => { const d = boot.datasets.find((x) => x.id === id); return d ? d.name : "dataset " + id; },
  });
  versions = RftIde.createVersions({
    evaluator: () => evaluator, code: code, status: status, dataset: rows.dataset,
    baseModel: boot.base_model, confirmReplace: confirmReplace, restored: adopt,
  });

  // ---- tabs (arrow keys move between them) -------------------------------------------------
  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
  function openTab(tab, focus) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
  }
  for (const tab of tabs) {
    tab.addEventListener("click", () => openTab(tab, false));
    tab.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      e.preventDefault();
      openTab(tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length], true);
    });
  }

  // ---- keyboard: captured before Monaco (its own Ctrl+Enter inserts a line) -------------
  window.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey || dialogOpen()) return;
    if (e.key === "Enter") { e.preventDefault(); e.stopPropagation(); runner.run(); }
    else if (e.key === "s" || e.key === "S") { e.preventDefault(); e.stopPropagation(); save(); }
  }, true);
  const dialogOpen = () => $("diff-dialog").open;

  // ---- start -------------------------------------------------------------------------------
  showEvaluator();
  const draft = readDraft();
  if (draft && typeof draft.code === "string" && draft.code !== baseCode) {
    editor.setValue(draft.code);
    const when = new Date(draft.saved_at).toLocaleString();
    const stale = evaluator && draft.version && draft.version < evaluator.latest_version
      ? " (made on v" + draft.version + "; v" + evaluator.latest_version + " is the latest)" : "";
    status("Restored your unsaved edits from " + when + stale + ". Discard goes back to the saved code.");
  }
  showDirty();
  versions.load();
  tests.load();

  // A cold sandboxed worker takes ~0.7 s to start: start this user's now, not on the first Run.
  const ide = $("ide");
  ide.dataset.warm = "pending";
  fetch("/evaluations/warm", { method: "POST", headers: RftIde.util.headers() })
    .then((r) => { ide.dataset.warm = r.ok ? "done" : "failed"; })
    .catch(() => { ide.dataset.warm = "failed"; });
})();
