// Draws predicted plasma and effect-site curves with the literature's concentration bands.
// Data comes from <script id="pk-chart-data" type="application/json"> into #pk-chart.
(function () {
  var data = JSON.parse(document.getElementById("pk-chart-data").textContent);
  var top = Math.max(260, Math.max.apply(null, data.plasma.concat(data.effect)) * 1.05);
  var shapes = data.bands.map(function (b) {
    return {type: "rect", xref: "paper", x0: 0, x1: 1, y0: b.low, y1: b.high,
            fillcolor: b.color, line: {width: 0}, layer: "below"};
  });
  shapes.push({type: "line", xref: "paper", x0: 0, x1: 1, y0: data.line.low, y1: data.line.low,
               line: {color: data.line.color, width: 1, dash: "dot"}});
  var notes = data.bands.map(function (b, i) {
    return {xref: "paper", x: 1, xanchor: "right", y: b.high, yanchor: "top", showarrow: false,
            text: b.label, font: {size: 10, color: "#555"}, yshift: -2 - 12 * (i % 2)};
  });
  var traces = [
    {x: data.times_min, y: data.plasma, name: "plasma", mode: "lines", line: {color: "#1565c0"}},
    {x: data.times_min, y: data.effect, name: "effect site", mode: "lines", line: {color: "#c62828"}}
  ];
  Plotly.newPlot("pk-chart", traces, {
    margin: {t: 10, r: 10, b: 45, l: 60},
    xaxis: {title: {text: "minutes"}},
    yaxis: {title: {text: "ng/mL"}, range: [0, Math.min(top, 3000)]},
    shapes: shapes, annotations: notes, legend: {orientation: "h"}
  }, {responsive: true, displaylogo: false});
})();
