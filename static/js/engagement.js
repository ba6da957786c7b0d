// Behaviour of the engagement pages, in a file of its own rather than inline: the
// Content-Security-Policy runs only our own script files.
(function () {
  "use strict";

  // Draw every figure embedded by engagement.charts.figure_html: an empty div naming the
  // <script type="application/json"> that holds its data, layout and config.
  function drawFigures(root) {
    if (typeof Plotly === "undefined") return;
    root.querySelectorAll("[data-plotly-figure]").forEach(function (div) {
      var data = document.getElementById(div.dataset.plotlyFigure);
      if (!data || div.classList.contains("js-plotly-plot")) return;
      var figure = JSON.parse(data.textContent);
      Plotly.newPlot(div, figure.data, figure.layout, figure.config);
    });
  }

  // The at-risk filter's threshold slider shows its value while it moves.
  document.addEventListener("input", function (event) {
    if (event.target.id !== "id_threshold") return;
    var shown = document.getElementById("threshold-value");
    if (shown) shown.value = event.target.value;
  });

  // The course filter swaps the charts in with the list (out of band): draw the new ones.
  document.addEventListener("htmx:afterSettle", function () { drawFigures(document); });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawFigures(document); });
  } else {
    drawFigures(document);
  }
})();
