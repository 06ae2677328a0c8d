// The live job view: one EventSource feeds the progress, the reward chart, completions, logs
// and checkpoints; it closes when the job ends (the server sends "end").
(function () {
  const root = document.getElementById("job");
  if (!root) return;
  const jobId = root.dataset.jobId;
  const $ = (id) => document.getElementById(id);
  const steps = [], rewards = [], evals = [];
  const started = Date.now();
  let firstStep = null;

  const chart = new uPlot({
    width: Math.min(1100, $("reward-chart").clientWidth || 900), height: 260,
    scales: { x: { time: false }, y: { range: [0, 1] } },
    series: [{ label: "step" },
             { label: "reward", stroke: "#3b5bdb", width: 1.5 },
             { label: "validation reward", stroke: "#2b8a3e", width: 2, points: { show: true }, spanGaps: true }],
  }, [steps, rewards, evals], $("reward-chart"));

  const text = (value) => document.createTextNode(value == null ? "—" : String(value));
  function cell(row, value) { const td = document.createElement("td"); td.appendChild(text(value)); row.appendChild(td); }
  function prepend(list, node, keep) {
    list.insertBefore(node, list.firstChild);
    while (list.children.length > keep) list.removeChild(list.lastChild);
  }
  function setStatus(status, error) {
    $("job-status").textContent = status;
    $("job-status").className = "badge " + status;
    root.dataset.status = status;
    if (error) { $("job-error").textContent = error; $("job-error").hidden = false; }
    if (["completed", "failed", "cancelled"].includes(status) && $("job-cancel")) $("job-cancel").remove();
  }
  function onMetrics(m) {
    let i = steps.indexOf(m.step);
    if (i < 0) { steps.push(m.step); rewards.push(null); evals.push(null); i = steps.length - 1; }
    if (m.kind === "train" && "reward" in m.values) {
      rewards[i] = m.values.reward;
      $("job-reward").textContent = "reward " + m.values.reward.toFixed(3);
    }
    if (m.kind === "eval" && "eval/reward" in m.values) evals[i] = m.values["eval/reward"];
    chart.setData([steps, rewards, evals]);
  }
  function onProgress(p) {
    $("job-progress").max = p.total_steps || 1;
    $("job-progress").value = p.step;
    $("job-step").textContent = `step ${p.step}/${p.total_steps || "?"}`;
    if (firstStep === null) firstStep = { step: p.step, at: Date.now() };
    const done = p.step - firstStep.step;
    if (done > 0 && p.total_steps) {
      const left = (Date.now() - firstStep.at) / done * (p.total_steps - p.step) / 1000;
      $("job-eta").textContent = `about ${Math.round(left)} s left`;
    }
  }
  function onCompletion(c) {
    const row = document.createElement("tr");
    cell(row, c.step); cell(row, c.prompt); cell(row, c.completion);
    cell(row, c.reward == null ? "invalid" : c.reward.toFixed(2));
    prepend($("completions"), row, 24);
  }
  function onLog(l) {
    const item = document.createElement("li");
    item.className = "log " + l.level;
    item.appendChild(text(`step ${l.step} · ${l.source}: ${l.message}`));
    prepend($("logs"), item, 60);
  }
  function onCheckpoint(c) {
    const item = document.createElement("li");
    item.appendChild(text(`step ${c.step}` + (c.eval_reward == null ? "" : ` · validation reward ${c.eval_reward.toFixed(3)}`) + (c.is_best ? " · best" : "")));
    $("checkpoints").appendChild(item);
  }

  const source = new EventSource(`/api/v1/jobs/${jobId}/events`);
  const on = (type, handler) => source.addEventListener(type, (e) => handler(JSON.parse(e.data)));
  on("metrics", onMetrics);
  on("progress", onProgress);
  on("completion", onCompletion);
  on("log", onLog);
  on("checkpoint", onCheckpoint);
  on("status", (s) => setStatus(s.status, s.error));
  on("end", () => { source.close(); $("job-eta").textContent = ""; });
  window.addEventListener("resize", () => chart.setSize({ width: Math.min(1100, $("reward-chart").clientWidth), height: 260 }));
})();
