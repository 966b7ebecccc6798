// Progressive enhancement only: every page works without this file.
// A form marked data-once is sent once: a second click or Enter while the first submission
// is on its way does nothing (the server would answer it once anyway, by its form key).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) {
      return;
    }
    if (form.dataset.sent === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    form.setAttribute("aria-busy", "true");
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].classList.add("is-busy");
      buttons[i].setAttribute("aria-disabled", "true");
    }
  }, true);
})();
