// Analytics charts: data comes from the json_script block "dataset-chart-data" (never inlined).
(function () {
  "use strict";
  var node = document.getElementById("dataset-chart-data");
  if (!node) return;
  var data = JSON.parse(node.textContent);
  var lang = document.documentElement.lang || "ja";

  function bar(id, labels, values, opts) {
    var el = document.getElementById(id);
    if (!el || typeof Chart === "undefined") return;
    new Chart(el, {
      type: "bar",
      data: { labels: labels, datasets: [{ data: values, backgroundColor: opts.colors || "#4f7cac" }] },
      options: Object.assign({
        plugins: { legend: { display: false } },
        animation: false,
        responsive: true,
      }, opts.options || {}),
    });
  }

  var scores = Object.keys(data.histogram).map(Number).sort(function (a, b) { return a - b; });
  bar("chart-histogram", scores, scores.map(function (s) { return data.histogram[String(s)]; }), {
    options: { scales: { x: { ticks: { maxTicksLimit: 11 } }, y: { beginAtZero: true } } },
  });

  var topics = data.topics.slice().sort(function (a, b) { return b.n - a.n; });
  bar("chart-topics", topics.map(function (t) { return lang === "en" ? t.label_en : t.label; }),
      topics.map(function (t) { return t.n; }), { options: { indexAxis: "y" } });

  bar("chart-features", data.features.map(function (f) { return f.label; }),
      data.features.map(function (f) { return f.rho; }), {
        colors: data.features.map(function (f) { return f.rho !== null && f.rho < 0 ? "#c0504d" : "#4f7cac"; }),
        options: { indexAxis: "y", scales: { x: { min: -1, max: 1 } } },
      });

  // 20 x 20 heatmap as a coloured table (text set with textContent only).
  var table = document.getElementById("item-heatmap");
  if (!table || !data.item_matrix.length) return;
  function color(v) {
    if (v === null) return "#eee";
    var a = Math.min(Math.abs(v), 1);
    return v >= 0 ? "rgba(79,124,172," + a + ")" : "rgba(192,80,77," + a + ")";
  }
  var head = table.createTHead().insertRow();
  head.appendChild(document.createElement("th"));
  data.item_labels.forEach(function (label, i) {
    var th = document.createElement("th");
    th.textContent = String(i + 1);
    th.title = label;
    head.appendChild(th);
  });
  var body = table.createTBody();
  data.item_matrix.forEach(function (row, i) {
    var tr = body.insertRow();
    var th = document.createElement("th");
    th.textContent = data.item_labels[i];
    th.className = "dataset-heatmap-label";
    tr.appendChild(th);
    row.forEach(function (v, j) {
      var td = tr.insertCell();
      td.textContent = v === null ? "–" : v.toFixed(2);
      td.style.backgroundColor = color(v);
      if (v !== null && Math.abs(v) > 0.6) td.style.color = "#fff";
      td.title = data.item_labels[i] + " × " + data.item_labels[j] + ": " + td.textContent;
    });
  });
})();
