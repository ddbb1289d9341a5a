// Shows <time datetime="…Z"> values in the reader's time zone, with the UTC value on hover.
// Runs on load and after every htmx swap; the server-rendered UTC text stays without JavaScript.
(function () {
  function localize(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.localized) return;
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.title = el.textContent.trim();
      el.textContent = d.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short"
      });
      el.dataset.localized = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:afterSwap", function (e) { localize(e.target); });
})();

// After a successful htmx post, clear forms marked data-reset-on-success (the add-row form) and
// put the cursor back in their first field, so rows can be typed one after another.
document.addEventListener("htmx:afterRequest", function (e) {
  var form = e.target;
  if (form.matches && form.matches("form[data-reset-on-success]") && e.detail.successful) {
    form.reset();
    var first = form.querySelector("input:not([type=hidden])");
    if (first) first.focus();
  }
});

// Upload progress for the registry form.
document.addEventListener("htmx:xhr:progress", function (e) {
  var bar = e.target.querySelector && e.target.querySelector("progress.upload-bar");
  if (bar && e.detail.lengthComputable) bar.value = Math.round(100 * e.detail.loaded / e.detail.total);
});

// Copy buttons: <button data-copy="…">.
document.addEventListener("click", function (e) {
  var button = e.target.closest && e.target.closest("button[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(function () {
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  });
});

// Stacked cards on phones label each cell with its column: copy every data table's column
// headers into its cells' data-label (the CSS shows it only on narrow screens). Headers whose
// text is for screen readers only (a row's actions) give no label.
(function () {
  function label(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("table.data").forEach(function (table) {
      var heads = table.querySelectorAll("thead th");
      if (!heads.length) return;
      var names = Array.prototype.map.call(heads, function (th) {
        return th.querySelector(".visually-hidden") ? "" : th.textContent.trim();
      });
      table.querySelectorAll("tbody > tr").forEach(function (tr) {
        var column = 0;
        Array.prototype.forEach.call(tr.children, function (cell) {
          if (names[column] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", names[column]);
          column += cell.colSpan || 1;
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { label(document); });
  document.addEventListener("htmx:afterSettle", function () { label(document); });
})();
