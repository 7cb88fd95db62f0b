// alignlab view: filtering and sorting on the index, zoomable curves, click-to-enlarge figures. No libraries.
"use strict";

function initIndex() {
  const table = document.getElementById("runs");
  if (!table) return;
  const rows = Array.from(table.tBodies[0].rows);
  const text = document.getElementById("filter");
  const outcome = document.getElementById("outcome-filter");
  const params = new URLSearchParams(location.search);
  text.value = params.get("q") || "";
  outcome.value = params.get("verdict") || "";
  const apply = () => {
    const needle = text.value.trim().toLowerCase();
    let shown = 0;
    for (const row of rows) {
      const keep = row.textContent.toLowerCase().includes(needle) && (!outcome.value || row.dataset.outcome === outcome.value);
      row.hidden = !keep;
      shown += keep;
    }
    document.getElementById("shown").textContent = `${shown} of ${rows.length} runs`;
  };
  text.addEventListener("input", apply);
  outcome.addEventListener("change", apply);
  apply();
  initSorting(table);
  const sort = params.get("sort");
  if (sort) {
    const th = Array.from(table.tHead.rows[0].cells).find((c) => c.textContent === sort);
    if (th) th.click();
  }
}

function initSorting(table) {
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((th, column) => th.addEventListener("click", () => {
    const dir = th.dataset.dir === "asc" ? "desc" : "asc";
    headers.forEach((h) => delete h.dataset.dir);
    th.dataset.dir = dir;
    const key = (row) => {
      const cell = row.cells[column];
      const raw = cell.dataset.sort ?? cell.textContent.trim();
      const number = Number(raw);
      return raw !== "" && !Number.isNaN(number) ? number : raw.toLowerCase();
    };
    const body = table.tBodies[0];
    const sorted = Array.from(body.rows).sort((a, b) => {
      const x = key(a), y = key(b);
      const order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : typeof x === "number" ? -1 : 1;
      return dir === "asc" ? order : -order;
    });
    sorted.forEach((row) => body.appendChild(row));
  }));
}

const COLOURS = ["#1a5fb4", "#c01c28", "#26a269", "#e5a50a", "#613583", "#865e3c", "#0f8b8d", "#9a9996"];
const SVG = "http://www.w3.org/2000/svg";

function niceTicks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

