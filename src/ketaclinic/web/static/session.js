// The session page: keeps its due times counting, shows only the chosen mood questionnaire, and
// draws the predicted concentration above the vitals on one clock axis.
(function () {
  var root = document.querySelector(".chairside");
  if (root) {
    var offset = ChairsideTime.offsetFrom(root);
    setInterval(function () { ChairsideTime.tick(root, offset); }, 10000);
  }

  document.querySelectorAll("[data-mood]").forEach(function (box) {
    function show() {
      var chosen = box.querySelector("input[name=mood_instrument]:checked");
      box.querySelectorAll(".mood-items").forEach(function (items) {
        var on = chosen && items.getAttribute("data-instrument") === chosen.value;
        items.hidden = !on;
        items.querySelectorAll("select").forEach(function (s) { s.disabled = !on; });
      });
    }
    box.addEventListener("change", show);
    show();
  });

  var holder = document.getElementById("session-chart");
  var source = document.getElementById("session-chart-data");
  if (!holder || !source || typeof Plotly === "undefined") return;
  var data = JSON.parse(source.textContent);
  var v = data.vitals, pk = data.pk, traces = [], shapes = [];
  if (pk) {
    traces.push({x: pk.times, y: pk.plasma, name: "plasma (predicted)", mode: "lines",
                 line: {color: "#1565c0"}, yaxis: "y"});
    traces.push({x: pk.times, y: pk.effect, name: "effect site (predicted)", mode: "lines",
                 line: {color: "#c62828"}, yaxis: "y"});
    shapes = pk.bands.map(function (b) {
      return {type: "rect", xref: "paper", yref: "y", x0: 0, x1: 1, y0: b.low, y1: b.high,
              fillcolor: b.color, line: {width: 0}, layer: "below"};
    });
  }
  var colours = {systolic_mmhg: "#6a1b9a", diastolic_mmhg: "#ab47bc", heart_rate_per_min: "#ef6c00",
                 spo2_percent: "#2e7d32", resp_rate_per_min: "#455a64"};
  Object.keys(colours).forEach(function (name) {
    if (!v.times.length) return;
    traces.push({x: v.times, y: v[name], name: v.labels[name], mode: "lines+markers",
                 line: {color: colours[name]}, yaxis: pk ? "y2" : "y"});
  });
  if (!traces.length) { holder.hidden = true; return; }
  var layout = {margin: {t: 10, r: 10, b: 40, l: 55}, legend: {orientation: "h"}, shapes: shapes,
                // At least half an hour, ticks 5 min apart or more (web/chart_axes.py).
                xaxis: data.xaxis || {type: "date", tickformat: "%H:%M"}};
  if (pk) {
    layout.yaxis = {title: {text: "ng/mL"}, domain: [0.45, 1]};
    layout.yaxis2 = {title: {text: "vitals"}, domain: [0, 0.38], anchor: "x"};
  } else {
    layout.yaxis = {title: {text: "vitals"}};
  }
  Plotly.newPlot(holder, traces, layout, {responsive: true, displaylogo: false});
})();
