// Behaviour every page may use, declared in the markup rather than in inline handlers, which the
// Content-Security-Policy refuses (issue 10).
//   <form data-submit-once>  its submit buttons are disabled once it is sent, so a double click
//                            cannot send the same import twice;
//   <button data-print>      prints the page;
//   <button data-menu-toggle aria-controls="topmenu">  opens and closes the menu on a phone (the
//                            bar's class menu-open; Escape closes it and returns to the button).
(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-submit-once]")) { return; }
    // After this event: a disabled button's name and value would not be sent.
    setTimeout(function () {
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) { window.print(); }
  });

  function menuSet(toggle, open) {
    var bar = toggle.closest(".topbar");
    if (!bar) { return; }
    bar.classList.toggle("menu-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("[data-menu-toggle]");
    if (toggle) { menuSet(toggle, toggle.getAttribute("aria-expanded") !== "true"); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var toggle = document.querySelector("[data-menu-toggle][aria-expanded=true]");
    if (toggle) {
      menuSet(toggle, false);
      toggle.focus();
    }
  });
})();
