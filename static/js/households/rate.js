// The credit rating form (households/rate.html): the total, grade and credit line as scores are typed.
(function () {
  // Mirrors services.grade_for with the bands the server sent: the best band whose minimum the total reaches.
  var config = JSON.parse(document.getElementById("rating-bands").textContent);
  var inputs = document.querySelectorAll("input[data-dimension]");
  var out = {};
  document.querySelectorAll("[data-preview]").forEach(function (el) { out[el.dataset.preview] = el; });
  function update() {
    var total = 0, complete = true;
    inputs.forEach(function (input) {
      var v = parseInt(input.value, 10);
      if (isNaN(v)) { complete = false; } else { total += v; }
    });
    out.total.textContent = total;
    if (!complete) { out.grade.textContent = "-"; out.line.textContent = "-"; return; }
    var band = config.bands.find(function (b) { return total >= b.min; });
    out.grade.textContent = band ? band.grade : config.none_label;
    out.line.textContent = band ? band.line : config.none_line;
  }
  inputs.forEach(function (input) { input.addEventListener("input", update); });
  update();
})();
