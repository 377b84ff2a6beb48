// Draws the graph of a history or lineage page with the vendored Cytoscape.js; the elements
// come from a JSON block the server wrote. Clicking a node opens its page.
"use strict";
(function () {
  const box = document.querySelector(".graph");
  const dataEl = document.getElementById("graph-data");
  if (!box || !dataEl || typeof cytoscape !== "function") return;
  const elements = JSON.parse(dataEl.textContent);
  const lineage = box.dataset.kind === "lineage";
  // PROV's usual colours: entities yellow ellipses, activities blue rectangles, agents orange.
  const style = [
    { selector: "node", style: {
      label: "data(label)", "font-size": 12, "text-wrap": "ellipsis", "text-max-width": 160,
      "text-valign": "center", "text-halign": "center", width: "label", height: 24, padding: 8,
      shape: "round-rectangle", "background-color": "#9fb1fc", "border-width": 1, "border-color": "#556" } },
    { selector: 'node[cls = "Entity"]', style: { shape: "ellipse", "background-color": "#fffc87" } },
    { selector: 'node[cls = "Agent"]', style: { shape: "pentagon", "background-color": "#fed37f" } },
    { selector: "node[?start]", style: { "border-width": 3, "border-color": "#c00" } },
    { selector: 'node[status = "failed"]', style: { "background-color": "#f7a1a1" } },
    { selector: "edge", style: {
      width: 1, "curve-style": "bezier", "target-arrow-shape": "triangle", "line-color": "#889",
      "target-arrow-color": "#889", label: "data(label)", "font-size": 8, color: "#556",
      "text-rotation": "autorotate" } },
  ];
  const cy = cytoscape({
    container: box, elements: elements, style: style, wheelSensitivity: 0.3,
    layout: { name: "breadthfirst", directed: true, spacingFactor: lineage ? 0.7 : 1.4, padding: 10 },
  });
  cy.on("tap", "node", (evt) => {
    const n = evt.target;
    const href = lineage ? `${box.dataset.href}?id=${encodeURIComponent(n.id())}` : n.data("href");
    if (href) window.location.href = href;
  });
  box.dataset.nodes = String(cy.nodes().length);
  box.dataset.state = "ready";
  window.kgGraph = cy;  // for tests and the console
})();
