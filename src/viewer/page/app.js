// app.js — state, selectors, the layers × heads overview, the tooltip, and the hooks the browser
// tests drive (window.selfattnViewer). Everything redraws from the state in render().

const $ = (id) => document.getElementById(id);
const S = {
  item: 0,
  layer: 0,
  head: DOC.defaultHead,
  cmap: DOC.colormap,
  sel: { side: 'query', index: 0 },
  zoom: null, // {r0, c0}: the zoomed block's first query and key
  score: -1, // the head score the overview is coloured by (an index into DOC.scores), or -1
  order: 'index', // the overview's order of each layer's heads: 'index', 'high' or 'low'
};

const itemOf = () => DOC.items[S.item];
const currentMap = () => mapOf(S.item, S.layer, S.head);
const currentView = () => makeView(itemOf().queries.length, itemOf().keys.length, S.zoom, Boolean(itemOf().positions));

/** Fills a selector with labels; option values are the indices, or the labels when byName. */
function fillSelect(select, labels, value, byName) {
  select.textContent = '';
  labels.forEach((label, i) => {
    const o = document.createElement('option');
    o.value = byName ? label : String(i);
    o.textContent = label;
    select.appendChild(o);
  });
  select.value = String(value);
}

function setup() {
  document.title = DOC.title;
  $('title').textContent = DOC.title;
  fillSelect($('sel-item'), DOC.items.map((it, i) => it.label || `batch element ${i}`), S.item);
  fillSelect($('sel-layer'), DOC.layers, S.layer);
  fillSelect($('sel-head'), DOC.heads, S.head);
  const cmaps = Object.keys(LUTS);
  fillSelect($('sel-cmap'), cmaps, S.cmap, true);
  $('ctl-item').hidden = DOC.items.length < 2;
  $('ctl-layer').hidden = DOC.layers.length < 2;
  $('ctl-head').hidden = DOC.heads.length < 2;
  $('overview-section').hidden = DOC.layers.length < 2;
  $('overview-controls').hidden = DOC.scores.length === 0;
  fillSelect($('sel-score'), ['nothing', ...DOC.scores.map((s) => s.name)], 0);
  $('sel-score').addEventListener('change', (e) => { S.score = Number(e.target.value) - 1; render(true); });
  $('sel-order').addEventListener('change', (e) => { S.order = e.target.value; render(true); });

  $('sel-item').addEventListener('change', (e) => {
    S.item = Number(e.target.value);
    S.zoom = null;
    const it = itemOf();
    const n = S.sel.side === 'query' ? it.queries.length : it.keys.length;
    S.sel.index = Math.min(S.sel.index, n - 1);
    render(true);
  });
  $('sel-layer').addEventListener('change', (e) => { S.layer = Number(e.target.value); render(false); });
  $('sel-head').addEventListener('change', (e) => { S.head = Number(e.target.value); render(false); });
  $('sel-cmap').addEventListener('change', (e) => { S.cmap = e.target.value; render(true); });
  $('zoom-out').addEventListener('click', () => { S.zoom = null; render(false); });

  const facts = $('facts');
  for (const [k, v] of DOC.facts) {
    const tr = facts.insertRow();
    const th = document.createElement('th');
    th.textContent = k;
    tr.appendChild(th);
    tr.insertCell().textContent = v;
  }
  if (DOC.facts.length === 0) $('facts-section').hidden = true;

  const canvas = $('heatmap');
  canvas.addEventListener('mousemove', (e) => showTip(e, hitAt(e)));
  canvas.addEventListener('mouseleave', () => { $('tooltip').hidden = true; });
  canvas.addEventListener('click', (e) => clickHeatmap(hitAt(e)));
  $('lines').addEventListener('click', (e) => {
    const t = e.target.closest('text.tok');
    if (t) select(t.dataset.side, Number(t.dataset.index));
  });
}

function hitAt(e) {
  const r = $('heatmap').getBoundingClientRect();
  return hitHeatmap(e.clientX - r.left, e.clientY - r.top);
}

/** Selects token i on side ('query' or 'key') in both views. */
function select(side, index) {
  S.sel = { side, index };
  render(false);
}

function clickHeatmap(hit) {
  if (!hit) return;
  const v = geom.v;
  if (hit.kind === 'cell' && v.mode === 'overview') {
    const t = cellTokens(v, hit.row, hit.col);
    S.zoom = { r0: Math.floor(t.q0 / ZOOM) * ZOOM, c0: Math.floor(t.k0 / ZOOM) * ZOOM };
    render(false);
  } else if (hit.kind === 'cell' || hit.kind === 'row') {
    select('query', cellTokens(v, hit.row, 0).q0);
  } else if (hit.kind === 'col') {
    select('key', cellTokens(v, 0, hit.col).k0);
  }
}

