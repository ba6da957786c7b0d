// Behaviour of the campaign pages (templates/campaigns/), in a file of its own rather than
// inline: the Content-Security-Policy runs only our own script files. The builder works
// without it (every part is shown); with it, only the parts of the chosen options show.
(function () {
  "use strict";

  function checked(form, name) {
    var input = form.querySelector('input[name="' + name + '"]:checked');
    return input ? input.value : "";
  }

  function showOnly(form, attribute, value) {
    form.querySelectorAll("[" + attribute + "]").forEach(function (el) {
      var wanted = el.getAttribute(attribute).split(" ");
      el.hidden = wanted.indexOf(value) === -1;
    });
  }

  function sync(form) {
    showOnly(form, "data-audience", checked(form, "audience_mode") || "segment");
    showOnly(form, "data-kind", checked(form, "schedule_type") || "one_time");
    var frequency = form.querySelector('[name="frequency"]');
    showOnly(form, "data-frequency", frequency ? frequency.value : "");
    showOnly(form, "data-ends", checked(form, "ends") || "never");
    var steps = form.querySelectorAll("#steps [data-step-number]");
    steps.forEach(function (el, i) { el.textContent = String(i + 1); });
  }

  function refresh(id) {
    var el = document.getElementById(id);
    if (el && window.htmx) window.htmx.trigger(el, "refresh");
  }

  function addStep(form) {
    var template = document.getElementById("step-template");
    var steps = document.getElementById("steps");
    var total = form.querySelector('[name="' + steps.dataset.prefix + '-TOTAL_FORMS"]');
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    steps.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    sync(form);
    var added = steps.lastElementChild.querySelector("select");
    if (added) added.focus();
  }

  function builder(form) {
    sync(form);
    form.addEventListener("change", function (event) {
      sync(form);
      // A drip previews (and tests) its first step's template, the others the campaign's.
      if (event.target.name === "schedule_type") refresh("template-preview");
    });
    form.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-remove-condition]");
      if (remove) {
        var row = remove.closest("[data-condition]");
        var next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        var focus = next ? next.querySelector("select") : document.getElementById("add-condition");
        if (focus) focus.focus();
        refresh("audience-preview");
        return;
      }
      if (event.target.id === "add-step") addStep(form);
    });
    // A condition row added or redrawn for a new field or operator: count again with it.
    // (htmx fires afterSwap on the new row, which bubbles; detail.target is the old one.)
    document.body.addEventListener("htmx:afterSwap", function (event) {
      var target = event.detail.target;
      if (target.id === "conditions" || (target.matches && target.matches("[data-condition]"))) {
        refresh("audience-preview");
      }
      if (target.id === "conditions") {
        var rows = target.querySelectorAll("[data-condition]");
        var select = rows.length ? rows[rows.length - 1].querySelector("select") : null;
        if (select) select.focus();
      }
    });
  }

  // The campaign page's chart: sent, opened, clicked and converted per day.
  function timeline() {
    var data = document.getElementById("timeline-data");
    var chart = document.getElementById("timeline-chart");
    if (!data || !chart || typeof Plotly === "undefined") return;
    var rows = JSON.parse(data.textContent);
    // Days on a category axis, labelled "30 Nov": bars keep a sensible width whether one
    // day or ninety had sends (a date axis draws a lone day's bars a millisecond wide).
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    var days = rows.map(function (r) {
      var parts = r.day.split("-");
      return parseInt(parts[2], 10) + " " + months[parseInt(parts[1], 10) - 1] + " " + parts[0];
    });
    var series = [
      ["sent", "Sent", "#2f6fde"],
      ["opened", "Opened", "#2e9e6a"],
      ["clicked", "Clicked", "#e0a526"],
      ["converted", "Converted", "#c0392b"],
    ];
    // Grouped bars: a single day reads as well as ninety, and equal counts never hide
    // each other the way overlapping points do.
    var traces = series.map(function (s) {
      return {
        type: "bar",
        name: s[1],
        x: days,
        y: rows.map(function (r) { return r[s[0]]; }),
        marker: { color: s[2] },
        hovertemplate: "%{y} " + s[1].toLowerCase() + "<extra>%{x}</extra>",
      };
    });
    var top = Math.max.apply(null, rows.map(function (r) { return r.sent; }).concat([1]));
    var grid = { gridcolor: "#e6eaf0", zerolinecolor: "#c9d1db" };
    Plotly.newPlot(chart, traces, {
      height: 300,
      barmode: "group",
      bargap: 0.25,
      margin: { l: 48, r: 16, t: 16, b: 40 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: 'system-ui, -apple-system, "Segoe UI", sans-serif', size: 13, color: "#1d2733" },
      xaxis: Object.assign({ type: "category", automargin: true }, grid),
      // Whole messages only: no 0.2 ticks when few were sent.
      yaxis: Object.assign({ rangemode: "tozero", tickformat: ",d", dtick: top < 6 ? 1 : null,
                             title: { text: "Messages" } }, grid),
      legend: { orientation: "h", y: -0.2 },
    }, { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] });
  }

  function start() {
    var form = document.getElementById("campaign-form");
    if (form) builder(form);
    timeline();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
