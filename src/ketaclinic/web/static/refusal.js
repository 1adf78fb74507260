// After a refused action: take the person to the message next to what they must fix. The banner
// at the top (base.html) says what was refused; this moves the view and the keyboard focus to the
// first message below it, and to the first field marked invalid there.
(function () {
  "use strict";
  var banner = document.getElementById("refusal");
  if (!banner) { return; }
  var selector = banner.getAttribute("data-target") || "";
  var section = null;
  try { section = selector ? document.querySelector(selector) : null; } catch (e) { section = null; }
  var scope = section || document.querySelector("main") || document.body;
  var message = scope.querySelector(".error-text, .flash-error:not(#refusal), .confirm-panel");
  if (!message && section) { message = section; }
  if (!message) { banner.setAttribute("tabindex", "-1"); banner.focus(); return; }
  var field = scope.querySelector("[aria-invalid='true']");
  message.scrollIntoView({ block: "center" });
  if (field) {
    field.focus({ preventScroll: true });
  } else {
    if (!message.hasAttribute("tabindex")) { message.setAttribute("tabindex", "-1"); }
    message.focus({ preventScroll: true });
  }
}());
