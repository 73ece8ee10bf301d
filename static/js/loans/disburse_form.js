// The disbursement form (loans/disburse_form.html): the maturity for the date typed.
(function () {
  // Same month arithmetic as the server: the same day N months later, or the month's last day.
  var date = document.getElementById("id_disbursed_on");
  var out = document.getElementById("maturity");
  var term = parseInt(out.dataset.term, 10);
  date.addEventListener("change", function () {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date.value);
    if (!m) { out.textContent = "-"; return; }
    var months = parseInt(m[2], 10) - 1 + term;
    var year = parseInt(m[1], 10) + Math.floor(months / 12);
    var month = months % 12;
    var last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    var day = Math.min(parseInt(m[3], 10), last);
    out.textContent = year + "-" + String(month + 1).padStart(2, "0") + "-" + String(day).padStart(2, "0");
  });
})();
