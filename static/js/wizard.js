// The fine-tune wizard: one step shown at a time (the step is in the URL hash), the form kept
// in localStorage so a reload loses nothing; every check is the server's (htmx).
(function () {
  "use strict";
  const form = document.getElementById("wizard-form");
  if (!form) return;
  const KEY = "rft-wizard";
  const steps = Array.from(form.querySelectorAll(".wizard-step"));
  const navButtons = Array.from(document.querySelectorAll("[data-goto]"));

  function values() {
    const out = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === "checkbox") {
        if (!out[el.name]) out[el.name] = [];
        if (el.checked) out[el.name].push(el.value);
      } else if (el.type === "radio") {
        if (el.checked) out[el.name] = el.value;
      } else {
        out[el.name] = el.value;
      }
    }
    return out;
  }

  function apply(saved) {
    for (const el of form.elements) {
      if (!el.name || !(el.name in saved)) continue;
      const value = saved[el.name];
      if (el.type === "checkbox") el.checked = [].concat(value).map(String).includes(el.value);
      else if (el.type === "radio") el.checked = String(value) === el.value;
      else if (value !== null && value !== undefined) el.value = String(value);
    }
  }

  function current() {
    const match = /^#step-(\d)$/.exec(location.hash);
    return match ? Math.min(Math.max(Number(match[1]), 1), steps.length) : 1;
  }

  function show(step) {
    steps.forEach((section, i) => { section.hidden = i + 1 !== step; });
    navButtons.forEach((b) => b.setAttribute("aria-selected", String(Number(b.dataset.goto) === step)));
    form.querySelector('[data-move="-1"]').hidden = step === 1;
    form.querySelector('[data-move="1"]').hidden = step === steps.length;
    if (step === steps.length && window.htmx) htmx.trigger("#review", "wizard-review");
  }

  function go(step) {
    history.replaceState(null, "", "#step-" + step);
    show(step);
  }

  const prefill = JSON.parse(form.dataset.prefill || "{}");
  if (form.dataset.copy === "1") {
    apply(prefill);
  } else {
    try { apply(JSON.parse(localStorage.getItem(KEY) || "{}")); } catch (e) { /* a bad copy: start afresh */ }
  }
  form.addEventListener("input", () => localStorage.setItem(KEY, JSON.stringify(values())));
  form.addEventListener("change", () => localStorage.setItem(KEY, JSON.stringify(values())));
  localStorage.setItem(KEY, JSON.stringify(values()));

  navButtons.forEach((b) => b.addEventListener("click", () => go(Number(b.dataset.goto))));
  form.querySelectorAll("[data-move]").forEach((b) =>
    b.addEventListener("click", () => go(current() + Number(b.dataset.move))));
  document.body.addEventListener("htmx:afterRequest", (event) => {
    const source = event.detail.elt;
    if (source && source.id === "launch" && event.detail.successful) localStorage.removeItem(KEY);
  });
  window.addEventListener("hashchange", () => show(current()));
  document.addEventListener("DOMContentLoaded", () => show(current()));
  show(current());
})();
