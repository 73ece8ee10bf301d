// The application form (loans/form.html): the live eligibility panel, and the implementing
// entity's fields shown for the indirect mode only. Moved out of the page for the CSP (issue 10).
(function () {
  var form = document.getElementById("application-form");
  var panel = document.getElementById("eligibility-panel");
  var timer = null, sequence = 0;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function draw(data) {
    panel.innerHTML = "";
    if (!data.results.length) {
      panel.appendChild(el("p", "muted", data.message));
    } else {
      panel.appendChild(el("div", "verdict " + (data.state || (data.eligible ? "ok" : "bad")), data.verdict));
      var table = el("table", "rules");
      data.results.forEach(function (r) {
        var row = table.insertRow();
        row.dataset.rule = r.rule;
        // A rule that reads a field not filled in yet waits ("…"), it is not failed.
        var mark = r.pending ? ["mark-wait", "…"] : (r.passed ? ["mark-ok", "✓"] : ["mark-bad", "✗"]);
        if (r.pending) { row.className = "pending"; }
        row.insertCell().appendChild(el("span", mark[0], mark[1]));
        row.cells[0].className = "mark";
        var cell = row.insertCell();
        cell.appendChild(el("div", "rule-name", r.name));
        cell.appendChild(el("div", "", r.message));
        // The source as the document's short name and article, its full title on hover.
        if (r.citations && r.citations.length) {
          var source = el("div", "source", panel.dataset.sourceLabel + " ");
          r.citations.forEach(function (c, i) {
            if (i) { source.appendChild(document.createTextNode("；")); }
            var cite = el("cite", "policy-cite" + (c.internal ? " internal" : ""), c.text);
            if (c.title) { cite.title = c.title; }
            source.appendChild(cite);
          });
          cell.appendChild(source);
        }
      });
      panel.appendChild(table);
    }
    // A failed rule is also shown under its field once the cadre has been there (on a blank form
    // the fields are not red before anything is typed), unless the server already put it there.
    form.querySelectorAll("[data-hints-for]").forEach(function (box) { box.innerHTML = ""; });
    data.results.forEach(function (r) {
      if (r.passed || r.pending || !r.field || !(showAll || touched[r.field])) { return; }
      var box = form.querySelector('[data-hints-for="' + r.field + '"]');
      if (!box) { return; }
      var already = Array.prototype.some.call(box.parentNode.querySelectorAll(".error, .rule-hint"), function (e) {
        return e.textContent.indexOf(r.message) >= 0;
      });
      if (!already) { box.appendChild(el("div", "rule-hint", r.hint)); }
    });
  }

  function check() {
    var body = new FormData(form);
    body.append("household", form.dataset.household);
    if (form.dataset.application) { body.append("application", form.dataset.application); }
    var mine = ++sequence;
    fetch(form.dataset.checkUrl, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && mine === sequence) { draw(data); } })
      .catch(function () { /* The server checks again on submit; the panel keeps its last answer. */ });
  }

  var showAll = form.dataset.showAll === "1", touched = {};
  function later(event) {
    if (event && event.target.name) { touched[event.target.name] = true; }
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);

  // The implementing entity's fields belong to the indirect mode only (shown when it is chosen,
  // or while they carry an error).
  var mode = document.getElementById("id_use_mode");
  var entity = document.getElementById("entity-fields");
  var keep = entity.querySelector(".has-error") !== null;
  function toggle() { entity.hidden = !(mode.value === "indirect" || keep); }
  mode.addEventListener("change", function () { keep = false; toggle(); });
  toggle();

  check();
})();
