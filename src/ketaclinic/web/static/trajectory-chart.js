// Draws a patient's pain (top) and mood (bottom) over time on one shared date axis: scores as
// dots, each session's before/after as a segment, sessions as vertical lines by course phase,
// and the patient's pain target as a dashed line. Data: <script id="trajectory-data">.
(function () {
  var data = JSON.parse(document.getElementById("trajectory-data").textContent);
  var colors = {"Pain NRS": "#c62828", "PEG": "#ef6c00", "BPI severity": "#8d6e63",
                "PHQ-9": "#1565c0", "GAD-7": "#6a1b9a"};
  var axis = {pain: "y", mood: "y2"};
  var traces = data.series.filter(function (s) { return s.x.length; }).map(function (s) {
    return {x: s.x, y: s.y, text: s.text, name: s.name, yaxis: axis[s.panel],
            mode: "lines+markers", line: {color: colors[s.name], width: 1},
            marker: {size: 7}, hovertemplate: "%{text}<extra>" + s.name + "</extra>"};
  });
  data.pairs.forEach(function (p) {
    traces.push({x: p.x, y: p.y, yaxis: axis[p.panel], mode: "lines+markers", showlegend: false,
                 line: {color: colors[p.name], width: 4}, marker: {size: 9, symbol: "diamond"},
                 hovertemplate: p.name + " before → after session #" + p.session_id +
                   ": " + p.change + "<extra></extra>"});
  });
  var shapes = data.sessions.map(function (s) {
    var aborted = s.state === "aborted";
    return {type: "line", xref: "x", yref: "paper", x0: s.x, x1: s.x, y0: 0, y1: 1,
            line: {color: aborted ? "#c62828" : "#78909c", width: 1,
                   dash: aborted ? "dash" : (s.phase === "maintenance" ? "dot" : "solid")}};
  });
  if (data.goal && data.goal.target_pain_nrs !== null) {
    shapes.push({type: "line", xref: "paper", yref: "y", x0: 0, x1: 1,
                 y0: data.goal.target_pain_nrs, y1: data.goal.target_pain_nrs,
                 line: {color: "#2e7d32", width: 2, dash: "dash"}});
  }
  Plotly.newPlot("trajectory-chart", traces, {
    margin: {t: 10, r: 10, b: 40, l: 55}, height: 460,
    // Axes from the server (web/chart_axes.py): whole days, at least a week; whole-number scores.
    xaxis: Object.assign({type: "date", anchor: "y2"}, data.axes.x),
    yaxis: Object.assign({title: {text: "pain (0–10)"}, domain: [0.55, 1]}, data.axes.pain),
    yaxis2: Object.assign({title: {text: "PHQ-9 / GAD-7"}, domain: [0, 0.45], anchor: "x"},
                          data.axes.mood),
    shapes: shapes, legend: {orientation: "h"}
  }, {responsive: true, displaylogo: false});
})();
