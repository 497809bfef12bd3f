// The banner editor (app/admin/banner.py): as one types, the form is posted to the preview frame
// (its hidden "Update preview" button: the same fields, nothing saved), 400 ms after the last
// change, and only when the fields differ from what the preview shows.
// Without scripts the button shows, and updates the preview when pressed.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("editor");
    var button = document.getElementById("preview-update");
    if (!form || !button || !form.requestSubmit) return;
    button.hidden = true;
    var timer = null;
    var state = function () { return new URLSearchParams(new FormData(form)).toString(); };
    var shown = state();  // what the preview shows: the page's own values, until one changes
    var update = function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var now = state();
        if (now === shown) return;  // an event that changed nothing (a change after its input)
        shown = now;
        form.requestSubmit(button);
      }, 400);
    };
    // on the document: the preview's own controls belong to the form by their form attribute
    var ours = function (event) { if (event.target.form === form) update(); };
    document.addEventListener("input", ours);
    document.addEventListener("change", ours);
  });
})();
