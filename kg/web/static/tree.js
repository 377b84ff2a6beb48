// The task/activation tree of a run page: collapsed, each level fetched when it is opened, a
// page of children at a time, so a trial with 100k activations opens as fast as a small one.
// Every text goes in through textContent: names are data, never markup.
"use strict";
(function () {
  const root = document.getElementById("tree-root");
  if (!root) return;
  const url = root.dataset.url;
  const lineageUrl = root.dataset.lineage;
  const pageSize = Number(root.dataset.page) || 200;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null && text !== "") e.textContent = String(text);
    return e;
  }

  async function load(ul, nodeId, offset) {
    const q = `${url}?id=${encodeURIComponent(nodeId)}&offset=${offset}&limit=${pageSize}`;
    const resp = await fetch(q, { headers: { Accept: "application/json" } });
    if (!resp.ok) {
      ul.append(el("li", "error", `could not load children (${resp.status})`));
      return null;
    }
    const data = await resp.json();
    const more = ul.querySelector(":scope > li.more");
    if (more) more.remove();
    for (const child of data.children) ul.append(item(child));
    const shown = data.offset + data.children.length;
    if (shown < data.total) {
      const li = el("li", "more");
      const btn = el("button", "more-btn", `… ${data.total - shown} more`);
      btn.type = "button";
      btn.addEventListener("click", () => { btn.disabled = true; load(ul, nodeId, shown); });
      li.append(btn);
      ul.append(li);
    }
    if (data.total === 0 && offset === 0 && ul === root) ul.append(el("li", "dim", "(nothing recorded)"));
    return data;
  }

  function item(c) {
    const li = el("li", "node");
    li.dataset.id = c.id;
    const toggle = el("button", "toggle", "▸");
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", "false");
    toggle.setAttribute("aria-label", "show children");
    li.append(toggle);
    if (c.line !== null && c.line !== undefined && c.line !== "") li.append(el("span", "line", `${c.line}:`));
    li.append(el("span", "name", c.name));
    li.append(el("span", "args", `(${c.used})`));
    if (c.returned) li.append(el("span", "ret", `→ ${c.returned}`));
    if (c.status) li.append(el("span", `status ${c.status.toLowerCase()}`, c.status));
    if (c.duration) li.append(el("span", "dur", c.duration));
    const link = el("a", "lin", "lineage");
    link.href = `${lineageUrl}?id=${encodeURIComponent(c.id)}`;
    li.append(link);
    if (c.error) li.append(el("div", "error", c.error));
    let kids = null;
    toggle.addEventListener("click", async () => {
      if (kids === null) {
        kids = el("ul", "tree");
        li.append(kids);
        toggle.disabled = true;
        const data = await load(kids, c.id, 0);
        toggle.disabled = false;
        if (data && data.total === 0) {
          toggle.textContent = "·";
          toggle.classList.add("leaf");
          toggle.disabled = true;
          return;
        }
        toggle.textContent = "▾";
        toggle.setAttribute("aria-expanded", "true");
        return;
      }
      const open = kids.hidden;
      kids.hidden = !open;
      toggle.textContent = open ? "▾" : "▸";
      toggle.setAttribute("aria-expanded", String(open));
    });
    return li;
  }

  load(root, root.dataset.node, 0).then(() => { root.dataset.state = "ready"; });
})();
