// taominer dashboard: polls v1/stats every second, renders the model table
// and, per model, 60-second charts of infer/s (1s window) and p99 latency
// (10s window). The history lives only in this page.
//
// DOM contract (tests read it; keep it stable):
//   table rows:   #model-rows and #total-rows tr[data-model], in served order
//   table cells:  [data-model="name/version"][data-field="<field>"], one per field
//                 data-value = the raw JSON value, text = formatted value.
//                 Fields: name, version, ready, queue_depth, executing,
//                 {1s,10s,60s}.{infer_per_s,requests_per_s,p50_ms,p95_ms,p99_ms,avg_batch},
//                 totals.{inference_count,execution_count,success,failure,rejected,cancelled,expired,failed}
//   charts:       svg[data-model][data-chart="infer_per_s"|"p99_ms"][data-field]
//                 path.line[data-series="v1,v2,..."][data-times="ms1,ms2,..."],
//                 oldest first, one point per successful poll, last 60 s.
//   body:         data-polls (successful polls), data-errors (failed polls)
//   #last-update: data-value = the "time" of the last stats document
//   #uptime:      data-value = its uptime_seconds
//   #error-banner: shown (no hidden attribute) while polling fails
(function () {
  "use strict";

  var POLL_MS = 1000;
  var TIMEOUT_MS = 4000;
  var HISTORY_MS = 60000;
  var STATS_URL = "v1/stats";
  var SVG_NS = "http://www.w3.org/2000/svg";
  var W = 300, H = 90; // chart viewBox

  // Numeric columns of the live table (after name/version/ready) and of the
  // totals table (after name/version), in order.
  var COLUMNS = [
    ["queue_depth", "int"], ["executing", "int"],
    ["1s.infer_per_s", "rate"], ["10s.infer_per_s", "rate"], ["60s.infer_per_s", "rate"],
    ["1s.requests_per_s", "rate"], ["10s.requests_per_s", "rate"], ["60s.requests_per_s", "rate"],
    ["10s.p50_ms", "ms"], ["10s.p95_ms", "ms"], ["10s.p99_ms", "ms"],
    ["10s.avg_batch", "rate"]
  ];
  var TOTALS = [
    ["totals.inference_count", "int"], ["totals.execution_count", "int"],
    ["totals.success", "int"], ["totals.failure", "bad"], ["totals.rejected", "bad"],
    ["totals.cancelled", "bad"], ["totals.expired", "bad"], ["totals.failed", "bad"]
  ];
  var CHARTS = [
    { chart: "infer_per_s", field: "1s.infer_per_s", title: "infer/s", sub: "1s window", cls: "rate", fmt: "rate" },
    { chart: "p99_ms", field: "10s.p99_ms", title: "p99 latency ms", sub: "10s window", cls: "p99", fmt: "ms" }
  ];

  var rows = {};    // key -> {tr, cells: {field: td}}
  var cards = {};   // key -> {card, charts: {chart: {...}}}
  var history = {}; // key -> {chart: [{t, v}]}
  var polls = 0, errors = 0, lastGood = null;

  var intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  var rateFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  var msFmt2 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  var msFmt1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var e = tag.indexOf("svg:") === 0 ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]); }
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function isNum(v) { return typeof v === "number" && isFinite(v); }

  function fmt(kind, v) {
    if (!isNum(v)) return "–";
    switch (kind) {
      case "int": case "bad": return intFmt.format(v);
      case "ms": return (Math.abs(v) < 10 ? msFmt2 : msFmt1).format(v);
      default: return rateFmt.format(v);
    }
  }

  // get reads "queue_depth", "10s.p99_ms" or "totals.success" from a model.
  function get(m, field) {
    var dot = field.indexOf(".");
    if (dot < 0) return m[field];
    var group = field.slice(0, dot), key = field.slice(dot + 1);
    var obj = group === "totals" ? m.totals : (m.windows || {})[group];
    return obj ? obj[key] : undefined;
  }

  function keyOf(m) { return m.name + "/" + m.version; }

  function setCell(td, kind, v) {
    td.setAttribute("data-value", v === undefined || v === null ? "" : String(v));
    if (kind === "ready") {
      td.textContent = "";
      td.appendChild(el("span", { "class": "badge " + (v ? "ready" : "not-ready") }, v ? "ready" : "not ready"));
      return;
    }
    td.textContent = kind === "text" ? String(v) : fmt(kind, v);
    td.classList.toggle("zero", isNum(v) && v === 0);
    td.classList.toggle("bad-count", kind === "bad" && isNum(v) && v > 0);
  }

  // makeRow builds the model's rows in both tables. Only the first holds
  // the name and version as data-field cells, so each field is in one cell.
  function makeRow(m, key) {
    var tr = el("tr", { "data-model": key });
    var ttr = el("tr", { "data-model": key });
    var cells = {};
    function add(row, field, cls) {
      var td = el("td", { "data-model": key, "data-field": field });
      if (cls) td.className = cls;
      row.appendChild(td);
      cells[field] = td;
    }
    add(tr, "name", "sticky");
    add(tr, "version");
    add(tr, "ready");
    COLUMNS.forEach(function (c) { add(tr, c[0], "num"); });
    ttr.appendChild(el("td", { "class": "sticky" }, m.name));
    ttr.appendChild(el("td", {}, String(m.version)));
    TOTALS.forEach(function (c) { add(ttr, c[0], "num"); });
    return { tr: tr, ttr: ttr, cells: cells };
  }

  function makeCard(m, key) {
    var card = el("div", { "class": "model-card", "data-model": key });
    var h = el("h3", {}, m.name + " ");
    h.appendChild(el("span", { "class": "ver" }, "v" + m.version));
    card.appendChild(h);
    var pair = el("div", { "class": "pair" });
    var charts = {};
    CHARTS.forEach(function (c) {
      var fig = el("figure", { "class": "chart" });
      var cap = el("figcaption");
      var label = el("span", {}, c.title + " ");
      label.appendChild(el("small", {}, "(" + c.sub + ")"));
      cap.appendChild(label);
      var now = el("span", { "class": "now", "data-model": key, "data-chart": c.chart, "data-value": "" }, "–");
      cap.appendChild(now);
      fig.appendChild(cap);
      var plot = el("div", { "class": "plot" });
      var svg = el("svg:svg", {
        viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", "class": c.cls,
        "data-model": key, "data-chart": c.chart, "data-field": c.field,
        role: "img", "aria-label": m.name + " " + c.title + ", last 60 seconds"
      });
      [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
        svg.appendChild(el("svg:line", { "class": f === 1 ? "grid base" : "grid", x1: 0, x2: W, y1: H * f, y2: H * f }));
      });
      var area = el("svg:path", { "class": "area", d: "" });
      var line = el("svg:path", { "class": "line", d: "", "data-series": "", "data-times": "" });
      svg.appendChild(area);
      svg.appendChild(line);
      plot.appendChild(svg);
      var ymax = el("span", { "class": "ymax", "data-model": key, "data-chart": c.chart, "data-value": "" }, "");
      plot.appendChild(ymax);
      fig.appendChild(plot);
      var xaxis = el("div", { "class": "xaxis" });
      xaxis.appendChild(el("span", {}, "−60s"));
      xaxis.appendChild(el("span", {}, "now"));
      fig.appendChild(xaxis);
      pair.appendChild(fig);
      charts[c.chart] = { spec: c, svg: svg, line: line, area: area, now: now, ymax: ymax };
    });
    card.appendChild(pair);
    return { card: card, charts: charts };
  }

  // niceMax rounds up to 1, 2, 2.5 or 5 times a power of ten.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];
    for (var i = 0; i < steps.length; i++) { if (v <= steps[i] * p) return steps[i] * p; }
    return 10 * p;
  }

  function drawChart(ch, pts, nowT) {
    var vals = pts.map(function (p) { return p.v; });
    ch.line.setAttribute("data-series", vals.map(String).join(","));
    ch.line.setAttribute("data-times", pts.map(function (p) { return String(p.t); }).join(","));
    var last = pts.length ? pts[pts.length - 1].v : undefined;
    ch.now.setAttribute("data-value", last === undefined ? "" : String(last));
    ch.now.textContent = fmt(ch.spec.fmt, last);
    var finite = vals.filter(isNum);
    var max = niceMax(finite.length ? Math.max.apply(null, finite) : 0);
    ch.ymax.setAttribute("data-value", String(max));
    ch.ymax.textContent = fmt(ch.spec.fmt, max);
    var x0 = nowT - HISTORY_MS;
    var d = "", first = null, lastX = null;
    pts.forEach(function (p) {
      var x = Math.max(0, Math.min(W, (p.t - x0) / HISTORY_MS * W));
      var y = H - (isNum(p.v) ? Math.max(0, Math.min(1, p.v / max)) : 0) * H;
      var xy = x.toFixed(2) + "," + y.toFixed(2);
      d += (d ? "L" : "M") + xy;
      if (first === null) first = x;
      lastX = x;
    });
    ch.line.setAttribute("d", d);
    ch.area.setAttribute("d", d ? d + "L" + lastX.toFixed(2) + "," + H + "L" + first.toFixed(2) + "," + H + "Z" : "");
  }

  function render(doc) {
    var t = Date.parse(doc.time);
    if (!isFinite(t)) t = Date.now();
    var models = Array.isArray(doc.models) ? doc.models : [];
    var tbody = $("model-rows"), totalsBody = $("total-rows"), chartsBox = $("charts");
    var seen = {};
    $("no-models").hidden = models.length > 0;

    models.forEach(function (m) {
      var key = keyOf(m);
      seen[key] = true;
      var row = rows[key] || (rows[key] = makeRow(m, key));
      var card = cards[key] || (cards[key] = makeCard(m, key));
      tbody.appendChild(row.tr);       // (re)appending keeps server order
      totalsBody.appendChild(row.ttr);
      chartsBox.appendChild(card.card);

      setCell(row.cells.name, "text", m.name);
      setCell(row.cells.version, "text", m.version);
      setCell(row.cells.ready, "ready", m.ready);
      COLUMNS.concat(TOTALS).forEach(function (c) { setCell(row.cells[c[0]], c[1], get(m, c[0])); });

      var hist = history[key] || (history[key] = {});
      CHARTS.forEach(function (c) {
        var pts = hist[c.chart] || (hist[c.chart] = []);
        var v = get(m, c.field);
        pts.push({ t: t, v: isNum(v) ? v : null });
        while (pts.length && pts[0].t < t - HISTORY_MS) pts.shift();
        drawChart(card.charts[c.chart], pts, t);
      });
    });

    Object.keys(rows).forEach(function (key) {
      if (seen[key]) return;
      rows[key].tr.remove();
      rows[key].ttr.remove();
      cards[key].card.remove();
      delete rows[key];
      delete cards[key];
      delete history[key];
    });

    renderWorkers(doc, t);
    renderGPUs(doc);

    var lu = $("last-update");
    lu.setAttribute("data-value", doc.time || "");
    lu.textContent = "updated " + new Date(t).toLocaleTimeString();
    var up = $("uptime");
    up.setAttribute("data-value", isNum(doc.uptime_seconds) ? String(doc.uptime_seconds) : "");
    up.textContent = isNum(doc.uptime_seconds) ? "· up " + duration(doc.uptime_seconds) : "";
  }

  // renderWorkers fills the Redis workers table (rebuilt on every poll: it
  // is small) and hides it on a node without workers.
  function renderWorkers(doc, t) {
    var workers = Array.isArray(doc.workers) ? doc.workers : [];
    $("workers-section").hidden = workers.length === 0;
    var body = $("worker-rows");
    while (body.firstChild) body.removeChild(body.firstChild);
    workers.forEach(function (w) {
      var ms = Array.isArray(w.models) ? w.models : [];
      var infer = 0, queue = 0, exec = 0;
      ms.forEach(function (m) {
        var v = get(m, "10s.infer_per_s");
        if (isNum(v)) infer += v;
        if (isNum(m.queue_depth)) queue += m.queue_depth;
        if (isNum(m.executing)) exec += m.executing;
      });
      var started = Date.parse(w.started), heard = Date.parse(w.published);
      var tr = el("tr", { "data-worker": w.id });
      function add(field, kind, v, cls) {
        var td = el("td", { "data-worker": w.id, "data-field": field });
        if (cls) td.className = cls;
        setCell(td, kind, v);
        tr.appendChild(td);
      }
      add("id", "text", w.id, "sticky");
      add("host", "text", w.host || "");
      var up = el("td", { "class": "num", "data-worker": w.id, "data-field": "up" }, isFinite(started) ? duration(Math.max(0, (t - started) / 1000)) : "–");
      tr.appendChild(up);
      add("heard", "rate", isFinite(heard) ? Math.max(0, (t - heard) / 1000) : null, "num");
      add("models", "text", ms.map(function (m) { return keyOf(m); }).join(", "));
      add("10s.infer_per_s", "rate", infer, "num");
      add("queue_depth", "int", queue, "num");
      add("executing", "int", exec, "num");
      body.appendChild(tr);
    });
  }

  // renderGPUs fills the GPUs table from NVML's readings (rebuilt on every
  // poll) and hides it on a node without GPUs. Cells carry the served
  // values in data-value and show them scaled (%, GiB).
  function renderGPUs(doc) {
    var gpus = Array.isArray(doc.gpus) ? doc.gpus : [];
    $("gpus-section").hidden = gpus.length === 0;
    var body = $("gpu-rows");
    while (body.firstChild) body.removeChild(body.firstChild);
    gpus.forEach(function (g) {
      var id = String(g.index);
      var tr = el("tr", { "data-gpu": id });
      function add(field, v, text, cls) {
        var td = el("td", { "data-gpu": id, "data-field": field }, text);
        td.setAttribute("data-value", v === undefined || v === null ? "" : String(v));
        if (cls) td.className = cls;
        tr.appendChild(td);
      }
      function num(v, scale, digits) { return isNum(v) ? (v * scale).toFixed(digits) : "–"; }
      add("index", g.index, id, "sticky");
      add("name", g.name || "", g.name || "");
      add("uuid", g.uuid || "", g.uuid || "");
      add("utilization_ratio", g.utilization_ratio, num(g.utilization_ratio, 100, 0), "num");
      add("memory_used_bytes", g.memory_used_bytes, num(g.memory_used_bytes, 1 / 1073741824, 1), "num");
      add("memory_total_bytes", g.memory_total_bytes, num(g.memory_total_bytes, 1 / 1073741824, 1), "num");
      add("temperature_celsius", g.temperature_celsius, num(g.temperature_celsius, 1, 0), "num");
      add("power_watts", g.power_watts, num(g.power_watts, 1, 0), "num");
      body.appendChild(tr);
    });
  }

  function duration(s) {
    s = Math.floor(s);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + (s % 60) + "s";
    return s + "s";
  }

  function setStatus(ok, message) {
    var banner = $("error-banner");
    $("status-dot").className = "dot " + (ok ? "ok" : "bad");
    if (ok) {
      banner.hidden = true;
      banner.textContent = "";
      return;
    }
    banner.textContent = "Cannot update: " + message + ". Retrying every second" +
      (lastGood ? "; showing data from " + lastGood.toLocaleTimeString() + "." : ".");
    banner.hidden = false;
  }

  // markOverflow sets data-more on each table card that has columns out of
  // sight to its right (app.css fades its edge).
  function markOverflow() {
    var cards = document.querySelectorAll(".table-wrap");
    for (var i = 0; i < cards.length; i++) {
      var c = cards[i];
      var more = c.scrollLeft + c.clientWidth < c.scrollWidth - 1;
      if (c.getAttribute("data-more") !== String(more)) c.setAttribute("data-more", String(more));
    }
  }
  (function () {
    var cards = document.querySelectorAll(".table-wrap");
    for (var i = 0; i < cards.length; i++) cards[i].addEventListener("scroll", markOverflow, { passive: true });
    window.addEventListener("resize", markOverflow);
  })();

  function poll() {
    var ctl = typeof AbortController === "function" ? new AbortController() : null;
    var timer = ctl ? setTimeout(function () { ctl.abort(); }, TIMEOUT_MS) : null;
    fetch(STATS_URL, { cache: "no-store", headers: { Accept: "application/json" }, signal: ctl ? ctl.signal : undefined })
      .catch(function (err) {
        throw new Error(err && err.name === "AbortError" ? STATS_URL + " timed out" : "cannot reach " + STATS_URL);
      })
      .then(function (resp) {
        if (!resp.ok) {
          return resp.text().then(function (body) {
            var msg = "";
            try { msg = JSON.parse(body).error || ""; } catch (e) { msg = ""; }
            throw new Error(STATS_URL + " returned HTTP " + resp.status + (msg ? " (" + msg + ")" : ""));
          });
        }
        return resp.json().catch(function () { throw new Error(STATS_URL + " returned invalid JSON"); });
      })
      .then(function (doc) {
        if (!doc || typeof doc !== "object") throw new Error(STATS_URL + " returned no JSON object");
        render(doc);
        markOverflow();
        polls++;
        lastGood = new Date();
        document.body.setAttribute("data-polls", String(polls));
        setStatus(true);
      })
      .catch(function (err) {
        errors++;
        document.body.setAttribute("data-errors", String(errors));
        setStatus(false, (err && err.message) || String(err));
      })
      .then(function () {
        if (timer) clearTimeout(timer);
        setTimeout(poll, POLL_MS);
      });
  }

  poll();
})();
