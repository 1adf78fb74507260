// Draws the dashboard's charts from the JSON block the page carries (#dashboard-charts).
(function () {
  var data = JSON.parse(document.getElementById("dashboard-charts").textContent);
  var layout = function (title, extra) {
    return Object.assign({title: title, margin: {t: 40, r: 10, l: 50, b: 80}, barmode: "group"}, extra || {});
  };
  var options = {displaylogo: false, responsive: true};
  Plotly.newPlot("chart-weeks", [
    {type: "bar", name: "infused", x: data.weeks.x, y: data.weeks.infused},
    {type: "bar", name: "booked, not infused", x: data.weeks.x, y: data.weeks.not_infused}
  ], layout("Sessions per week", {barmode: "stack"}), options);
  if (data.responders.labels.length) {
    Plotly.newPlot("chart-responders", [
      {type: "bar", name: "pain responders %", x: data.responders.labels, y: data.responders.pain},
      {type: "bar", name: "PHQ-9 responders %", x: data.responders.labels, y: data.responders.depression}
    ], layout("Responders by indication and protocol", {yaxis: {range: [0, 100]}}), options);
  }
  if (data.chairs.x.length) {
    Plotly.newPlot("chart-chairs", [
      {type: "bar", name: "hours occupied", x: data.chairs.x, y: data.chairs.hours}
    ], layout("Chair hours (check-in to discharge)"), options);
  }
})();
