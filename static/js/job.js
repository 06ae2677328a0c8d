// The job page: the charts start from the stored metrics embedded in the page, then one
// EventSource (from the page's newest event on: no replay) appends what the worker records.
(function () {
  const root = document.getElementById("job");
  if (!root) return;
  const jobId = root.dataset.jobId;
  const $ = (id) => document.getElementById(id);
  const initial = JSON.parse($("job-chart-data").textContent);
  const TERMINAL = ["completed", "failed", "cancelled"];
  const store = { train: initial.train, eval: initial.eval };
  const markers = initial.markers;
  const evaluators = initial.evaluators;
  let smoothing = parseFloat($("smoothing").value);

  // One series read from the store: a metric key of "train" (smoothed) or "eval" (raw points).
  const col = (part, key, fn) => () => {
    const p = store[part], values = p.series[key] || [];
    const shown = part === "train" ? JobCharts.smooth(values, smoothing) : values;
    return { steps: p.steps, values: fn ? fn(shown, p) : shown };
  };
  const stdBand = (sign) => (mean, p) => {
    const std = JobCharts.smooth(p.series.reward_std || [], smoothing);
    return mean.map((m, i) => (m == null || std[i] == null ? null : m + sign * std[i]));
  };
  const evalKeys = () => Object.keys(store.eval.series).filter((k) => k !== "eval/reward" && k !== "eval/invalid_frac" && !k.endsWith("invalid_frac"));
  const timeKeys = () => Object.keys(store.train.series).filter((k) => k === "step_time" || /(^|\/)time(\/|_|$)|_time$/.test(k));

  function specs() {
    const perEvaluator = (suffix) => evaluators.map((name, i) => ({ label: name, color: JobCharts.COLORS[(i + 1) % 8], get: col("train", `rewards/${name}/${suffix}`) }));
    return [
      { id: "reward", title: "Reward (mean ± std) and validation reward", bands: [{ series: [2, 3], fill: "rgba(59,91,219,0.12)" }],
        series: [{ label: "reward", get: col("train", "reward"), width: 2 },
                 { label: "+std", color: "rgba(59,91,219,0.3)", width: 1, get: col("train", "reward", stdBand(1)) },
                 { label: "−std", color: "rgba(59,91,219,0.3)", width: 1, get: col("train", "reward", stdBand(-1)) },
                 { label: "validation", color: "#2b8a3e", width: 2, points: true, get: col("eval", "eval/reward") }] },
      { id: "evaluator-reward", title: "Reward per evaluator (mean)", series: perEvaluator("mean") },
      { id: "evaluator-invalid", title: "Invalid fraction per evaluator", y2Range: [0, 1],
        series: perEvaluator("invalid_frac").concat([{ label: "validation", color: "#2b8a3e", points: true, get: col("eval", "eval/invalid_frac") }]) },
      { id: "validation", title: "Validation reward", series: [{ label: "total", color: "#2b8a3e", width: 2, points: true, get: col("eval", "eval/reward") }]
          .concat(evalKeys().map((k, i) => ({ label: k.replace(/^eval\//, ""), color: JobCharts.COLORS[(i + 2) % 8], points: true, get: col("eval", k) }))) },
      { id: "kl-loss", title: "KL and loss", logScale: true,
        series: [{ label: "KL", get: col("train", "kl") }, { label: "loss", color: "#e8590c", get: col("train", "loss") }] },
      { id: "entropy", title: "Entropy", series: [{ label: "entropy", color: "#ae3ec9", get: col("train", "entropy") }] },
      { id: "length", title: "Completion length (tokens) and clipped fraction", y2Range: [0, 1],
        series: [{ label: "mean", width: 2, get: col("train", "completions/mean_length") },
                 { label: "min", color: "#adb5bd", dash: [4, 3], get: col("train", "completions/min_length") },
                 { label: "max", color: "#868e96", dash: [4, 3], get: col("train", "completions/max_length") },
                 { label: "clipped fraction", color: "#c92a2a", scale: "y2", get: col("train", "completions/clipped_ratio") }] },
      { id: "zero-spread", title: "Groups with zero reward spread (no learning signal)",
        series: [{ label: "fraction", color: "#0c8599", get: col("train", "frac_reward_zero_std") }] },
      { id: "lr-grad", title: "Learning rate and gradient norm", logScale: true,
        series: [{ label: "grad norm", get: col("train", "grad_norm") },
                 { label: "learning rate", color: "#5c940d", scale: "y2", get: col("train", "learning_rate") }] },
      { id: "step-time", title: "Step time (seconds)",
        series: timeKeys().map((k, i) => ({ label: k, color: JobCharts.COLORS[i % 8], get: col("train", k) })) },
    ];
  }

  const chartsBox = $("charts");
  let charts = [];
  let chartKeys = "";
  function build() {
    chartsBox.innerHTML = "";
    charts = specs().map((spec) => {
      const chart = JobCharts.panel(chartsBox, spec, { markers: () => markers, height: 200 });
      chart.specSeries = spec.series;
      return chart;
    });
    chartKeys = JSON.stringify([evalKeys(), timeKeys()]);
  }
  function draw() {
    if (JSON.stringify([evalKeys(), timeKeys()]) !== chartKeys) build();
    charts.forEach((chart) => {
      const data = JobCharts.align(chart.specSeries.map((s) => s.get()));
      const points = data.slice(1).reduce((n, ys) => n + ys.filter((v) => v != null).length, 0);
      chart.box.dataset.points = points;
      chart.empty.hidden = points > 0;
      chart.setData(data);
    });
    $("chart-note").hidden = store.train.steps.length + store.eval.steps.length > 0;
  }
  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  }

  // A metric row for `step`; a resumed attempt re-runs steps, so later ones are dropped first.
  function addRow(part, step, values) {
    const p = store[part];
    let keep = p.steps.length;
    while (keep > 0 && p.steps[keep - 1] >= step) keep -= 1;
    if (keep < p.steps.length) {
      p.steps.length = keep;
      Object.values(p.series).forEach((ys) => { ys.length = keep; });
    }
    p.steps.push(step);
    Object.keys(p.series).forEach((k) => p.series[k].push(k in values ? values[k] : null));
    Object.keys(values).forEach((k) => {
      if (!(k in p.series)) { p.series[k] = new Array(p.steps.length - 1).fill(null); p.series[k].push(values[k]); }
    });
  }

  // Header: elapsed ticks while running; the ETA follows the measured pace.
  const loadedAt = Date.now();
  const baseElapsed = parseFloat(root.dataset.elapsed || "0");
  let step = parseInt(root.dataset.step, 10) || 0;
  let total = parseInt(root.dataset.total, 10) || null;
  function duration(s) {
    s = Math.max(0, Math.round(s));
    if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${s} s`;
  }
  const running = () => root.dataset.status === "running";
  function tick() {
    if (!running() || !root.dataset.started) return;
    const elapsed = baseElapsed + (Date.now() - loadedAt) / 1000;
    $("job-elapsed").textContent = duration(elapsed);
    if (total && step > 0 && step < total) $("job-eta").textContent = "about " + duration(elapsed / step * (total - step));
  }
  setInterval(tick, 1000);

  function setStatus(status, error) {
    $("job-status").textContent = status;
    $("job-status").className = "badge " + status;
    root.dataset.status = status;
    if (status === "running" && !root.dataset.started) root.dataset.started = new Date().toISOString();
    if (error) { $("job-error").textContent = error; $("job-error").hidden = false; }
    if (TERMINAL.includes(status)) {
      if ($("job-cancel")) $("job-cancel").remove();
      $("job-eta").textContent = "—";
      htmx.ajax("GET", `/fine-tuning/${jobId}/summary`, { target: "#job-summary", swap: "outerHTML" });
      htmx.trigger(document.body, "checkpoint-saved");
    }
  }
  function onMetrics(m) {
    addRow(m.kind === "eval" ? "eval" : "train", m.step, m.values);
    if (m.kind === "train" && m.values.reward != null) $("job-reward").textContent = m.values.reward.toFixed(3);
    if (m.kind === "eval") {
      const ys = store.eval.series["eval/reward"] || [];
      let best = -1;
      ys.forEach((v, i) => { if (v != null && (best < 0 || v >= ys[best])) best = i; });
      if (best >= 0) $("job-best").innerHTML = `${ys[best].toFixed(3)} <span class="muted">at step ${store.eval.steps[best]}</span>`;
    }
    schedule();
  }
  function onProgress(p) {
    step = p.step; total = p.total_steps || total;
    $("job-progress").max = total || 1;
    $("job-progress").value = step;
    $("job-step").textContent = `${step}/${total || "?"}`;
    const atEnd = slider.value === slider.max;
    slider.max = step;
    if (atEnd) { slider.value = step; $("step-value").textContent = step; }
  }
  function onCheckpoint(c) {
    markers.push({ step: c.step, kind: "checkpoint", label: "checkpoint" });
    htmx.trigger(document.body, "checkpoint-saved");
    schedule();
  }

  // Completions: moving the step slider leaves "all steps" (the server finds the nearest
  // step that has samples).
  const slider = $("step-slider");
  slider.addEventListener("input", () => { $("any-step").checked = false; $("step-value").textContent = slider.value; });

  $("smoothing").addEventListener("input", (e) => {
    smoothing = parseFloat(e.target.value);
    $("smoothing-value").textContent = smoothing.toFixed(2);
    schedule();
  });
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  build();
  draw();
  performance.mark("job-charts-drawn");
  // For tests and bench/job_page.py: the state, and one live metrics update applied now.
  window.jobPage = { store, charts: () => charts, update: (m) => { onMetrics(m); draw(); } };

  if (TERMINAL.includes(root.dataset.status)) return; // finished: the page is the whole story
  const source = new EventSource(`/api/v1/jobs/${jobId}/events?after=${root.dataset.after}`);
  const on = (type, handler) => source.addEventListener(type, (e) => handler(JSON.parse(e.data)));
  // New samples reload the completions list (at most every 3 s) while "Follow new" is on and
  // the reader is on its first page.
  let completionsDue = false;
  on("completion", () => { completionsDue = true; });
  setInterval(() => {
    const follow = $("follow-completions");
    const results = $("completions-results");
    if (!completionsDue || !follow || !follow.checked || !results) return;
    if (results.dataset.page && results.dataset.page !== "0") return;
    completionsDue = false;
    htmx.trigger("#completion-filters", "submit");
  }, 3000);
  on("metrics", onMetrics);
  on("progress", onProgress);
  on("checkpoint", onCheckpoint);
  on("evaluators_applied", (e) => { markers.push({ step: e.step, kind: "evaluators", label: "evaluators changed" }); schedule(); });
  on("resumed", (e) => { markers.push({ step: e.step, kind: "resumed", label: "resumed" }); schedule(); });
  on("status", (s) => setStatus(s.status, s.error));
  on("end", () => source.close());
})();
