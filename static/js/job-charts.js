// Training-curve charts (uPlot) shared by the job page and the compare page: aligned columns,
// smoothing, ±std bands, log scales, event markers and one synced cursor across charts.
window.JobCharts = (function () {
  const COLORS = ["#3b5bdb", "#2b8a3e", "#e8590c", "#ae3ec9", "#0c8599", "#c92a2a", "#5c940d", "#862e9c"];
  const MARKER_COLORS = { checkpoint: "rgba(43,138,62,0.55)", evaluators: "rgba(232,89,12,0.8)", resumed: "rgba(201,42,42,0.8)" };

  // Exponential moving average with TensorBoard's debiasing; gaps stay gaps.
  function smooth(values, weight) {
    if (!weight) return values;
    let last = 0, count = 0;
    return values.map((v) => {
      if (v == null) return null;
      last = last * weight + (1 - weight) * v; count += 1;
      return last / (1 - Math.pow(weight, count));
    });
  }

  // Several {steps, values} columns on one x axis (the union of their steps).
  function align(columns) {
    const stepSet = new Set();
    columns.forEach((c) => c.steps.forEach((s) => stepSet.add(s)));
    const xs = Array.from(stepSet).sort((a, b) => a - b);
    const index = new Map(xs.map((s, i) => [s, i]));
    const out = [xs];
    columns.forEach((c) => {
      const ys = new Array(xs.length).fill(null);
      c.steps.forEach((s, i) => { ys[index.get(s)] = c.values[i]; });
      out.push(ys);
    });
    return out;
  }

  function markerPlugin(getMarkers) {
    return {
      hooks: {
        draw: (u) => {
          const ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
          ctx.save();
          ctx.lineWidth = 1.5 * devicePixelRatio;
          getMarkers().forEach((m) => {
            const x = u.valToPos(m.step, "x", true);
            if (!isFinite(x) || x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.strokeStyle = MARKER_COLORS[m.kind] || "#888";
            ctx.setLineDash(m.kind === "checkpoint" ? [3, 4] : []);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
          });
          ctx.restore();
        },
      },
    };
  }

  // Off the chart, the legend shows the newest values instead of dashes.
  function latestInLegend() {
    const last = (u) => {
      if (u.cursor.idx != null || !u.data[0].length) return;
      u.setLegend({ idx: u.data[0].length - 1 }, false);
    };
    return { hooks: { ready: last, setData: last, setCursor: last } };
  }

  // A chart that can be redrawn with new data and rebuilt (log scale on/off).
  // spec: {title, series: [{label, color, scale, band, dash, points}], scales: {y: {log}, y2: {...}}}
  function Chart(container, spec, opts) {
    this.container = container; this.spec = spec; this.opts = opts || {};
    this.log = false; this.plot = null;
  }
  Chart.prototype.options = function () {
    const spec = this.spec, log = this.log;
    const series = [{ label: "step" }];
    spec.series.forEach((s, i) => {
      series.push({
        label: s.label, stroke: s.color || COLORS[i % COLORS.length], width: s.width || 1.5,
        scale: s.scale || "y", dash: s.dash, spanGaps: true,
        points: { show: !!s.points, size: 5 },
        fill: s.fill, show: s.show !== false,
        value: (u, v) => (v == null ? "—" : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(4)),
      });
    });
    const scales = { x: { time: false }, y: log && spec.logScale ? { distr: 3 } : {} };
    const axes = [{ label: "step" }, { scale: "y", size: 60 }];
    if (spec.series.some((s) => s.scale === "y2")) {
      scales.y2 = spec.y2Range ? { range: spec.y2Range } : {};
      axes.push({ scale: "y2", side: 1, grid: { show: false }, size: 50, stroke: "#868e96" });
    }
    return {
      width: Math.max(320, this.container.clientWidth - 8), height: this.opts.height || 220,
      scales, axes, series,
      bands: spec.bands || [],
      cursor: { sync: { key: this.opts.syncKey || "job", setSeries: false }, drag: { x: true, y: false } },
      legend: { live: true },
      plugins: [markerPlugin(this.opts.markers || (() => [])), latestInLegend()],
    };
  };
  Chart.prototype.setData = function (data) {
    let shown = data;
    if (this.log && this.spec.logScale) {
      shown = data.map((col, i) => (i === 0 ? col : col.map((v) => (v != null && v > 0 ? v : null))));
    }
    if (!this.plot) {
      this.plot = new uPlot(this.options(), shown, this.container);
    } else {
      this.plot.setData(shown);
    }
    this.data = data;
  };
  Chart.prototype.setLog = function (on) {
    this.log = on;
    if (this.plot) { this.plot.destroy(); this.plot = null; }
    if (this.data) this.setData(this.data);
  };
  Chart.prototype.resize = function () {
    if (this.plot) this.plot.setSize({ width: Math.max(320, this.container.clientWidth - 8), height: this.opts.height || 220 });
  };

  // A titled card for one chart, with a log-scale switch where the chart has one.
  function panel(parent, spec, opts) {
    const box = document.createElement("div");
    box.className = "chart-panel";
    box.dataset.chart = spec.id;
    box.dataset.testid = "chart";
    const head = document.createElement("div");
    head.className = "chart-head";
    const title = document.createElement("h3");
    title.textContent = spec.title;
    head.appendChild(title);
    const plotBox = document.createElement("div");
    const chart = new Chart(plotBox, spec, opts);
    if (spec.logScale) {
      const label = document.createElement("label");
      label.className = "check";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.addEventListener("change", () => chart.setLog(input.checked));
      label.appendChild(input); label.appendChild(document.createTextNode(" log scale"));
      head.appendChild(label);
    }
    const empty = document.createElement("p");
    empty.className = "muted chart-empty"; empty.hidden = true;
    empty.textContent = spec.empty || "Not recorded for this job.";
    box.appendChild(head); box.appendChild(plotBox); box.appendChild(empty);
    parent.appendChild(box);
    chart.box = box; chart.empty = empty;
    return chart;
  }

  return { smooth, align, Chart, panel, COLORS };
})();
