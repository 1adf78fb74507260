// Search as you type: fetch only the results partial and swap it in.
(function () {
  var input = document.getElementById("q");
  var results = document.getElementById("results");
  if (!input || !results) return;
  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var url = "/patients?q=" + encodeURIComponent(input.value);
      fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { results.innerHTML = html; } });
    }, 250);
  });
})();
