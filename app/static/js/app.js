// Relais back office: confirmations, related-record lookups, document line rows.
(function () {
  "use strict";

  // A form posts once: a second click while the server answers (a revert, an import for
  // real) neither asks again nor sends a second request. A form whose answer is a download
  // (the page stays) can be sent again a few seconds later.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (!button) {
      return;
    }
    if (button.form && button.form.getAttribute("data-submitted") === "1") {
      event.preventDefault();
    } else if (!window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || (form.method || "").toLowerCase() !== "post") {
      return;
    }
    if (form.getAttribute("data-submitted") === "1") {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-submitted", "1");
    window.setTimeout(function () { form.removeAttribute("data-submitted"); }, 10000);
  });

  // Back from the browser's cache (the back button), a form may be sent again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      document.querySelectorAll("form[data-submitted]").forEach(function (form) {
        form.removeAttribute("data-submitted");
      });
    }
  });

  // Related-record fields: suggestions from /<tenant>/lookup/<entity>?q=… in a datalist.
  document.querySelectorAll("input[data-lookup]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    function refresh() {
      var url = input.getAttribute("data-lookup") + "?q=" + encodeURIComponent(input.value.replace(/ · #\d+$/, ""));
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (items) {
          list.replaceChildren.apply(list, items.map(function (item) {
            var option = document.createElement("option");
            option.value = item.label;
            return option;
          }));
        })
        .catch(function () { /* suggestions are a help, not a requirement */ });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 200);
    });
    input.addEventListener("focus", refresh, { once: true });
  });

  // New custom field: the key the server will make from the label, shown while none is typed.
  var keyInput = document.querySelector("form input#key");
  var labels = ["label_fr", "label_en"].map(function (id) { return document.getElementById(id); });
  if (keyInput && labels[0] && labels[1]) {
    var showKey = function () {
      var label = labels[0].value.trim() || labels[1].value.trim();
      var slug = label.normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase()
        .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
      if (slug && !/^[a-z]/.test(slug)) { slug = "field_" + slug; }
      keyInput.placeholder = slug.slice(0, 50).replace(/_+$/, "");
    };
    labels.forEach(function (input) { input.addEventListener("input", showKey); });
    showKey();
  }

  // Document lines: "Add a line" clones the last row with the next index.
  var addLine = document.getElementById("add-line");
  if (addLine) {
    addLine.addEventListener("click", function () {
      var rows = document.querySelectorAll("#line-rows .line-row");
      var last = rows[rows.length - 1];
      if (!last) { return; }
      var clone = last.cloneNode(true);
      var index = rows.length;
      clone.querySelectorAll("input").forEach(function (field) {
        field.name = field.name.replace(/lines-\d+-/, "lines-" + index + "-");
        field.id = field.id.replace(/lines-\d+-/, "lines-" + index + "-");
        field.value = "";
      });
      clone.querySelectorAll(".text-danger").forEach(function (node) { node.remove(); });
      last.parentNode.appendChild(clone);
    });
  }
})();
