// A secret shown once (API token, webhook secret): a "Copy" button puts it on the clipboard (or selects it to copy by hand).
(function () {
  "use strict";

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var label = button.textContent;
    button.addEventListener("click", function () {
      field.select();
      var done = function () {
        button.textContent = button.getAttribute("data-copied");
        setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { /* selected */ });
      } else if (document.execCommand && document.execCommand("copy")) {
        done();
      }
    });
  });
})();
