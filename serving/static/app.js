// The analyst chat: one thread, streamed answers over server-sent events, and under each answer its
// citations, SQL, formula chain and (for series / rankings) a chart.
(function () {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const messages = $("#messages"), form = $("#ask-form"), input = $("#question"), send = $("#send");
  // The graph's node names (graph/graph.py) in the analyst's words; an unknown node shows as itself.
  const STEP_NAMES = { understand: "理解问题", intent: "理解问题", sql_lookup: "查询数据", sql: "查询数据",
                       statistic: "统计", formula: "计算指标", retrieve: "检索原文", glossary: "查术语",
                       compound: "拆分问题", agent: "规划", tools: "调用工具", answer: "生成回答" };

  function newThreadId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "t-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }
  let threadId = newThreadId();
  function showThread() { $("#thread").textContent = "对话 " + threadId.slice(0, 8); }
  showThread();
  $("#new-thread").addEventListener("click", () => { threadId = newThreadId(); messages.replaceChildren(); showThread(); });

  function node(tag, attrs, text) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }
  function scroll() { messages.scrollTop = messages.scrollHeight; }

  function headers() {
    const h = { "Content-Type": "application/json", "Accept": "text/event-stream" };
    const key = localStorage.getItem("nianbao-api-key");
    if (key) h["Authorization"] = "Bearer " + key;
    return h;
  }

  // Server-sent events from a fetch body: blocks separated by a blank line, "event:" and "data:" lines.
  async function* readEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) yield { event, data: JSON.parse(data) };
      }
    }
  }

  function reportName(result, citation) {
    if (citation.file) {
      // Report files are named date__full name__code__short name__year__kind.pdf: show "short name year kind".
      const parts = citation.file.replace(/\.pdf$/i, "").split("__");
      return parts.length >= 6 ? `${parts[3]}${parts[4]}${parts[5]}` : citation.file;
    }
    const company = result.company ? (result.company.short_name || result.company.name) : "";
    const year = (result.years || []).length ? result.years[result.years.length - 1] + "年" : "";
    return `${company}${year}年度报告`;
  }

  function renderDetails(box, result) {
    const cites = result.citations || [];
    if (cites.length) {
      const list = node("ul", { class: "citations", "data-testid": "citations" });
      for (const c of cites) {
        const li = node("li", { class: "citation" });
        li.appendChild(node("span", { class: "citation-source" }, `${reportName(result, c)} · 第${c.page}页`));
        if (c.text) li.appendChild(node("span", { class: "citation-text" }, " — " + c.text));
        list.appendChild(li);
      }
      const d = node("details", { open: "" });
      d.appendChild(node("summary", {}, `引用（${cites.length}）`));
      d.appendChild(list);
      box.appendChild(d);
    }
    if (result.sql) {
      const d = node("details", { "data-testid": "sql" });
      d.appendChild(node("summary", {}, "SQL"));
      d.appendChild(node("pre", { class: "sql" }, result.sql));
      box.appendChild(d);
    }
    const f = result.formula;
    if (f) {
      const d = node("details", { class: "formula", "data-testid": "formula" });
      d.appendChild(node("summary", {}, `公式：${f.name || ""}`));
      const p = node("p");
      p.appendChild(node("code", {}, `${f.name || "结果"} = ${f.expression || ""}`));
      d.appendChild(p);
      const inputs = node("ul");
      for (const [k, v] of Object.entries(f.inputs || {})) inputs.appendChild(node("li", {}, `${k} = ${v}`));
      d.appendChild(inputs);
      if (f.result !== undefined && f.result !== null) d.appendChild(node("p", {}, `= ${f.result}`));
      box.appendChild(d);
    }
    const chart = window.nianbaoChart && window.nianbaoChart(result.values);
    if (chart) { chart.setAttribute("data-testid", "chart"); box.appendChild(chart); }
  }

  async function ask(question) {
    messages.appendChild(node("div", { class: "msg user", "data-testid": "user-message" }, question));
    const box = node("div", { class: "msg assistant", "data-testid": "assistant-message" });
    const steps = node("div", { class: "steps" }, "…");
    const answer = node("div", { class: "answer", "data-testid": "answer" });
    box.append(steps, answer);
    messages.appendChild(box);
    scroll();
    const seen = [];
    try {
      const response = await fetch("/v1/ask?stream=true", {
        method: "POST", headers: headers(), body: JSON.stringify({ question, thread_id: threadId }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        if (response.status === 401) {
          const key = prompt("需要 API key：");
          if (key) localStorage.setItem("nianbao-api-key", key);
        }
        throw new Error((body.error && body.error.message) || `HTTP ${response.status}`);
      }
      for await (const { event, data } of readEvents(response)) {
        if (event === "step") {
          seen.push(STEP_NAMES[data.node] || data.node);
          steps.textContent = seen.join(" → ");
        } else if (event === "token") {
          answer.textContent += data.text;
        } else if (event === "final") {
          // The final answer is authoritative: numbers the tools did not produce were removed from it.
          answer.textContent = data.result.answer || "";
          steps.textContent = seen.join(" → ") + (data.result.latency_ms ? ` · ${Math.round(data.result.latency_ms)} ms` : "");
          box.setAttribute("data-done", "true");
          renderDetails(box, data.result);
        } else if (event === "error") {
          throw new Error(data.error.message);
        }
        scroll();
      }
      if (!box.hasAttribute("data-done")) throw new Error("连接中断，请重试");
    } catch (err) {
      box.classList.add("error");
      box.setAttribute("data-done", "error");
      answer.textContent = "出错了：" + err.message;
    }
    scroll();
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const question = input.value.trim();
    if (!question || send.disabled) return;
    input.value = "";
    send.disabled = true;
    try { await ask(question); } finally { send.disabled = false; input.focus(); }
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
})();
