// Charts of the experiment page (templates/experiments/detail.html), in a file of its own
// rather than inline: the Content-Security-Policy runs only our own script files. The data
// comes from json_script elements the view fills.
(function () {
  "use strict";

  var COLORS = ["#2f6fde", "#e0692b", "#2e9e6a", "#8e44ad", "#c0392b", "#16a2b8"];
  var FONT = { family: 'system-ui, -apple-system, "Segoe UI", sans-serif', size: 13, color: "#1d2733" };
  var GRID = { gridcolor: "#e6eaf0", zerolinecolor: "#1d2733", zerolinewidth: 1.5 };
  var CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  function read(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function pct(v) { return v === null ? null : v * 100; }

  // Each treatment's uplift: the point, the fixed-horizon interval (thick) and the sequential
  // interval (thin), against a zero line.
  function uplift() {
    var data = read("uplift-data");
    var chart = document.getElementById("uplift-chart");
    if (!data || !chart || typeof Plotly === "undefined") return;
    var keys = data.rows.map(function (r) { return r.key; });
    function trace(name, field, width, color, size) {
      return {
        type: "scatter",
        mode: "markers",
        name: name,
        y: keys,
        x: data.rows.map(function (r) { return pct(r.uplift); }),
        error_x: {
          type: "data",
          symmetric: false,
          array: data.rows.map(function (r) { return pct(r[field][1] - r.uplift); }),
          arrayminus: data.rows.map(function (r) { return pct(r.uplift - r[field][0]); }),
          thickness: width,
          width: 6,
          color: color,
        },
        marker: { size: size, color: color },
        hovertemplate: "%{y}: %{x:+.1f}%<extra>" + name + "</extra>",
      };
    }
    var traces = [
      trace("Sequential interval", "sequential_ci", 1.5, "#9aa7b8", 1),
      trace("95% interval", "ci", 4, COLORS[0], 12),
    ];
    var height = 90 + 60 * keys.length;
    Plotly.newPlot(chart, traces, {
      height: height,
      margin: { l: 16, r: 16, t: 36, b: 48 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: FONT,
      xaxis: Object.assign({ ticksuffix: "%", zeroline: true, automargin: true,
                             title: { text: "Uplift vs control" } }, GRID),
      yaxis: Object.assign({ type: "category", automargin: true, autorange: "reversed" }, GRID),
      legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom" },
      showlegend: true,
    }, CONFIG);
  }

  // The always-valid interval day by day: a band per treatment around its uplift line.
  function sequential() {
    var data = read("sequential-data");
    var chart = document.getElementById("sequential-chart");
    if (!data || !chart || typeof Plotly === "undefined") return;
    var traces = [];
    data.series.forEach(function (s, i) {
      var color = COLORS[(i + 1) % COLORS.length];
      var many = data.series.length > 1;
      var label = many ? s.key + " " : "";
      traces.push({
        type: "scatter", mode: "lines", x: data.days, y: s.high.map(pct), line: { width: 0 },
        hoverinfo: "skip", showlegend: false, connectgaps: false,
      });
      traces.push({
        type: "scatter", mode: "lines", x: data.days, y: s.low.map(pct), line: { width: 0 },
        fill: "tonexty", fillcolor: hexToRgba(color, 0.18), name: label + "interval",
        hoverinfo: "skip", connectgaps: false,
      });
      traces.push({
        type: "scatter", mode: "lines+markers", x: data.days, y: s.uplift.map(pct),
        line: { color: color, width: 2 }, marker: { size: 5, color: color },
        name: label + "uplift", customdata: s.users.map(function (u, j) {
          return [u, pct(s.low[j]), pct(s.high[j])];
        }),
        hovertemplate: "%{y:+.1f}% (%{customdata[1]:+.1f}% to %{customdata[2]:+.1f}%)<br>%{customdata[0]} learners<extra>%{x}</extra>",
      });
    });
    // The first looks rest on few learners and their bands are huge: frame the chart on the
    // latest intervals (a little beyond their reach) and let the early bands run off it.
    var reach = 0;
    data.series.forEach(function (s) {
      [s.low, s.high, s.uplift].forEach(function (values) {
        var last = values.filter(function (v) { return v !== null; }).pop();
        if (last !== undefined) reach = Math.max(reach, Math.abs(pct(last)));
      });
    });
    var limit = Math.max(5, reach * 1.6);
    Plotly.newPlot(chart, traces, {
      height: 300,
      margin: { l: 56, r: 16, t: 8, b: 40 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: FONT,
      xaxis: Object.assign({ type: "date", tickformat: "%-d %b", automargin: true }, GRID),
      yaxis: Object.assign({ ticksuffix: "%", zeroline: true, automargin: true, range: [-limit, limit],
                             title: { text: "Uplift" } }, GRID),
      legend: { orientation: "h", y: -0.2 },
    }, CONFIG);
  }

  function hexToRgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function start() {
    uplift();
    sequential();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
