// The approval form (loans/approve_form.html): the rate for the term typed.
(function () {
  // The rate for the term typed, from the buckets the server read from the rate table.
  var rates = JSON.parse(document.getElementById("rate-buckets").textContent);
  var term = document.getElementById("id_term_months");
  var out = document.getElementById("rate-now");
  if (!term || !out || !rates.buckets) { return; }
  term.addEventListener("input", function () {
    var months = parseInt(term.value, 10);
    var bucket = isNaN(months) || months < 1 ? null : rates.buckets.find(function (b) { return b.max === null || months <= b.max; });
    out.textContent = "";
    if (!bucket) { out.textContent = "-"; return; }
    if (bucket.error) { out.textContent = bucket.error; return; }
    var strong = document.createElement("strong");
    strong.textContent = bucket.rate + "%";
    out.appendChild(strong);
    out.appendChild(document.createTextNode(" · " + rates.basis + " · " + bucket.tenor));
  });
})();
