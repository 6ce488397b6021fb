// Inline SVG charts for an answer's values: a series over years, or a ranking of companies. No library.
(function () {
  "use strict";
  const SVG_NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function numeric(values) {
    return values
      .map((v) => Object.assign({}, v, { num: typeof v.value === "number" ? v.value : parseFloat(v.value) }))
      .filter((v) => Number.isFinite(v.num));
  }

  const YUAN = new Set(["元", "yuan", "CNY", "money"]);
  const PERCENT = new Set(["%", "percent"]);

  // The agent's own display string when it has one; money in yuan reads better in 亿 / 万.
  function format(num, unit, display) {
    if (display) return display;
    if (YUAN.has(unit) && Math.abs(num) >= 1e8) return (num / 1e8).toFixed(2) + "亿元";
    if (YUAN.has(unit) && Math.abs(num) >= 1e4) return (num / 1e4).toFixed(2) + "万元";
    return (Math.round(num * 100) / 100).toString() + (PERCENT.has(unit) ? "%" : "");
  }

  // What to draw: {kind: "series"|"ranking", title, items: [{label, num, unit}]} or null.
  function plan(values) {
    const rows = numeric(values || []);
    if (rows.length < 2) return null;
    const fields = new Set(rows.map((r) => r.field));
    if (fields.size !== 1) return null;
    const field = rows[0].field;
    const companies = new Set(rows.map((r) => r.code || r.company));
    const years = new Set(rows.map((r) => r.year));
    if (companies.size === 1 && years.size === rows.length) {
      const items = rows.slice().sort((a, b) => a.year - b.year)
        .map((r) => ({ label: String(r.year), num: r.num, unit: r.unit, display: r.display }));
      return { kind: "series", title: `${rows[0].company || ""} ${field}`, items };
    }
    if (years.size === 1 && companies.size === rows.length) {
      const items = rows.slice().sort((a, b) => b.num - a.num)
        .map((r) => ({ label: r.company || r.code, num: r.num, unit: r.unit, display: r.display }));
      return { kind: "ranking", title: `${rows[0].year}年 ${field} 排名`, items };
    }
    return null;
  }

  function series(p) {
    const w = 480, h = 220, pad = { l: 10, r: 10, t: 24, b: 28 };
    const svg = el("svg", { class: "chart", "data-kind": "series", viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img" });
    svg.appendChild(el("text", { x: pad.l, y: 14 }, p.title));
    const max = Math.max(...p.items.map((i) => Math.abs(i.num))) || 1;
    const slot = (w - pad.l - pad.r) / p.items.length;
    const plotH = h - pad.t - pad.b;
    p.items.forEach((item, i) => {
      const bh = (Math.abs(item.num) / max) * (plotH - 14);
      const x = pad.l + i * slot + slot * 0.2;
      const y = pad.t + plotH - bh;
      svg.appendChild(el("rect", { class: "bar", x, y, width: slot * 0.6, height: bh }));
      svg.appendChild(el("text", { x: x + slot * 0.3, y: y - 3, "text-anchor": "middle" }, format(item.num, item.unit, item.display)));
      svg.appendChild(el("text", { x: x + slot * 0.3, y: h - 10, "text-anchor": "middle" }, item.label));
    });
    return svg;
  }

  function ranking(p) {
    const row = 26, w = 480, labelW = 90, h = 24 + row * p.items.length;
    const svg = el("svg", { class: "chart", "data-kind": "ranking", viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img" });
    svg.appendChild(el("text", { x: 4, y: 14 }, p.title));
    const max = Math.max(...p.items.map((i) => Math.abs(i.num))) || 1;
    p.items.forEach((item, i) => {
      const y = 22 + i * row;
      const bw = (Math.abs(item.num) / max) * (w - labelW - 80);
      svg.appendChild(el("text", { x: labelW - 6, y: y + 15, "text-anchor": "end" }, `${i + 1}. ${item.label}`));
      svg.appendChild(el("rect", { class: "bar", x: labelW, y: y + 3, width: bw, height: row - 8 }));
      svg.appendChild(el("text", { x: labelW + bw + 4, y: y + 15 }, format(item.num, item.unit, item.display)));
    });
    return svg;
  }

  window.nianbaoChart = function (values) {
    const p = plan(values);
    if (!p) return null;
    return p.kind === "series" ? series(p) : ranking(p);
  };
})();
