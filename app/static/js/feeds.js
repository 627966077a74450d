// Relais feeds: a run's live progress bar, and fresh suggestions when the entity changes.
(function () {
  "use strict";

  var POLL_MS = 1000;

  // The CSP refuses style attributes in the page; widths set through CSSOM are allowed.
  function showProgress(box, state) {
    var bar = box.querySelector(".progress-bar");
    var percent = state.percent;
    bar.style.width = (percent === null || percent === undefined ? 100 : percent) + "%";
    bar.classList.toggle("opacity-50", percent === null || percent === undefined);
    box.querySelector(".progress").setAttribute("aria-valuenow", String(percent || 0));
    if (state.text) {
      document.getElementById("run-progress-text").textContent = state.text;
    }
    Object.keys(state.counts || {}).forEach(function (name) {
      var cell = document.querySelector("[data-count='" + name + "']");
      if (cell) { cell.textContent = Number(state.counts[name]).toLocaleString(document.documentElement.lang); }
    });
  }

  function poll(box) {
    fetch(box.getAttribute("data-status-url"), {
      credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store"
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        showProgress(box, state);
        if (state.finished) {
          window.location.reload();  // the counts, the errors and the changes, in full
        } else {
          window.setTimeout(function () { poll(box); }, POLL_MS);
        }
      })
      .catch(function () { window.setTimeout(function () { poll(box); }, POLL_MS * 5); });
  }

  var box = document.getElementById("run-progress");
  if (box && box.getAttribute("data-finished") !== "1") {
    var percent = box.querySelector(".progress-bar").getAttribute("data-percent");
    showProgress(box, { percent: percent === "" ? null : Number(percent) });
    window.setTimeout(function () { poll(box); }, POLL_MS);
  }

  // A revert runs on a worker: the page shows its outcome once it has ended.
  function pollRevert(box) {
    fetch(box.getAttribute("data-status-url"), {
      credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store"
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        // Its state changed (queued → running, or ended): the page says so.
        if (state && state.revert_status !== box.getAttribute("data-revert-status")) {
          window.location.reload();
        } else {
          window.setTimeout(function () { pollRevert(box); }, POLL_MS * 2);
        }
      })
      .catch(function () { window.setTimeout(function () { pollRevert(box); }, POLL_MS * 5); });
  }

  var revert = document.getElementById("revert-state");
  if (revert && revert.getAttribute("data-status-url")) {
    window.setTimeout(function () { pollRevert(revert); }, POLL_MS * 2);
  }

  // Mapping screen: a value mapped (or removed) below saves the mapping alone; the changes
  // typed in the profile's form above are lost, unless its user keeps them and saves first.
  document.querySelectorAll("form[data-leaves]").forEach(function (form) {
    var edited = document.getElementById(form.getAttribute("data-leaves"));
    if (!edited) {
      return;
    }
    // A form the server sent back (a sample read, suggestions asked, a save refused) holds
    // changes not saved yet, as one typed here does.
    var changed = edited.hasAttribute("data-unsaved");
    ["input", "change"].forEach(function (kind) {
      edited.addEventListener(kind, function () { changed = true; });
    });
    form.addEventListener("submit", function (event) {
      if (changed && !window.confirm(form.getAttribute("data-leaves-message"))) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    });
  });

  // Mapping screen: another entity means other fields; ask the server for new guesses.
  // Chosen with the mouse, at once; with the arrow keys (which change it at each press),
  // once the choice is made: Enter, or leaving the list.
  document.querySelectorAll("[data-suggest-on-change]").forEach(function (select) {
    var byKeyboard = false;
    var pending = false;
    function suggest() {
      var button = document.getElementById(select.getAttribute("data-suggest-on-change"));
      pending = false;
      if (button) { button.click(); }
    }
    select.addEventListener("keydown", function (event) {
      byKeyboard = true;
      if (event.key === "Enter" && pending) {
        event.preventDefault();
        suggest();
      }
    });
    select.addEventListener("pointerdown", function () { byKeyboard = false; });
    select.addEventListener("change", function () {
      if (byKeyboard) {
        pending = true;
      } else {
        suggest();
      }
    });
    select.addEventListener("blur", function () {
      if (pending) { suggest(); }
    });
  });
})();
