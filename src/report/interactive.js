// report.html's interactive charts (see interactive.rs). No network: uPlot is inlined above.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("os-data").textContent);
  if (!D.x.length) return;
  var utc = function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); };
  var charts = [];

  // Each event as a dashed vertical line.
  var markers = {
    hooks: {
      draw: [function (u) {
        var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
        ctx.save();
        ctx.strokeStyle = "#777";
        ctx.setLineDash([4, 4]);
        D.events.forEach(function (e) {
          var x = u.valToPos(e.x, "x", true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + h);
          ctx.stroke();
        });
        ctx.restore();
      }],
    },
  };

  // Zooming one chart zooms the others to the same stretch of the clock.
  function follow(u, key) {
    if (key !== "x") return;
    var min = u.scales.x.min, max = u.scales.x.max;
    charts.forEach(function (other) {
      if (other !== u && (other.scales.x.min !== min || other.scales.x.max !== max)) {
        other.setScale("x", { min: min, max: max });
      }
    });
  }

  function chart(id, title, unit, series, columns) {
    var el = document.getElementById(id);
    var opts = {
      title: title,
      width: Math.max(600, Math.min(1600, el.clientWidth || 1200)),
      height: 280,
      tzDate: utc,
      cursor: { sync: { key: "outage-sim" }, drag: { x: true, y: false } },
      scales: { x: { time: true } },
      axes: [{}, { label: unit }],
      series: [{ label: "clock", value: "{HH}:{mm}:{ss}" }].concat(series),
      plugins: [markers],
      hooks: { setScale: [follow] },
    };
    var u = new uPlot(opts, [D.x].concat(columns), el);
    charts.push(u);
    return u;
  }

  var line = function (label, stroke) {
    return { label: label, stroke: stroke, width: 1.5, spanGaps: false };
  };
  chart("os-rate", "checkout per second", "per s",
    [line("offered", "#999"), line("ok", "#2a2"), line("failed or timed out", "#d22")],
    [D.offered, D.ok, D.failed]);
  chart("os-latency", "checkout latency", "ms",
    [line("p50", "#36c"), line("p99", "#e80")],
    [D.p50, D.p99]);

  // An event clicked: its detail, and the five minutes either side of it.
  var detail = document.getElementById("os-detail");
  document.querySelectorAll("#os-events li").forEach(function (li) {
    li.addEventListener("click", function () {
      var e = D.events[Number(li.dataset.i)];
      detail.textContent = e.clock + " " + e.what + (e.detail ? ": " + e.detail : "");
      charts[0].setScale("x", { min: e.x - 300, max: e.x + 300 });
    });
  });
  window.outageSim = { charts: charts, data: D };
})();
