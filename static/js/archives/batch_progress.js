// A dossier batch being printed (archives/batch_detail.html): the progress bar follows the server.
(function () {
  var card = document.getElementById("progress-card");
  if (!card) { return; }
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  // The bar's width is set here, not in a style attribute, which the CSP refuses.
  bar.style.width = bar.parentNode.getAttribute("aria-valuenow") + "%";
  var template = card.dataset.template;
  function poll() {
    fetch(card.dataset.url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (p) {
      if (p.state === "done" || p.state === "failed") { window.location.reload(); return; }
      bar.style.width = p.percent + "%";
      bar.parentNode.setAttribute("aria-valuenow", p.percent);
      text.textContent = template.replace("__DONE__", p.done).replace("__FAILED__", p.failed).replace("__TOTAL__", p.total) + " (" + p.percent + "%)";
      setTimeout(poll, 2000);
    }).catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1500);
})();
