// model.js — the page's data: the embedded doc, decoded maps, and what the heatmap shows (a view).
// Concatenated with heatmap.js, lines.js and app.js into one function scope by src/viewer/page.rs.

/** The doc's metadata (titles, tokens, facts, colour tables); weights are decoded on demand. */
const DOC = JSON.parse(document.getElementById('viewer-data').textContent);
/** Tokens per side above which the heatmap opens as block means (clicking zooms in). */
const OVERVIEW_ABOVE = 256;
/** Tokens per side of a zoomed block. */
const ZOOM = 128;

/** Colour tables: name → Uint8Array of 256 RGB triples (the crate's heatmap tables), in order. */
const LUTS = {};
for (const [name, hex] of DOC.luts) {
  const t = new Uint8Array(768);
  for (let i = 0; i < 768; i++) t[i] = parseInt(hex.substr(2 * i, 2), 16);
  LUTS[name] = t;
}

/** The colour of position t on a map, as the crate draws it: entry ⌊t·256⌋, clamped; NaN grey. */
function colorAt(lut, t) {
  if (Number.isNaN(t)) return [128, 128, 128];
  const i = Math.min(255, Math.max(0, Math.floor(Math.min(1, Math.max(0, t)) * 256)));
  return [lut[3 * i], lut[3 * i + 1], lut[3 * i + 2]];
}

const decoded = new Map();

/** The map of (item, layer, head): a Float32Array of queries × keys, row-major. */
function mapOf(item, layer, head) {
  const id = `w-${item}-${layer}-${head}`;
  let m = decoded.get(id);
  if (m) return m;
  const bin = atob(document.getElementById(id).textContent.trim());
  const view = new DataView(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
  m = new Float32Array(bin.length / 4);
  for (let i = 0; i < m.length; i++) m[i] = view.getFloat32(4 * i, true);
  decoded.set(id, m);
  return m;
}

/** Where query q of item it sits among its keys: its own index, or its listed position. */
function queryPosition(it, q) {
  return it.positions ? it.positions[q] : q;
}

/** Whether (query q, key k) of the item shown is hidden: the masked triangle of a causal run. */
function hidden(q, k) {
  return DOC.causal && k > queryPosition(DOC.items[S.item], q);
}

/**
 * What the heatmap shows: token ranges [r0, r1) × [c0, c1) in blocks of fr queries × fc keys
 * (each side averaged only when it is long; `picked` rows of a long prompt never are).
 * mode is 'full' (everything, one cell per weight), 'overview' (block means) or 'zoom'.
 */
function makeView(nq, nk, zoom, picked) {
  if (zoom) {
    return { mode: 'zoom', fr: 1, fc: 1, r0: zoom.r0, r1: Math.min(nq, zoom.r0 + ZOOM),
             c0: zoom.c0, c1: Math.min(nk, zoom.c0 + ZOOM) };
  }
  // Picked rows sit at scattered positions, each with its own mask: never averaged together.
  const fr = picked ? 1 : Math.ceil(nq / OVERVIEW_ABOVE), fc = Math.ceil(nk / OVERVIEW_ABOVE);
  return { mode: fr > 1 || fc > 1 ? 'overview' : 'full', fr, fc, r0: 0, r1: nq, c0: 0, c1: nk };
}

/** Rows and columns of cells in a view. */
function viewCells(v) {
  return { rows: Math.ceil((v.r1 - v.r0) / v.fr), cols: Math.ceil((v.c1 - v.c0) / v.fc) };
}

/** The token range of cell (row, col) of a view: [q0, q1) × [k0, k1). */
function cellTokens(v, row, col) {
  const q0 = v.r0 + row * v.fr, k0 = v.c0 + col * v.fc;
  return { q0, q1: Math.min(v.r1, q0 + v.fr), k0, k1: Math.min(v.c1, k0 + v.fc) };
}

/**
 * Cell width and height for a grid of rows × cols within `grid` pixels: square cells of up to
 * `max`, except that a grid much wider than tall (a few picked rows of a long prompt) gets
 * taller cells, up to `tall`, so its rows stay readable.
 */
function cellSize(rows, cols, grid, max, tall) {
  const cw = Math.max(1, Math.min(max, Math.floor(grid / Math.max(rows, cols))));
  const ch = Math.max(cw, Math.min(max, tall, Math.floor(grid / rows)));
  return { cw, ch };
}

/** Whether a whole cell is hidden (every token pair in it masked). */
function cellHidden(v, row, col) {
  const t = cellTokens(v, row, col);
  return hidden(t.q1 - 1, t.k0);
}

/**
 * The value of each cell of a view of map m (nk keys per row): the weight itself, or the mean
 * of a block's weights (summed in double, row by row). Returns a Float64Array of rows × cols.
 */
function viewValues(m, nk, v) {
  const { rows, cols } = viewCells(v);
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const t = cellTokens(v, r, c);
      let sum = 0;
      for (let q = t.q0; q < t.q1; q++) {
        for (let k = t.k0; k < t.k1; k++) sum += m[q * nk + k];
      }
      out[r * cols + c] = sum / ((t.q1 - t.q0) * (t.k1 - t.k0));
    }
  }
  return out;
}

/**
 * The colour range of shown, unhidden values: [min, max], widened to include 0 and 1 when
 * degenerate (as the crate's PNG does).
 */
function valueRange(values, v) {
  const { rows, cols } = viewCells(v);
  let lo = Infinity, hi = -Infinity;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const x = values[r * cols + c];
      if (cellHidden(v, r, c) || !Number.isFinite(x)) continue;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  if (!(lo < hi)) {
    lo = Math.min(Number.isFinite(lo) ? lo : 0, 0);
    hi = Math.max(Number.isFinite(hi) ? hi : 1, 1);
  }
  return [lo, hi];
}

/** The weight formatted as the tooltip and the tests read it: 4 places. */
function fmt(x) {
  return x.toFixed(4);
}
