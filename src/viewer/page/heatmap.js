// heatmap.js — the heatmap canvas: cells, token labels (queries down the left, keys along the
// top), the selected token's row or column, the colorbar, and hit testing for the mouse.

/** CSS pixels for the longer side of the cell area, and the largest cell. */
const GRID = 560, MAX_CELL = 64;
/** Widest label area (CSS pixels); longer labels are cut with an ellipsis. */
const LABEL_MAX = 150;
const FONT = '"DejaVu Sans", system-ui, sans-serif';
const ACCENT = '#d6336c';

/** Geometry of the last drawing, for hit testing: view, cell size and grid origin. */
let geom = null;

function shortLabel(s, n) {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

/** Whether black text reads better than white on rgb (relative luminance, as the PNG decides). */
function darkText(rgb) {
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  return 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]) > 0.408;
}

/** A canvas sized in CSS pixels, sharp on high-density screens. */
function sized(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = w + 'px';
  canvas.style.height = h + 'px';
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** The label of a view's row (query) or column (key): the token, or a block's first token. */
function axisLabel(tokens, start, f, i) {
  return shortLabel(tokens[start + i * f], 18);
}

/**
 * Draws map m of item (tokens) in view v with colour table lut; sel is {side, index}.
 * Returns the colour range drawn, [lo, hi].
 */
function drawHeatmap(canvas, item, m, v, lut, sel) {
  const nk = item.keys.length;
  const { rows, cols } = viewCells(v);
  const values = viewValues(m, nk, v);
  const [lo, hi] = valueRange(values, v);
  const { cw, ch } = cellSize(rows, cols, GRID, MAX_CELL, MAX_CELL);
  const font = Math.max(9, Math.min(13, cw - 2, ch - 2));
  const rowStep = Math.max(1, Math.ceil((font + 3) / ch)), colStep = Math.max(1, Math.ceil((font + 3) / cw));

  const probe = canvas.getContext('2d');
  probe.font = `${font}px ${FONT}`;
  const widest = (tokens, start, f, n, step) => {
    let w = 0;
    for (let i = 0; i < n; i += step) w = Math.max(w, probe.measureText(axisLabel(tokens, start, f, i)).width);
    return Math.min(LABEL_MAX, Math.ceil(w)) + 12;
  };
  const x0 = widest(item.queries, v.r0, v.fr, rows, rowStep), y0 = widest(item.keys, v.c0, v.fc, cols, colStep);
  const ctx = sized(canvas, x0 + cols * cw + 4, y0 + rows * ch + 4);
  ctx.clearRect(0, 0, canvas.width, canvas.height);

  // Cells: one pixel per cell in an offscreen image, scaled up without smoothing.
  const img = new ImageData(cols, rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const o = 4 * (r * cols + c);
      if (cellHidden(v, r, c)) { img.data[o + 3] = 0; continue; }
      const rgb = colorAt(lut, (values[r * cols + c] - lo) / (hi - lo));
      img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
    }
  }
  const off = document.createElement('canvas');
  off.width = cols; off.height = rows;
  off.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, x0, y0, cols * cw, rows * ch);

  // Values in cells large enough to hold them (2 places, as the PNG; the tooltip has 4).
  if (cw >= 34 && ch >= 34) {
    ctx.font = `${Math.min(13, Math.floor(Math.min(cw, ch) / 3))}px ${FONT}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        if (cellHidden(v, r, c)) continue;
        const x = values[r * cols + c];
        ctx.fillStyle = darkText(colorAt(lut, (x - lo) / (hi - lo))) ? '#000' : '#fff';
        ctx.fillText(x.toFixed(2), x0 + (c + 0.5) * cw, y0 + (r + 0.5) * ch);
      }
    }
  }

  // In the overview, the blocks a click opens at full resolution.
  if (v.mode === 'overview') {
    ctx.strokeStyle = 'rgba(255,255,255,0.6)';
    ctx.lineWidth = 1;
    for (let q = ZOOM; q < v.r1; q += ZOOM) {
      const y = y0 + (q / v.fr) * ch;
      ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x0 + cols * cw, y); ctx.stroke();
    }
    for (let k = ZOOM; k < v.c1; k += ZOOM) {
      const x = x0 + (k / v.fc) * cw;
      ctx.beginPath(); ctx.moveTo(x, y0); ctx.lineTo(x, y0 + rows * ch); ctx.stroke();
    }
  }

  // Which row or column holds the selected token (if it is in view).
  const selRow = sel.side === 'query' && sel.index >= v.r0 && sel.index < v.r1 ? Math.floor((sel.index - v.r0) / v.fr) : -1;
  const selCol = sel.side === 'key' && sel.index >= v.c0 && sel.index < v.c1 ? Math.floor((sel.index - v.c0) / v.fc) : -1;

  // Labels: queries right-aligned on the left, keys reading upward along the top.
  ctx.font = `${font}px ${FONT}`;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  for (let r = 0; r < rows; r++) {
    if (r % rowStep !== 0 && r !== selRow) continue;
    ctx.fillStyle = r === selRow ? ACCENT : '#1d2330';
    ctx.font = `${r === selRow ? 'bold ' : ''}${font}px ${FONT}`;
    ctx.fillText(axisLabel(item.queries, v.r0, v.fr, r), x0 - 6, y0 + (r + 0.5) * ch);
  }
  ctx.textAlign = 'left';
  for (let c = 0; c < cols; c++) {
    if (c % colStep !== 0 && c !== selCol) continue;
    ctx.save();
    ctx.translate(x0 + (c + 0.5) * cw, y0 - 6);
    ctx.rotate(-Math.PI / 2);
    ctx.fillStyle = c === selCol ? ACCENT : '#1d2330';
    ctx.font = `${c === selCol ? 'bold ' : ''}${font}px ${FONT}`;
    ctx.fillText(axisLabel(item.keys, v.c0, v.fc, c), 0, 0);
    ctx.restore();
  }

  ctx.strokeStyle = ACCENT;
  ctx.lineWidth = 2;
  if (selRow >= 0) ctx.strokeRect(x0 - 1, y0 + selRow * ch - 1, cols * cw + 2, ch + 2);
  if (selCol >= 0) ctx.strokeRect(x0 + selCol * cw - 1, y0 - 1, cw + 2, rows * ch + 2);

  geom = { v, rows, cols, cw, ch, x0, y0, values };
  canvas.dataset.mode = v.mode;
  canvas.dataset.selected = `${sel.side}:${sel.index}`;
  return [lo, hi];
}

/**
 * What is under canvas point (x, y) in CSS pixels: {kind: 'cell', row, col}, {kind: 'row', row}
 * (a query label), {kind: 'col', col} (a key label), or null.
 */
function hitHeatmap(x, y) {
  if (!geom) return null;
  const { rows, cols, cw, ch, x0, y0 } = geom;
  const c = Math.floor((x - x0) / cw), r = Math.floor((y - y0) / ch);
  const inRows = r >= 0 && r < rows, inCols = c >= 0 && c < cols;
  if (inRows && inCols) return { kind: 'cell', row: r, col: c };
  if (inRows && x < x0) return { kind: 'row', row: r };
  if (inCols && y < y0) return { kind: 'col', col: c };
  return null;
}

/** Draws the vertical colorbar for [lo, hi], as tall as the heatmap's grid. */
function drawColorbar(canvas, lut, lo, hi) {
  const h = Math.max(120, geom ? geom.rows * geom.ch : 200);
  const top = geom ? geom.y0 : 0;
  const ctx = sized(canvas, 74, top + h + 4);
  const bar = ctx.createImageData(1, 256);
  for (let i = 0; i < 256; i++) {
    bar.data[4 * i] = lut[3 * (255 - i)];
    bar.data[4 * i + 1] = lut[3 * (255 - i) + 1];
    bar.data[4 * i + 2] = lut[3 * (255 - i) + 2];
    bar.data[4 * i + 3] = 255;
  }
  const off = document.createElement('canvas');
  off.width = 1; off.height = 256;
  off.getContext('2d').putImageData(bar, 0, 0);
  ctx.drawImage(off, 4, top, 16, h);
  ctx.strokeStyle = '#888';
  ctx.strokeRect(4, top, 16, h);
  ctx.fillStyle = '#1d2330';
  ctx.font = `11px ${FONT}`;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  for (const t of [0, 0.5, 1]) {
    const y = top + (1 - t) * h;
    const x = lo + t * (hi - lo);
    const label = x === 0 || Math.abs(x) >= 0.01 ? x.toFixed(3) : x.toExponential(2);
    ctx.fillText(label, 24, Math.min(Math.max(y, top + 6), top + h - 6));
  }
  canvas.dataset.range = `${lo} ${hi}`;
}
