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
  var live = typeof uPlot === "function" ? interactiveCharts() : 0;
  root.setAttribute("data-live-charts", String(live));
  root.setAttribute("data-chart-count", String(document.querySelectorAll("svg.chart").length));
  root.setAttribute("data-render-ms", String(Math.round(performance.now())));
  root.setAttribute("data-render-ok", "1");

  /*
   * Every time chart drawn again with uPlot (inlined from its webjar) over the same numbers
   * (script#dl-series): a drag across any chart zooms every time chart to those steps (brush),
   * double-click or the zoom bar's button shows all steps again, and the smoothing slider applies
   * TensorBoard's debiased exponential moving average to loss and accuracy (the raw curve stays,
   * faint). The SVG stays in the page, hidden, so the charts render without this script too.
   */
  function interactiveCharts() {
    var data = JSON.parse(document.getElementById("dl-series").textContent);
    if (!data.n) { return 0; }
    var xs = new Array(data.n);
    for (var b = 0; b < data.n; b++) { xs[b] = data.x0 + b * data.dx + (data.dx - 1) / 2; }
    var full = { min: data.x0, max: Math.max(xs[data.n - 1], data.x0 + 1) };
    var plots = [];
    var ready = false;
    var syncing = false;
    var rangeText = document.getElementById("zoom-range");
    function showRange(min, max) {
      if (rangeText) {
        rangeText.textContent = "steps " + Math.round(min) + " to " + Math.round(max);
      }
    }
    function synced(u, key) {
      if (key !== "x" || syncing) { return; }
      var min = u.scales.x.min;
      var max = u.scales.x.max;
      u.root.parentNode.setAttribute("data-x-min", String(Math.round(min)));
      u.root.parentNode.setAttribute("data-x-max", String(Math.round(max)));
      if (!ready) { return; }
      syncing = true;
      plots.forEach(function (p) {
        if (p !== u) {
          p.setScale("x", { min: min, max: max });
          p.root.parentNode.setAttribute("data-x-min", String(Math.round(min)));
          p.root.parentNode.setAttribute("data-x-max", String(Math.round(max)));
        }
      });
      syncing = false;
      showRange(min, max);
    }
    function ema(values, weight) {
      if (weight <= 0) { return values; }
      var out = new Array(values.length);
      var last = 0;
      var count = 0;
      for (var i = 0; i < values.length; i++) {
        var v = values[i];
        if (v === null) { out[i] = null; continue; }
        last = last * weight + (1 - weight) * v;
        count++;
        out[i] = last / (1 - Math.pow(weight, count));
      }
      return out;
    }
    function rgba(hex, alpha) {
      var n = parseInt(hex.slice(1), 16);
      return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
    }
    var curves = [];
    document.querySelectorAll("figure[data-chart]").forEach(function (figure) {
      var spec = data.charts[Number(figure.getAttribute("data-chart"))];
      var svg = figure.querySelector("svg.chart");
      var box = svg.getBoundingClientRect();
      var log = spec.scale === "log";
      var symlog = spec.scale === "symlog";
      var unit = spec.unit;
      // log and symmetric log as the SVG draws them (log10 v; sign(v) log10(1 + |v| / unit)) on a
      // linear axis whose labels are the values
      function clean(values) {
        if (log) {
          return values.map(function (v) { return v !== null && v > 0 ? Math.log10(v) : null; });
        }
        if (symlog) {
          return values.map(function (v) {
            return v === null ? null : (v < 0 ? -1 : 1) * Math.log10(1 + Math.abs(v) / unit);
          });
        }
        return values;
      }
      function label(t) {
        var v = symlog ? (t < 0 ? -1 : 1) * unit * (Math.pow(10, Math.abs(t)) - 1)
          : log ? Math.pow(10, t) : t;
        var a = Math.abs(v);
        return a === 0 ? "0"
          : a >= 1e4 || a < 1e-3 ? v.toExponential(0).replace("e+", "e") : String(+v.toPrecision(3));
      }
      var columns = [xs];
      var series = [{}];
      var bands = [];
      spec.bands.forEach(function (band) {
        var hi = columns.length;
        columns.push(clean(band.hi), clean(band.lo));
        series.push({ label: band.name, stroke: "transparent", points: { show: false } });
        series.push({ label: band.name, stroke: "transparent", points: { show: false } });
        bands.push({ series: [hi, hi + 1], fill: rgba(band.color, band.opacity) });
      });
      var smoothed = [];
      spec.series.forEach(function (line) {
        var values = clean(line.v);
        if (spec.kind === "curve") {
          columns.push(values);
          series.push({ label: line.name + " (raw)", stroke: rgba(line.color, 0.3), width: 1,
            spanGaps: line.sparse, points: { show: false } });
          smoothed.push({ index: columns.length, raw: values });
        }
        columns.push(values);
        series.push({ label: line.name, stroke: line.color, width: line.main ? 2 : 1.2,
          spanGaps: line.sparse,
          points: { show: line.sparse, size: 6, fill: line.color, stroke: line.color } });
      });
      var yAxis = { size: 58, font: "10px system-ui, sans-serif" };
      if (log || symlog) {
        yAxis.values = function (plot, splits) { return splits.map(label); };
      }
      var u = new uPlot({
        width: Math.max(200, Math.round(box.width)),
        height: Math.max(120, Math.round(box.height)),
        legend: { show: false },
        cursor: { drag: { x: true, y: false, setScale: true }, sync: { key: "dl-steps" } },
        scales: { x: { time: false } },
        axes: [{ size: 30, font: "10px system-ui, sans-serif" }, yAxis],
        series: series,
        bands: bands,
        hooks: {
          setScale: [synced],
          draw: [function (plot) {
            var ctx = plot.ctx;
            var ratio = uPlot.pxRatio;
            spec.markers.forEach(function (marker, i) {
              var x = plot.valToPos(marker.x, "x", true);
              if (x < plot.bbox.left || x > plot.bbox.left + plot.bbox.width) { return; }
              ctx.save();
              ctx.strokeStyle = marker.color;
              ctx.fillStyle = marker.color;
              ctx.lineWidth = 1.3 * ratio;
              ctx.setLineDash([4 * ratio, 3 * ratio]);
              ctx.beginPath();
              ctx.moveTo(x, plot.bbox.top);
              ctx.lineTo(x, plot.bbox.top + plot.bbox.height);
              ctx.stroke();
              ctx.font = 10 * ratio + "px sans-serif";
              var right = x < plot.bbox.left + plot.bbox.width * 0.6;
              ctx.textAlign = right ? "left" : "right";
              var tx = x + (right ? 3 : -3) * ratio;
              var ty = plot.bbox.top + (11 + 11 * i) * ratio;
              ctx.setLineDash([]);
              ctx.strokeStyle = "#fff";
              ctx.lineWidth = 3 * ratio;
              ctx.strokeText(marker.label, tx, ty);
              ctx.fillText(marker.label, tx, ty);
              ctx.restore();
            });
          }]
        }
      }, columns, function (plot, init) {
        figure.insertBefore(plot.root, svg);
        init();
      });
      figure.classList.add("live");
      u.setScale("x", { min: full.min, max: Math.min(full.max, spec.xh) });
      plots.push(u);
      if (smoothed.length) { curves.push({ plot: u, columns: columns, smoothed: smoothed }); }
    });
    ready = true;
    document.querySelectorAll(".zoombar, .smoothing").forEach(function (e) { e.hidden = false; });
    var reset = document.getElementById("zoom-reset");
    if (reset && plots.length) {
      reset.addEventListener("click", function () { plots[0].setScale("x", full); });
    }
    var slider = document.getElementById("smoothing");
    var shown = document.getElementById("smoothing-value");
    if (slider) {
      slider.addEventListener("input", function () {
        var weight = Number(slider.value);
        shown.textContent = weight.toFixed(2);
        curves.forEach(function (c) {
          var columns = c.columns.slice();
          c.smoothed.forEach(function (s) { columns[s.index] = ema(s.raw, weight); });
          // setData without resetting the scales keeps the zoom but does not redraw by itself
          c.plot.setData(columns, false);
          c.plot.redraw();
        });
      });
    }
    return plots.length;
  }
})();