/** "query 7" or "queries 7–9" for queries [q0, q1) of the item, by their positions. */
function queriesText(it, q0, q1) {
  const a = queryPosition(it, q0), b = queryPosition(it, q1 - 1);
  return q1 - q0 === 1 ? `query ${a}` : `queries ${a}–${b}`;
}

/** "key 7" or "keys 7–9" for keys [k0, k1). */
function keysText(k0, k1) {
  return k1 - k0 === 1 ? `key ${k0}` : `keys ${k0}–${k1 - 1}`;
}

/** Positions as a `--rows` list: sorted, runs of consecutive positions as `a-b`. */
function rowsArg(positions) {
  const sorted = [...new Set(positions)].sort((a, b) => a - b);
  const parts = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j;
  }
  return parts.join(',');
}

/**
 * A page of picked rows holds only their weights; what another position looks at takes a run
 * with it added: the hint names the command line's --rows for the selected key.
 */
function rowsHint(it) {
  if (!it.positions) return '';
  if (S.sel.side === 'key' && !it.positions.includes(S.sel.index)) {
    return `This page holds the rows of positions ${rowsArg(it.positions)} only. To see what ` +
      `position ${S.sel.index} looks at, rerun with --rows ${rowsArg([...it.positions, S.sel.index])}.`;
  }
  return `This page holds the rows of positions ${rowsArg(it.positions)} only (--rows); select a ` +
    'key to get the --rows that adds its own row.';
}

/** The tooltip's text for a hit: "query → key: 0.1234", a block's mean, or a label. */
function tipText(hit) {
  const it = itemOf(), v = geom.v;
  if (hit.kind === 'row') {
    const q = cellTokens(v, hit.row, 0).q0;
    return `${queriesText(it, q, q + 1)}: ${it.queries[q]}`;
  }
  if (hit.kind === 'col') return `key ${cellTokens(v, 0, hit.col).k0}: ${it.keys[cellTokens(v, 0, hit.col).k0]}`;
  const t = cellTokens(v, hit.row, hit.col);
  if (v.fr > 1 || v.fc > 1) {
    const where = `${queriesText(it, t.q0, t.q1)} → ${keysText(t.k0, t.k1)}`;
    if (cellHidden(v, hit.row, hit.col)) return `${where}: masked (causal)`;
    const x = geom.values[hit.row * geom.cols + hit.col];
    return `${where}: block mean ${fmt(x)} (click to zoom in)`;
  }
  const head = `${it.queries[t.q0]} → ${it.keys[t.k0]}`;
  if (hidden(t.q0, t.k0)) return `${head}: masked (causal)`;
  return `${head}: ${fmt(currentMap()[t.q0 * it.keys.length + t.k0])}`;
}

function showTip(e, hit) {
  const tip = $('tooltip');
  if (!hit) { tip.hidden = true; return; }
  tip.textContent = tipText(hit);
  tip.hidden = false;
  tip.style.left = `${e.clientX + 14}px`;
  tip.style.top = `${e.clientY + 14}px`;
}

/** The shown item's values of the chosen score (layers × heads, null where none), or null. */
function scoreValues() {
  return S.score < 0 ? null : DOC.scores[S.score].values[S.item];
}

/**
 * The overview's columns of layer l: head indices, in number order, or by the chosen score
 * (heads without one, such as the average, stay last in number order).
 */
function headOrder(l) {
  const order = DOC.heads.map((_, h) => h);
  const values = scoreValues();
  if (!values || S.order === 'index') return order;
  const at = (h) => values[l * DOC.heads.length + h];
  const scored = order.filter((h) => at(h) !== null);
  scored.sort((a, b) => (S.order === 'high' ? at(b) - at(a) : at(a) - at(b)) || a - b);
  return scored.concat(order.filter((h) => at(h) === null));
}

/** One thumbnail of the overview: the block-mean map of (layer l, head h), click to open. */
function thumbnail(l, h, v, cell) {
  const it = itemOf(), nk = it.keys.length;
  const { rows, cols } = viewCells(v);
  const values = viewValues(mapOf(S.item, l, h), nk, v);
  const [lo, hi] = valueRange(values, v);
  const img = new ImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const hide = cellHidden(v, Math.floor(i / cols), i % cols);
    const rgb = colorAt(LUTS[S.cmap], (values[i] - lo) / (hi - lo));
    img.data.set([rgb[0], rgb[1], rgb[2], hide ? 0 : 255], 4 * i);
  }
  const off = document.createElement('canvas');
  off.width = cols; off.height = rows;
  off.getContext('2d').putImageData(img, 0, 0);
  const c = document.createElement('canvas');
  c.id = `thumb-${l}-${h}`;
  c.dataset.layer = l;
  c.dataset.head = h;
  c.title = `${DOC.layers[l]}, ${DOC.heads[h]}`;
  const ctx = sized(c, cols * cell.cw, rows * cell.ch);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, cols * cell.cw, rows * cell.ch);
  c.addEventListener('click', () => {
    S.layer = l;
    S.head = h;
    render(false);
    $('heatmap-section').scrollIntoView({ block: 'nearest' });
  });
  return c;
}

