// The household form (households/form.html): add a member row, keep 户主 in step, show the exit date.
(function () {
  var button = document.getElementById("add-member");
  var total = document.getElementById("id_members-TOTAL_FORMS");
  var template = document.getElementById("member-template");
  var list = document.getElementById("members");
  button.addEventListener("click", function () {
    var index = parseInt(total.value, 10);
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replace(/__prefix__/g, index);
    list.appendChild(holder.firstElementChild);
    total.value = index + 1;
  });

  // 与户主关系 = 户主 and the 户主 box mean the same (the server makes them agree): keep them in step.
  list.addEventListener("change", function (event) {
    var match = /^id_members-(\d+)-(relation|is_head)$/.exec(event.target.id);
    if (!match) { return; }
    var relation = document.getElementById("id_members-" + match[1] + "-relation");
    var head = document.getElementById("id_members-" + match[1] + "-is_head");
    if (!relation || !head) { return; }
    if (match[2] === "relation") {
      head.checked = relation.value === "head";
    } else if (head.checked) {
      relation.value = "head";
    } else if (relation.value === "head") {
      relation.value = "";
    }
  });

  // The exit date only belongs to an exited household: shown (and sent) only then. Without
  // JavaScript it simply stays visible; an error about it keeps it visible until the status changes.
  var status = document.getElementById("id_poverty_status");
  var exited = document.getElementById("id_exited_on");
  var box = exited && exited.closest(".field");
  if (status && box) {
    var keep = box.classList.contains("has-error");
    var toggle = function () {
      var isExited = status.value === "exited";
      box.hidden = !(isExited || keep);
      exited.disabled = box.hidden;
      box.classList.toggle("required", isExited);
    };
    status.addEventListener("change", function () { keep = false; toggle(); });
    toggle();
  }
})();
