// lines.js — the lines view (like BertViz's head view): query tokens on the left, key tokens on
// the right, a line from the selected token to each token on the other side, its opacity
// proportional to the weight (the strongest line fully opaque).

const SVGNS = 'http://www.w3.org/2000/svg';
const ROW_H = 20, COL_W = 130, GAP = 130;

/** The y of token i's row. */
function lineY(i) {
  return 6 + (i + 0.5) * ROW_H;
}

/** Rebuilds the lines view of item for map m and selection sel ({side, index}). */
function drawLines(svg, item, m, sel) {
  const nq = item.queries.length, nk = item.keys.length;
  const w = 2 * COL_W + GAP, h = Math.max(nq, nk) * ROW_H + 12;
  svg.setAttribute('width', w);
  svg.setAttribute('height', h);
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  while (svg.firstChild) svg.removeChild(svg.firstChild);

  // Lines first, so the tokens are drawn over them.
  const pairs = [];
  if (sel.side === 'query' && sel.index < nq) {
    for (let k = 0; k < nk; k++) if (!hidden(sel.index, k)) pairs.push([sel.index, k]);
  } else if (sel.side === 'key' && sel.index < nk) {
    for (let q = 0; q < nq; q++) if (!hidden(q, sel.index)) pairs.push([q, sel.index]);
  }
  let max = 0;
  for (const [q, k] of pairs) max = Math.max(max, m[q * nk + k]);
  const group = document.createElementNS(SVGNS, 'g');
  group.setAttribute('id', 'lines-edges');
  for (const [q, k] of pairs) {
    const weight = m[q * nk + k];
    const line = document.createElementNS(SVGNS, 'line');
    line.setAttribute('x1', COL_W);
    line.setAttribute('y1', lineY(q));
    line.setAttribute('x2', COL_W + GAP);
    line.setAttribute('y2', lineY(k));
    line.setAttribute('stroke-opacity', max > 0 ? (weight / max).toFixed(4) : '0');
    line.dataset.query = q;
    line.dataset.key = k;
    line.dataset.weight = weight;
    group.appendChild(line);
  }
  svg.appendChild(group);

  const column = (tokens, side, x, anchor) => {
    tokens.forEach((t, i) => {
      const text = document.createElementNS(SVGNS, 'text');
      text.setAttribute('x', x);
      text.setAttribute('y', lineY(i));
      text.setAttribute('text-anchor', anchor);
      text.setAttribute('dominant-baseline', 'middle');
      text.setAttribute('class', 'tok' + (sel.side === side && sel.index === i ? ' selected' : ''));
      text.dataset.side = side;
      text.dataset.index = i;
      text.textContent = shortLabel(t, 16);
      const title = document.createElementNS(SVGNS, 'title');
      title.textContent = `${side} ${i}: ${t}`;
      text.appendChild(title);
      svg.appendChild(text);
    });
  };
  column(item.queries, 'query', COL_W - 6, 'end');
  column(item.keys, 'key', COL_W + GAP + 6, 'start');
}
