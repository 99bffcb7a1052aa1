// New fine-tuning job form: the hyper-parameter JSON follows the task's paper defaults until edited.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var defaults = JSON.parse(document.getElementById("pt-defaults").textContent);
    var task = document.getElementById("id_task");
    var hp = document.getElementById("id_hyperparameters");
    var role = document.getElementById("id_target_role");
    var subset = document.getElementById("id_data_subset");
    var base = document.getElementById("id_base_model");
    if (base && document.getElementById("pt-base-models")) base.setAttribute("list", "pt-base-models");
    var edited = false;
    hp.addEventListener("input", function () { edited = true; });

    function fill(force) {
      if (force || !edited) {
        hp.value = JSON.stringify(defaults[task.value], null, 2);
        edited = false;
      }
      var response = task.value === "response";
      role.disabled = !response;
      role.closest(".field").hidden = !response;
    }
    task.addEventListener("change", function () {
      if (subset) subset.value = task.value === "score" ? "all" : "full";
      fill(false);
    });
    document.getElementById("pt-reset-hp").addEventListener("click", function () { fill(true); });
    var response = task.value === "response";
    role.closest(".field").hidden = !response;
  });
})();
