// The steps of a subsidy batch (subsidies/batch_detail.html): a step that ends or sends back
// something asks first. The question is in the form's data-step-confirm, since the
// Content-Security-Policy refuses inline handlers.
(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-step-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
