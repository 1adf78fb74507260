// Refreshes the chair board in place: fetch the rows partial every data-refresh seconds and swap it.
(function () {
  var board = document.getElementById("board");
  if (!board) return;
  var stamp = document.getElementById("board-updated");
  var period = (parseInt(board.getAttribute("data-refresh"), 10) || 20) * 1000;
  var offset = ChairsideTime.offsetFrom(board.querySelector("[data-now]"));
  function refresh() {
    fetch(board.getAttribute("data-src"), {
      headers: { "X-Requested-With": "fetch" }, credentials: "same-origin"
    })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) {
          if (stamp) stamp.textContent = "not updated: the server did not answer";
          return;
        }
        board.innerHTML = html;
        offset = ChairsideTime.offsetFrom(board.querySelector("[data-now]"));
        if (stamp) stamp.textContent = "updated " + new Date(Date.now() + offset).toLocaleTimeString();
      })
      .catch(function () { if (stamp) stamp.textContent = "not updated: offline?"; });
  }
  setInterval(refresh, period);
  setInterval(function () { ChairsideTime.tick(board, offset); }, 10000);
})();
