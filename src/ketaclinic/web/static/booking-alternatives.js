// A refused booking offers free starts; picking one fills the chair and time fields (the person
// still presses Schedule). A static file: the Content-Security-Policy runs no inline script.
document.querySelectorAll("#alternatives .alternative").forEach(function (button) {
  button.addEventListener("click", function () {
    document.getElementById("f-chair_id").value = button.dataset.chair;
    document.getElementById("f-scheduled_at").value = button.dataset.at;
  });
});
