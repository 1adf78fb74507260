// "Go back" links (data-history-back) return to the previous page, so a refused form keeps what
// was typed; without a previous page they go home. A file, not a javascript: link, because the
// Content-Security-Policy runs no inline script.
(function () {
  document.querySelectorAll("[data-history-back]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (window.history.length > 1) {
        event.preventDefault();
        window.history.back();
      }
    });
  });
})();
