// The patient's own progress: pain NRS (left axis, 0-10) and PHQ-9 (right axis, 0-27) over time,
// with their sessions as dotted vertical lines. Data: <script id="portal-chart-data"> -> #portal-chart.
(function () {
  var data = JSON.parse(document.getElementById("portal-chart-data").textContent);
  var traces = [];
  if (data.series.nrs.values.length) {
    traces.push({x: data.series.nrs.times, y: data.series.nrs.values, name: "Pain (0-10)",
                 mode: "lines+markers", line: {color: "#c62828"}});
  }
  if (data.series.phq9.values.length) {
    traces.push({x: data.series.phq9.times, y: data.series.phq9.values, name: "Mood, PHQ-9 (0-27)",
                 mode: "lines+markers", yaxis: "y2", line: {color: "#1565c0"}});
  }
  var shapes = data.sessions.map(function (at) {
    return {type: "line", xref: "x", yref: "paper", x0: at, x1: at, y0: 0, y1: 1,
            line: {color: "#7b8a94", width: 1, dash: "dot"}};
  });
  // Axes from the server (web/chart_axes.py): a few points close together get at least a week of
  // whole days around them, never an hour-by-hour axis; scores have whole-number ticks.
  Plotly.newPlot("portal-chart", traces, {
    margin: {t: 10, r: 40, b: 40, l: 40},
    xaxis: data.axes.x,
    yaxis: Object.assign({title: {text: "pain"}, fixedrange: true}, data.axes.pain),
    yaxis2: Object.assign({title: {text: "PHQ-9"}, overlaying: "y", side: "right",
                           fixedrange: true, showgrid: false}, data.axes.phq9),
    shapes: shapes, showlegend: true, legend: {orientation: "h", y: -0.2}
  }, {responsive: true, displaylogo: false, displayModeBar: false});
})();
