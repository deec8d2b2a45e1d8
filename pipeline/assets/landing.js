/* Landing page behaviour: draws the charts as SVG from the embedded JSON, and makes the
   incident table searchable and sortable. No library, no request: works from disk. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["var(--c0)", "var(--c1)", "var(--c2)", "var(--c3)", "var(--c4)"];

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // The chart's caption (its figure's figcaption), which also names the unit of time drawn.
  function caption(container) {
    var figure = container.closest("figure");
    var text = figure && figure.querySelector("figcaption");
    return text ? text.textContent.replace(/\s+/g, " ").trim() : "";
  }

  // Many bars: keep every n-th bar's labels so that none overlaps its neighbour's, and drop the
  // value labels when one is wider than a bar's slot (each bar's <title> still says it all).
  // A label kept is moved inside the chart's width when it would stick out of it, and dropped
  // if it then meets the previous one.
  function thin(labels, values, slot, width) {
    var size = function (n) { return n.getComputedTextLength(); };
    var widest = function (nodes) { return Math.max.apply(null, nodes.map(size).concat([0])); };
    var every = Math.max(1, Math.ceil((widest([].concat.apply([], labels)) + 4) / slot));
    var edge = [];  // where the last label kept ends, per line (label, sublabel)
    labels.forEach(function (nodes, i) {
      var place = nodes.map(function (n) {
        var half = size(n) / 2;
        return Math.min(Math.max(Number(n.getAttribute("x")), half), width - half);
      });
      var clash = nodes.some(function (n, j) { return edge[j] !== undefined && place[j] - size(n) / 2 < edge[j] + 4; });
      if (i % every || clash) { nodes.forEach(function (n) { n.remove(); }); return; }
      nodes.forEach(function (n, j) {
        if (place[j] !== Number(n.getAttribute("x"))) { n.setAttribute("x", place[j]); }
        edge[j] = place[j] + size(n) / 2;
      });
    });
    if (widest(values) + 2 > slot) { values.forEach(function (n) { n.remove(); }); }
  }

  // 12345 -> "12,345"
  function fmt(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function svgRoot(width, height, label) {
    return el("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": label });
  }

  // The axis: a round step (1, 2, 2.5 or 5 times a power of ten, whole numbers only: counts
  // have no halves) giving at most 5 intervals, and the top, a multiple of the step.
  function scale(value) {
    if (value <= 5) { return { max: Math.max(value, 1), step: 1 }; }
    var base = Math.pow(10, Math.floor(Math.log10(value / 5)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * base; }).filter(function (s) {
      return s === Math.round(s) && value / s <= 5;
    })[0];
    return { max: Math.ceil(value / step) * step, step: step };
  }

  function ticks(axis) {
    var out = [];
    for (var t = 0; t <= axis.max; t += axis.step) { out.push(t); }
    return out;
  }

  // Vertical bars; each bar is a list of stacked parts {value, color, title}.
  function columns(container, bars, options) {
    var axis = scale(Math.max.apply(null, bars.map(function (b) { return b.total; }).concat([0])));
    var max = axis.max;
    var width = 360, height = 230, left = Math.max(30, 8 + 7 * fmt(max).length), bottom = 40, top = 22, right = 8;
    var plotH = height - top - bottom, plotW = width - left - right;
    var svg = svgRoot(width, height, options.label);
    ticks(axis).forEach(function (tick) {
      var y = top + plotH - (tick / max) * plotH;
      svg.appendChild(el("line", { x1: left, x2: width - right, y1: y, y2: y, "class": "axis" }));
      svg.appendChild(el("text", { x: left - 4, y: y + 4, "text-anchor": "end" }, fmt(tick)));
    });
    var slot = plotW / Math.max(bars.length, 1);
    var barW = Math.min(56, slot * 0.6);
    var labels = [], values = [];
    bars.forEach(function (bar, i) {
      var x = left + slot * i + (slot - barW) / 2;
      var y = top + plotH;
      var group = el("g", { "class": "bar" });
      bar.parts.forEach(function (part) {
        if (!part.value) { return; }
        var h = (part.value / max) * plotH;
        y -= h;
        var rect = el("rect", { x: x, y: y, width: barW, height: h, fill: part.color, rx: 2 });
        rect.appendChild(el("title", {}, part.title));
        group.appendChild(rect);
      });
      values.push(group.appendChild(el("text", { x: x + barW / 2, y: y - 5, "text-anchor": "middle", "class": "value" }, bar.valueLabel)));
      labels.push([group.appendChild(el("text", { x: x + barW / 2, y: height - bottom + 16, "text-anchor": "middle" }, bar.label))]);
      if (bar.sublabel) {
        labels[i].push(group.appendChild(el("text", { x: x + barW / 2, y: height - bottom + 31, "text-anchor": "middle", "class": "legend" }, bar.sublabel)));
      }
      svg.appendChild(group);
    });
    container.appendChild(svg);
    thin(labels, values, slot, width);  // measured once drawn
    return svg;
  }

  function legend(container, names) {
    var svg = svgRoot(360, 22 * Math.ceil(names.length / 2), "凡例 legend");
    var g = el("g", { "class": "legend" });
    names.forEach(function (name, i) {
      var x = (i % 2) * 180, y = Math.floor(i / 2) * 22;
      g.appendChild(el("rect", { x: x + 4, y: y + 5, width: 12, height: 12, fill: COLORS[i % COLORS.length], rx: 2 }));
      g.appendChild(el("text", { x: x + 22, y: y + 16 }, name));
    });
    svg.appendChild(g);
    container.appendChild(svg);
  }

  function quartersChart(container, data) {
    var bars = data.quarters.map(function (q) {
      return {
        label: q.label, sublabel: q.label_en, total: q.total, valueLabel: fmt(q.total) + " 件",
        parts: q.counts.map(function (n, c) {
          return { value: n, color: COLORS[c % COLORS.length], title: q.label + " " + data.categories[c] + ": " + fmt(n) + " 件" };
        })
      };
    });
    columns(container, bars, { label: caption(container) });
    legend(container, data.categories);
  }

  function categoriesChart(container, data) {
    var max = scale(Math.max.apply(null, data.by_category.map(function (r) { return r.count; }).concat([0]))).max;
    var rows = data.by_category, width = 360, rowH = 34, left = 120, right = Math.max(40, 24 + 7 * fmt(max).length);
    var height = Math.max(rows.length, 1) * rowH + 10;
    var svg = svgRoot(width, height, caption(container));
    rows.forEach(function (row, i) {
      var y = 6 + i * rowH, w = (row.count / max) * (width - left - right);
      var g = el("g", { "class": "bar" });
      g.appendChild(el("text", { x: left - 8, y: y + 18, "text-anchor": "end" }, row.label));
      var rect = el("rect", { x: left, y: y + 4, width: w, height: rowH - 12, fill: COLORS[i % COLORS.length], rx: 2 });
      rect.appendChild(el("title", {}, row.label + ": " + fmt(row.count) + " 件"));
      g.appendChild(rect);
      g.appendChild(el("text", { x: left + w + 6, y: y + 18, "class": "value" }, fmt(row.count) + " 件"));
      svg.appendChild(g);
    });
    container.appendChild(svg);
  }

  function leaksChart(container, data) {
    var bars = data.leaks.map(function (m) {
      var persons = fmt(m.persons) + " 人" + (m.unknown ? " +?" : "");
      return {
        label: m.label, sublabel: m.count ? persons : "", total: m.count, valueLabel: fmt(m.count) + " 件",
        parts: [{ value: m.count, color: "var(--leak)", title: m.label + ": " + fmt(m.count) + " 件、" + persons }]
      };
    });
    columns(container, bars, { label: caption(container) });
  }

  function drawCharts() {
    var source = document.getElementById("chart-data");
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    quartersChart(document.getElementById("chart-quarters"), data);
    categoriesChart(document.getElementById("chart-categories"), data);
    leaksChart(document.getElementById("chart-leaks"), data);
  }

  // Full-width letters and kana variants match their plain forms (ＡＢＣ = abc).
  function fold(text) {
    return (text.normalize ? text.normalize("NFKC") : text).toLowerCase();
  }

  function setupTable() {
    var table = document.getElementById("incident-table");
    if (!table) { return; }
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var filter = document.getElementById("filter");
    var category = document.getElementById("category");
    var count = document.getElementById("count");
    var none = document.getElementById("no-match");
    rows.forEach(function (row) { row.dataset.text = fold(row.textContent); });

    function apply() {
      var words = fold(filter.value).split(/\s+/).filter(Boolean);
      var wanted = category.value;
      var shown = 0;
      rows.forEach(function (row) {
        var ok = (!wanted || row.dataset.category === wanted) &&
          words.every(function (w) { return row.dataset.text.indexOf(w) !== -1; });
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = fmt(rows.length) + " 件中 " + fmt(shown) + " 件を表示 / showing " + fmt(shown) + " of " + fmt(rows.length);
      none.hidden = shown !== 0;
    }
    filter.addEventListener("input", apply);
    category.addEventListener("change", apply);

    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    headers.forEach(function (th, index) {
      th.querySelector("button").addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.dataset.type === "number";
        var key = function (row) {
          var cell = row.cells[index];
          var value = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
          return numeric ? (value === "" ? null : Number(value)) : value;
        };
        var sorted = rows.slice().sort(function (a, b) {
          var x = key(a), y = key(b);
          if (x === y) { return 0; }
          if (x === null || x === "") { return 1; }  // empty cells last, either way
          if (y === null || y === "") { return -1; }
          var order = numeric ? x - y : String(x).localeCompare(String(y), "ja");
          return ascending ? order : -order;
        });
        sorted.forEach(function (row) { body.appendChild(row); });
      });
    });
    apply();
  }

  function start() {
    drawCharts();
    setupTable();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