/**
 * The layers × heads overview: a small block-mean map per (layer, head), click to open. With a
 * score chosen, each map is labelled with its value on a swatch of the colormap (the score's
 * range over every head of the item), and each layer's heads may be ordered by it.
 */
function drawOverview() {
  if (DOC.layers.length < 2) return;
  const box = $('overview');
  box.textContent = '';
  box.style.gridTemplateColumns = `auto repeat(${DOC.heads.length}, auto)`;
  const it = itemOf(), nq = it.queries.length, nk = it.keys.length;
  const v = { mode: 'thumb', fr: Math.ceil(nq / 48), fc: Math.ceil(nk / 48), r0: 0, r1: nq, c0: 0, c1: nk };
  const { rows, cols } = viewCells(v);
  const cell = cellSize(rows, cols, 48, 48, 8);
  const values = scoreValues();
  const ordered = values && S.order !== 'index';
  const known = values ? values.filter((x) => x !== null) : [];
  const [lo, hi] = [Math.min(...known), Math.max(...known)];
  const range = known.length ? `Range over these heads: ${fmt(lo)} to ${fmt(hi)}.` : 'No head has a value here.';
  $('score-about').textContent = values ? `${DOC.scores[S.score].name}: ${DOC.scores[S.score].about}. ${range}` : '';
  $('ctl-order').hidden = !values;
  box.appendChild(document.createElement('span'));
  DOC.heads.forEach((head, i) => {
    const s = document.createElement('span');
    s.className = 'label';
    // Ordered columns are ranks; each map then names its head.
    s.textContent = ordered ? `#${i + 1}` : head;
    box.appendChild(s);
  });
  DOC.layers.forEach((layer, l) => {
    const s = document.createElement('span');
    s.className = 'label';
    s.textContent = layer;
    box.appendChild(s);
    for (const h of headOrder(l)) {
      const wrap = document.createElement('div');
      wrap.className = 'thumb';
      wrap.appendChild(thumbnail(l, h, v, cell));
      const x = values ? values[l * DOC.heads.length + h] : null;
      if (values) {
        const label = document.createElement('span');
        label.className = 'score';
        label.id = `score-${l}-${h}`;
        const name = ordered ? `${DOC.heads[h]}: ` : '';
        label.textContent = x === null ? (ordered ? DOC.heads[h] : '–') : `${name}${fmt(x)}`;
        if (x !== null) {
          const rgb = colorAt(LUTS[S.cmap], hi > lo ? (x - lo) / (hi - lo) : 0.5);
          label.style.background = `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;
          label.style.color = darkText(rgb) ? '#000' : '#fff';
        }
        wrap.appendChild(label);
      }
      box.appendChild(wrap);
    }
  });
}

/** Redraws everything from S; overview too when `all` (item or colormap changed). */
function render(all) {
  const it = itemOf(), m = currentMap(), v = currentView(), lut = LUTS[S.cmap];
  $('sel-item').value = String(S.item);
  $('sel-layer').value = String(S.layer);
  $('sel-head').value = String(S.head);
  $('sel-score').value = String(S.score + 1);
  $('sel-order').value = S.order;
  const [lo, hi] = drawHeatmap($('heatmap'), it, m, v, lut, S.sel);
  drawColorbar($('colorbar'), lut, lo, hi);
  drawLines($('lines'), it, m, S.sel);
  // Keep the selected token in sight inside the lines view's own scroll box.
  const wrap = $('lines-wrap');
  const y = lineY(S.sel.index);
  if (y < wrap.scrollTop || y > wrap.scrollTop + wrap.clientHeight) wrap.scrollTop = y - wrap.clientHeight / 2;
  if (all) drawOverview();
  for (const c of document.querySelectorAll('#overview canvas')) {
    c.classList.toggle('current', Number(c.dataset.layer) === S.layer && Number(c.dataset.head) === S.head);
  }
  const where = [DOC.layers.length > 1 ? DOC.layers[S.layer] : '', DOC.heads.length > 1 ? DOC.heads[S.head] : '']
    .filter(Boolean).join(', ');
  $('heatmap-caption').textContent = `Heatmap${where ? ' — ' + where : ''}` +
    (v.mode === 'overview' ? ` (${v.fr}×${v.fc} block means of ${it.queries.length}×${it.keys.length}; click a block to zoom in)` : '');
  $('zoom-bar').hidden = v.mode !== 'zoom';
  if (v.mode === 'zoom') {
    const shown = `${queriesText(it, v.r0, v.r1)} × ${keysText(v.c0, v.c1)}`;
    $('zoom-info').textContent = `${shown[0].toUpperCase()}${shown.slice(1)} at full resolution.`;
  }
  $('rows-hint').hidden = !it.positions;
  $('rows-hint').textContent = rowsHint(it);
  const tokens = S.sel.side === 'query' ? it.queries : it.keys;
  $('selection').textContent = `Selected ${S.sel.side} ${S.sel.index}: ${tokens[S.sel.index]}`;
  $('lines-caption').textContent = S.sel.side === 'query'
    ? 'Lines from the selected query to every key; opacity ∝ weight.'
    : 'Lines from every query to the selected key; opacity ∝ weight.';
  document.body.dataset.state = JSON.stringify(hooks.state());
}

/** Scrolls so that page point (x, y) of element el is in the viewport; returns client coordinates. */
function reveal(el, x, y) {
  let r = el.getBoundingClientRect();
  if (r.top + y < 0 || r.top + y >= window.innerHeight || r.left + x < 0 || r.left + x >= window.innerWidth) {
    window.scrollBy(r.left + x - window.innerWidth / 2, r.top + y - window.innerHeight / 2);
    r = el.getBoundingClientRect();
  }
  return { x: r.left + x, y: r.top + y };
}

/** Read-only hooks for tests and the curious: where things are and what is shown. */
const hooks = {
  state: () => {
    const v = currentView(), cells = viewCells(v);
    return { item: S.item, layer: S.layer, head: S.head, cmap: S.cmap, selection: { ...S.sel },
             score: S.score < 0 ? null : DOC.scores[S.score].name, order: S.order,
             mode: v.mode, view: { r0: v.r0, r1: v.r1, c0: v.c0, c1: v.c1, f: Math.max(v.fr, v.fc), fr: v.fr, fc: v.fc,
                     rows: cells.rows, cols: cells.cols, cw: geom.cw, ch: geom.ch },
             queries: itemOf().queries.length, keys: itemOf().keys.length };
  },
  /** Client coordinates of the cell showing (query q, key k), or null when not in view. */
  cellCenter: (q, k) => {
    const v = geom.v;
    if (q < v.r0 || q >= v.r1 || k < v.c0 || k >= v.c1) return null;
    const r = Math.floor((q - v.r0) / v.fr), c = Math.floor((k - v.c0) / v.fc);
    return reveal($('heatmap'), geom.x0 + (c + 0.5) * geom.cw, geom.y0 + (r + 0.5) * geom.ch);
  },
  /** Client coordinates of the heatmap's label of query q ('query') or key k ('key'). */
  labelCenter: (side, i) => {
    const v = geom.v;
    if (side === 'query') return reveal($('heatmap'), geom.x0 / 2, geom.y0 + (Math.floor((i - v.r0) / v.fr) + 0.5) * geom.ch);
    return reveal($('heatmap'), geom.x0 + (Math.floor((i - v.c0) / v.fc) + 0.5) * geom.cw, geom.y0 / 2);
  },
  /** Client coordinates of token i on side ('query' or 'key') of the lines view. */
  tokenCenter: (side, i) => {
    const t = document.querySelector(`#lines text.tok[data-side="${side}"][data-index="${i}"]`);
    t.scrollIntoView({ block: 'center', inline: 'nearest' });
    const r = t.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
  },
  /** Client coordinates of the overview's map of (layer, head). */
  thumbCenter: (l, h) => {
    const c = $(`thumb-${l}-${h}`);
    c.scrollIntoView({ block: 'center' });
    const r = c.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
  },
  /** Per layer, the overview's heads from left to right. */
  overviewOrder: () => DOC.layers.map((_, l) =>
    [...document.querySelectorAll(`#overview canvas[data-layer="${l}"]`)].map((c) => Number(c.dataset.head))),
  /** The weight of (query q, key k) in the map shown. */
  value: (q, k) => currentMap()[q * itemOf().keys.length + k],
};

try {
  setup();
  render(true);
  window.selfattnViewer = hooks;
  document.body.dataset.ready = '1';
} catch (err) {
  document.body.dataset.ready = 'error';
  throw err;
}
