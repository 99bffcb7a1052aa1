// Human arena: keyboard shortcuts (1 / 2 / 0) for the two candidates and a tie.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.target && /INPUT|TEXTAREA|SELECT/.test(event.target.tagName)) return;
    var value = { "1": "1", "2": "2", "0": "tie" }[event.key];
    if (!value) return;
    var button = document.querySelector('#ar-board button[name="position"][value="' + value + '"]');
    if (button && !button.disabled) button.click();
  });
})();