function label(value) {
  const a = Math.abs(value);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? value.toExponential(1) : +value.toPrecision(4) + "";
}

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function drawChart(container, metric, data) {
  const W = 480, H = 260, left = 56, right = 12, top = 12, bottom = 32;
  const all = data.series.flatMap((s) => s.points);
  const full = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let xRange = full.slice();
  container.innerHTML = "";
  const title = document.createElement("h3");
  title.textContent = metric;
  container.appendChild(title);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": metric }, container);
  const readout = document.createElement("div");
  readout.className = "readout";
  const legend = document.createElement("div");
  legend.className = "legend";
  data.series.forEach((s, i) => {
    const item = document.createElement("span");
    item.innerHTML = `<b style="color:${COLOURS[i % COLOURS.length]}">━</b> `;
    item.appendChild(document.createTextNode(s.name));
    legend.appendChild(item);
  });
  if (data.reference !== undefined) {
    const item = document.createElement("span");
    item.textContent = `┄ the paper: ${label(data.reference)}`;
    legend.appendChild(item);
  }
  container.appendChild(legend);
  container.appendChild(readout);

  const render = () => {
    svg.innerHTML = "";
    const visible = data.series.map((s) => s.points.filter((p) => p[0] >= xRange[0] && p[0] <= xRange[1]));
    const ys = visible.flat().map((p) => p[1]);
    if (data.reference !== undefined) ys.push(data.reference);
    let lo = Math.min(...ys), hi = Math.max(...ys);
    if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
    const pad = (hi - lo) * 0.05; lo -= pad; hi += pad;
    const span = xRange[1] - xRange[0] || 1;
    const x = (v) => left + ((v - xRange[0]) / span) * (W - left - right);
    const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (H - top - bottom);
    for (const t of niceTicks(lo, hi, 5)) {
      el("line", { x1: left, x2: W - right, y1: y(t), y2: y(t), stroke: "#eee" }, svg);
      el("text", { x: left - 4, y: y(t) + 4, "text-anchor": "end", "font-size": 11, fill: "#555" }, svg).textContent = label(t);
    }
    for (const t of niceTicks(xRange[0], xRange[1], 6)) {
      el("text", { x: x(t), y: H - bottom + 16, "text-anchor": "middle", "font-size": 11, fill: "#555" }, svg).textContent = label(t);
    }
    el("text", { x: (left + W - right) / 2, y: H - 2, "text-anchor": "middle", "font-size": 11, fill: "#555" }, svg).textContent = "step";
    el("rect", { x: left, y: top, width: W - left - right, height: H - top - bottom, fill: "none", stroke: "#ccc" }, svg);
    if (data.reference !== undefined) {
      el("line", { x1: left, x2: W - right, y1: y(data.reference), y2: y(data.reference), stroke: "#000", "stroke-dasharray": "5 4", class: "reference" }, svg);
    }
    visible.forEach((points, i) => {
      const colour = COLOURS[i % COLOURS.length];
      if (points.length === 1) el("circle", { cx: x(points[0][0]), cy: y(points[0][1]), r: 3, fill: colour, class: "series" }, svg);
      else el("polyline", { points: points.map((p) => `${x(p[0])},${y(p[1])}`).join(" "), fill: "none", stroke: colour, "stroke-width": 1.5, class: "series" }, svg);
    });
    const cursor = el("line", { y1: top, y2: H - bottom, stroke: "#888", visibility: "hidden" }, svg);
    const band = el("rect", { y: top, height: H - top - bottom, fill: "#1a5fb433", visibility: "hidden" }, svg);
    const toStep = (event) => {
      const box = svg.getBoundingClientRect();
      const px = ((event.clientX - box.left) / box.width) * W;
      return xRange[0] + ((Math.min(Math.max(px, left), W - right) - left) / (W - left - right)) * span;
    };
    let dragFrom = null;
    svg.onmousedown = (event) => { dragFrom = toStep(event); event.preventDefault(); };
    svg.onmousemove = (event) => {
      const step = toStep(event);
      cursor.setAttribute("x1", x(step)); cursor.setAttribute("x2", x(step)); cursor.setAttribute("visibility", "visible");
      readout.textContent = data.series.map((s, i) => {
        const points = visible[i];
        if (!points.length) return null;
        const near = points.reduce((a, b) => (Math.abs(b[0] - step) < Math.abs(a[0] - step) ? b : a));
        return `${s.name} @ ${label(near[0])}: ${label(near[1])}`;
      }).filter(Boolean).join(" · ");
      if (dragFrom !== null) {
        band.setAttribute("x", x(Math.min(dragFrom, step)));
        band.setAttribute("width", Math.abs(x(step) - x(dragFrom)));
        band.setAttribute("visibility", "visible");
      }
    };
    svg.onmouseup = (event) => {
      const step = toStep(event);
      if (dragFrom !== null && Math.abs(x(step) - x(dragFrom)) > 4) {
        xRange = [Math.min(dragFrom, step), Math.max(dragFrom, step)];
        dragFrom = null;
        render();
      }
      dragFrom = null;
      band.setAttribute("visibility", "hidden");
    };
    svg.onmouseleave = () => { cursor.setAttribute("visibility", "hidden"); dragFrom = null; band.setAttribute("visibility", "hidden"); };
    svg.ondblclick = () => { xRange = full.slice(); render(); };
  };
  render();
  container.zoomTo = (a, b) => { xRange = [a, b]; render(); };
}

function initCharts() {
  const source = document.getElementById("curves");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  for (const container of document.querySelectorAll(".chart")) {
    drawChart(container, container.dataset.metric, data[container.dataset.metric]);
  }
}

function initFigures() {
  for (const img of document.querySelectorAll(".report img")) {
    img.addEventListener("click", () => img.classList.toggle("enlarged"));
  }
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") document.querySelectorAll("img.enlarged").forEach((i) => i.classList.remove("enlarged"));
  });
}

initIndex();
initCharts();
initFigures();
