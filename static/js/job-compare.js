// Compare runs: one chart per metric, every run's curve on the same axes.
(function () {
  const data = JSON.parse(document.getElementById("compare-data").textContent);
  if (!data) return;
  const box = document.getElementById("charts");
  const slider = document.getElementById("smoothing");
  const TITLES = { reward: "Reward", "eval/reward": "Validation reward", kl: "KL", loss: "Loss", entropy: "Entropy",
    "completions/mean_length": "Completion length (mean)", frac_reward_zero_std: "Groups with zero reward spread" };
  const charts = data.metrics.map((metric) => {
    const part = metric.startsWith("eval/") ? "eval" : "train";
    const series = data.runs.map((run, i) => ({ label: `#${run.id} ${run.name}`, color: JobCharts.COLORS[i % 8], points: part === "eval",
      get: (w) => ({ steps: run[part].steps, values: part === "eval" ? (run[part].series[metric] || []) : JobCharts.smooth(run[part].series[metric] || [], w) }) }));
    const chart = JobCharts.panel(box, { id: metric, title: TITLES[metric] || metric, series, logScale: metric === "kl" }, { syncKey: "compare", height: 220 });
    chart.specSeries = series;
    return chart;
  });
  function draw() {
    const w = parseFloat(slider.value);
    charts.forEach((chart) => {
      const cols = JobCharts.align(chart.specSeries.map((s) => s.get(w)));
      const points = cols.slice(1).reduce((n, ys) => n + ys.filter((v) => v != null).length, 0);
      chart.box.dataset.points = points;
      chart.empty.hidden = points > 0;
      chart.setData(cols);
    });
  }
  slider.addEventListener("input", draw);
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  draw();
})();
