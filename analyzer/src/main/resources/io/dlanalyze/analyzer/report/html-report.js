/*
 * Script of the dl-analyze HTML report (HtmlReportRenderer); inlined into every page. Reads the
 * embedded JSON report, checks the findings table against it, wires the filters, and marks the
 * page rendered (data-render-ok, data-chart-count on the html element) only when all of that ran
 * without an error.
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dl-report").textContent);
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.finding"));
  if (rows.length !== data.findings.length) {
    throw new Error("findings table has " + rows.length + " rows, report has " + data.findings.length);
  }
  var input = document.getElementById("finding-filter");
  var severity = document.getElementById("severity-filter");
  var shown = document.getElementById("finding-shown");
  function apply() {
    var query = input.value.trim().toLowerCase();
    var least = Number(severity.value);
    var count = 0;
    rows.forEach(function (row) {
      var visible = Number(row.getAttribute("data-severity")) >= least
          && (query === "" || row.textContent.toLowerCase().indexOf(query) >= 0);
      row.hidden = !visible;
      if (visible) { count++; }
    });
    shown.textContent = count === rows.length ? "" : count + " of " + rows.length + " shown";
  }
  if (input && severity) {
    input.addEventListener("input", apply);
    severity.addEventListener("change", apply);
  }
  var root = document.documentElement;
  root.setAttribute("data-chart-count", String(document.querySelectorAll("svg.chart").length));
  root.setAttribute("data-render-ok", "1");
})();
