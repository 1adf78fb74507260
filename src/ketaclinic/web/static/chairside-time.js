// Counts the chairside clocks forward between page loads, from the server's time (data-now), so a
// nurse's tablet with a wrong clock still shows the right "in 5 min". Mirrors page_context.relative.
window.ChairsideTime = (function () {
  function duration(min) {
    var h = Math.floor(min / 60), m = min % 60;
    return h ? h + " h " + m + " min" : m + " min";
  }
  function relative(ms) {
    var min = Math.floor(ms / 60000);
    if (min > 0) return "in " + duration(min);
    if (min === 0 || min === -1) return "now";
    return duration(-min) + " ago";
  }
  function tick(root, offsetMs) {
    var now = Date.now() + offsetMs;
    root.querySelectorAll("[data-until]").forEach(function (el) {
      var ms = Date.parse(el.getAttribute("data-until")) - now;
      el.textContent = relative(ms);
      if (el.hasAttribute("data-overdue")) el.classList.toggle("overdue", ms <= 0);
    });
    root.querySelectorAll("[data-since]").forEach(function (el) {
      var ms = now - Date.parse(el.getAttribute("data-since"));
      el.textContent = duration(Math.max(0, Math.floor(ms / 60000)));
    });
  }
  function offsetFrom(el) {
    var server = el && Date.parse(el.getAttribute("data-now"));
    return server ? server - Date.now() : 0;
  }
  return { tick: tick, offsetFrom: offsetFrom };
})();
