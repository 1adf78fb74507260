// The day grid opens scrolled to its first booking (a clinic open around the clock starts its
// axis at midnight). A static file: the Content-Security-Policy runs no inline script.
(function () {
  var box = document.getElementById("day-grid");
  var first = box && box.querySelector(".book-block");
  var head = box && box.querySelector(".book-head");
  if (first && head) {
    var below = first.getBoundingClientRect().top - box.getBoundingClientRect().top;
    box.scrollTop = Math.max(0, box.scrollTop + below - head.offsetHeight - 8);
  }
})();
