// benchkit leaderboard: column sorting and row filters. The tables are complete without this script.
// Rows are grouped in <tbody> elements (a measured row with its "reported" rows), so sorting moves whole groups.
(function () {
  "use strict";

  function sortValue(group, column) {
    var row = group.rows[0];
    var cell = row && row.cells[column];
    if (!cell) return null;
    var raw = cell.getAttribute("data-sort");
    if (raw === null) raw = cell.textContent.trim();
    if (raw === "") return null;
    var n = Number(raw);
    return isNaN(n) ? raw.toLowerCase() : n;
  }

  function compare(a, b, descending) {
    if (a === null && b === null) return 0;
    if (a === null) return 1; // empty cells last, whatever the direction
    if (b === null) return -1;
    if (typeof a !== typeof b) return typeof a === "number" ? -1 : 1;
    var c = a < b ? -1 : a > b ? 1 : 0;
    return descending ? -c : c;
  }

  function sortTable(table, column, header) {
    var next = header.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", next);
    var groups = Array.prototype.slice.call(table.tBodies);
    groups.forEach(function (g, i) { g.__order = i; });
    groups.sort(function (a, b) {
      return compare(sortValue(a, column), sortValue(b, column), next === "descending") || a.__order - b.__order;
    });
    groups.forEach(function (g) { table.appendChild(g); });
  }

  function makeSortable(table) {
    if (!table.tHead || table.tBodies.length < 2) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", function () { sortTable(table, column, th); });
    });
  }

  function applyFilters(form) {
    var table = document.getElementById(form.getAttribute("data-for"));
    if (!table) return;
    var controls = form.querySelectorAll("[data-filter]");
    var shown = 0;
    Array.prototype.forEach.call(table.tBodies, function (group) {
      var keep = true;
      Array.prototype.forEach.call(controls, function (control) {
        var want = control.value.trim().toLowerCase();
        var field = control.getAttribute("data-filter");
        var have = group.getAttribute("data-" + field);
        if (!want || have === null) return;
        have = have.toLowerCase();
        if (field === "detector") keep = keep && have.indexOf(want) !== -1;
        else if (field === "modality") keep = keep && have.split(" ").indexOf(want) !== -1;
        else keep = keep && have === want;
      });
      group.hidden = !keep;
      if (keep) shown += 1;
    });
    var out = form.querySelector("output");
    if (out) out.textContent = shown + " of " + table.tBodies.length + " rows shown";
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);
    Array.prototype.forEach.call(document.querySelectorAll("form.filters"), function (form) {
      form.hidden = false;
      form.addEventListener("input", function () { applyFilters(form); });
      form.addEventListener("submit", function (event) { event.preventDefault(); });
    });
  });
})();
