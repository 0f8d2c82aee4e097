//! Whole-figure tests: several panels, one scale, one colorbar; colours read back from the PNG.

use super::tests::{
    assert_errors_mention, labels, numbered, samples_dir, save_and_reload, save_sample, values,
};
use super::*;

/// The colour 2 px inside the top-left corner of a cell of `panel` (away from annotations), or
/// the cell's only pixel row when cells are tiny.
fn cell_pixel(img: &RgbImage, map: &Heatmap, panel: usize, row: usize, col: usize) -> [u8; 3] {
    let (x, y, w, _) = map.panel_cell_rect(panel, row, col);
    let inset = if w >= 5 { 2 } else { 0 };
    img.get_pixel(x + inset, y + inset).0
}

/// Panels titled "Head i", one per `chunk` of `all`.
fn panels_of<'a>(all: &'a [f32], chunk: usize) -> Vec<Panel<'a>> {
    all.chunks(chunk)
        .enumerate()
        .map(|(i, values)| Panel {
            values,
            title: format!("Head {i}"),
        })
        .collect()
}

/// Row-wise softmax of `logits` (`n` wide), like real attention weights.
fn softmax_rows(logits: &[f32], n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks(n) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = row.iter().map(|x| (x - max).exp()).collect();
        let sum: f32 = exps.iter().sum();
        out.extend(exps.iter().map(|e| e / sum));
    }
    out
}

/// Checks every panel's grid is inside the image and no two grids overlap.
fn check_grids(map: &Heatmap, panels: usize, rows: usize, cols: usize) {
    assert_eq!(map.panel_count(), panels);
    let (w, h) = map.image.dimensions();
    let rects: Vec<_> = (0..panels).map(|p| map.panel_grid_rect(p)).collect();
    for (p, &(x, y, gw, gh)) in rects.iter().enumerate() {
        assert_eq!(
            (gw, gh),
            (cols as u32 * map.cell_size(), rows as u32 * map.cell_size())
        );
        assert!(x + gw <= w && y + gh <= h, "panel {p} outside {w}×{h}");
        let (cx, cy, cw, ch) = map.panel_cell_rect(p, rows - 1, cols - 1);
        assert_eq!((cx + cw, cy + ch), (x + gw, y + gh));
        for &(ox, oy, ow, oh) in &rects[p + 1..] {
            let apart = x + gw <= ox || ox + ow <= x || y + gh <= oy || oy + oh <= y;
            assert!(apart, "panel {p} overlaps another");
        }
    }
}

#[test]
fn two_heads_and_average_share_one_scale_and_one_colorbar() {
    let words = labels(&["The", "cat", "sat", "down"]);
    let head0: Vec<f32> = (0..16).map(|i| i as f32 / 30.0).collect(); // 0 … 0.5
    let head1: Vec<f32> = (0..16).map(|i| 0.25 + i as f32 / 20.0).collect(); // 0.25 … 1
    let average: Vec<f32> = head0
        .iter()
        .zip(&head1)
        .map(|(a, b)| (a + b) / 2.0)
        .collect();
    let panels = [
        Panel {
            values: &head0,
            title: "Head 0".into(),
        },
        Panel {
            values: &head1,
            title: "Head 1".into(),
        },
        Panel {
            values: &average,
            title: "Average".into(),
        },
    ];
    let mut spec = FigureSpec::new(&panels, 4, 4, &words, &words);
    spec.style.title = "Two heads and their average";
    let map = render_figure(&spec).unwrap();
    let img = save_and_reload(&map);
    assert_eq!(img, map.image);
    check_grids(&map, 3, 4, 4);

    // Three panels side by side in one row, the picture wider than tall and within the bound.
    let (w, h) = img.dimensions();
    let grids: Vec<_> = (0..3).map(|p| map.panel_grid_rect(p)).collect();
    assert!(grids[0].0 < grids[1].0 && grids[1].0 < grids[2].0);
    assert!(grids.iter().all(|g| g.1 == grids[0].1));
    assert!(w > h && w <= DEFAULT_MAX_FIGURE_WIDTH, "{w}×{h}");
    assert!(map.cell_size() >= 40, "cells of {} px", map.cell_size());

    // One scale over all panels: 0 from head 0, 1 from head 1.
    let scale = map.scale();
    assert_eq!((scale.lo, scale.hi), (0.0, 1.0));
    for (p, vals) in [&head0, &head1, &average].into_iter().enumerate() {
        for (row, col) in [(0, 0), (1, 2), (2, 1), (3, 3)] {
            let want = scale.color(vals[row * 4 + col]);
            assert_eq!(
                cell_pixel(&img, &map, p, row, col),
                want,
                "panel {p} cell ({row}, {col})"
            );
        }
    }
    // 0.5 is head 0's largest value and in the middle of head 1: the same colour in both, and
    // not the top colour a per-panel scale would have given head 0.
    assert_eq!(head0[15], 0.5);
    assert_eq!(head1[5], 0.5);
    let in_head0 = cell_pixel(&img, &map, 0, 3, 3);
    assert_eq!(in_head0, cell_pixel(&img, &map, 1, 1, 1));
    assert_eq!(in_head0, Colormap::Viridis.rgb(0.5));
    assert_ne!(in_head0, Colormap::Viridis.rgb(1.0));
    assert_eq!(cell_pixel(&img, &map, 1, 3, 3), Colormap::Viridis.rgb(1.0));

    // Exactly one colorbar, right of the last panel: along the first cell row the top colour
    // appears once, as one bar-wide run, and nowhere between the panels.
    let y = grids[0].1 + 1;
    let top = Colormap::Viridis.rgb(1.0);
    let hits: Vec<u32> = (0..w).filter(|&x| img.get_pixel(x, y).0 == top).collect();
    assert_eq!(hits.len(), 20, "{hits:?}");
    assert_eq!(hits[19] - hits[0], 19, "{hits:?}");
    assert!(hits[0] > grids[2].0 + grids[2].2);
    let bottom_y = grids[0].1 + grids[0].3 - 1;
    assert!(
        (hits[0]..=hits[19]).all(|x| img.get_pixel(x, bottom_y).0 == Colormap::Viridis.rgb(0.0))
    );
    for pair in grids.windows(2) {
        let gap = (pair[0].0 + pair[0].2 + 2..pair[1].0 - 2).map(|x| img.get_pixel(x, y).0);
        assert!(gap.into_iter().all(|p| p == BACKGROUND));
    }
}

#[test]
fn eight_panels_wrap_into_two_rows_of_four() {
    let all = values(8 * 36);
    let panels = panels_of(&all, 36);
    let words = numbered(6);
    let map = render_figure(&FigureSpec::new(&panels, 6, 6, &words, &words)).unwrap();
    check_grids(&map, 8, 6, 6);
    let grids: Vec<_> = (0..8).map(|p| map.panel_grid_rect(p)).collect();
    for p in 0..8 {
        let (row0, col0) = (grids[p % 4], grids[4 + p % 4]);
        assert_eq!(grids[p].1, if p < 4 { row0.1 } else { col0.1 });
        assert_eq!(col0.0, row0.0, "grid column {} lines up", p % 4);
    }
    // The second grid row starts below the first with room for its titles.
    assert!(grids[4].1 > grids[0].1 + grids[0].3 + 12);
    let img = save_and_reload(&map);
    assert!(img.width() <= DEFAULT_MAX_FIGURE_WIDTH);
    let scale = map.scale();
    for (p, vals) in all.chunks(36).enumerate() {
        for row in 0..6 {
            for col in 0..6 {
                let want = scale.color(vals[row * 6 + col]);
                assert_eq!(cell_pixel(&img, &map, p, row, col), want, "panel {p}");
            }
        }
    }
    // Asked for three per row: 3 + 3 + 2.
    let mut spec = FigureSpec::new(&panels, 6, 6, &words, &words);
    spec.columns = Some(3);
    let three = render_figure(&spec).unwrap();
    let ys: Vec<u32> = (0..8).map(|p| three.panel_grid_rect(p).1).collect();
    assert!(ys[0] == ys[2] && ys[2] < ys[3] && ys[3] == ys[5] && ys[5] < ys[6] && ys[6] == ys[7]);
}

#[test]
fn twelve_panels_of_50_shrink_to_the_width_bound() {
    let n = 50;
    let all = values(12 * n * n);
    let panels = panels_of(&all, n * n);
    let words = numbered(n);
    for max_width in [None, Some(900), Some(700), Some(500)] {
        let mut spec = FigureSpec::new(&panels, n, n, &words, &words);
        spec.max_width = max_width;
        spec.style.title = "Twelve heads";
        let map = render_figure(&spec).unwrap();
        let limit = max_width.unwrap_or(DEFAULT_MAX_FIGURE_WIDTH);
        assert!(
            map.image.width() <= limit,
            "{} > {limit}",
            map.image.width()
        );
        check_grids(&map, 12, n, n);
        let scale = map.scale();
        for (p, vals) in all.chunks(n * n).enumerate() {
            for (row, col) in [(0, 0), (n - 1, n - 1), (17, 33)] {
                let want = scale.color(vals[row * n + col]);
                assert_eq!(cell_pixel(&map.image, &map, p, row, col), want);
            }
        }
        if let Some(limit) = max_width {
            assert!(
                map.cell_size() <= limit / 200,
                "cells of {} px",
                map.cell_size()
            );
        }
    }
    // Not even 1-pixel cells fit: an error that names the limit, not a huge picture.
    let mut spec = FigureSpec::new(&panels, n, n, &words, &words);
    spec.max_width = Some(300);
    let err = render_figure(&spec).unwrap_err();
    assert!(matches!(err, Error::InvalidSize(_)), "{err}");
    assert!(err.to_string().contains("300 px"), "{err}");
    // The grids fit but labels, gaps and the colorbar do not.
    spec.max_width = Some(450);
    let err = render_figure(&spec).unwrap_err();
    assert!(err.to_string().contains("450 px"), "{err}");
    spec.max_width = Some(500);
    let map = render_figure(&spec).unwrap();
    assert!(map.cell_size() == 1 && map.image.width() <= 500);
}

#[test]
fn one_panel_figure_draws_the_cells_of_a_single_heatmap() {
    let words = labels(&["I", "love", "AI", "and", "GPUs"]);
    let vals = values(25);
    let single = render(&HeatmapSpec::new(&vals, 5, 5, &words, &words)).unwrap();
    let panels = [Panel {
        values: &vals,
        title: "Head 0".into(),
    }];
    let figure = render_figure(&FigureSpec::new(&panels, 5, 5, &words, &words)).unwrap();
    assert_eq!(figure.panel_count(), 1);
    assert_eq!(figure.cell_size(), single.cell_size());
    assert_eq!(figure.scale(), single.scale());
    assert_eq!(figure.cell_rect(4, 4), figure.panel_cell_rect(0, 4, 4));
    // Every pixel of every cell, annotations included.
    let c = single.cell_size();
    for row in 0..5 {
        for col in 0..5 {
            let (sx, sy, _, _) = single.cell_rect(row, col);
            let (fx, fy, _, _) = figure.cell_rect(row, col);
            for dy in 0..c {
                for dx in 0..c {
                    assert_eq!(
                        single.image.get_pixel(sx + dx, sy + dy),
                        figure.image.get_pixel(fx + dx, fy + dy),
                        "cell ({row}, {col}) pixel ({dx}, {dy})"
                    );
                }
            }
        }
    }
}

#[test]
fn causal_hide_blanks_the_same_cells_in_every_panel() {
    let n = 5;
    let causal = |r: usize, c: usize| c > r;
    // Hidden cells hold 9.0: the shared automatic range must ignore them.
    let mut all = values(3 * n * n);
    for (i, v) in all.iter_mut().enumerate() {
        if causal((i % (n * n)) / n, i % n) {
            *v = 9.0;
        }
    }
    let panels = panels_of(&all, n * n);
    let words = numbered(n);
    let mut spec = FigureSpec::new(&panels, n, n, &words, &words);
    spec.style.hide = Some(&causal);
    spec.style.cmap = Colormap::Blues;
    let map = render_figure(&spec).unwrap();
    let img = save_and_reload(&map);
    let scale = map.scale();
    assert!(scale.hi < 1.0, "{scale:?}");
    for (p, vals) in all.chunks(n * n).enumerate() {
        for row in 0..n {
            for col in 0..n {
                let got = cell_pixel(&img, &map, p, row, col);
                if col > row {
                    let (x, y, w, h) = map.panel_cell_rect(p, row, col);
                    assert_eq!(got, BACKGROUND, "panel {p} hidden ({row}, {col})");
                    assert_eq!(img.get_pixel(x + w / 2, y + h / 2).0, BACKGROUND);
                } else {
                    assert_eq!(got, scale.color(vals[row * n + col]), "panel {p}");
                }
            }
        }
    }
}

#[test]
fn bad_figures_are_errors_not_panics() {
    let words = numbered(3);
    let vals = values(9);
    let short = values(8);
    let good = panels_of(&vals, 9);
    let mismatched = [
        Panel {
            values: &vals,
            title: "Head 0".into(),
        },
        Panel {
            values: &short,
            title: "Head 1".into(),
        },
    ];
    let base = FigureSpec::new(&good, 3, 3, &words, &words);
    let cases: Vec<(FigureSpec, &str)> = vec![
        (
            FigureSpec {
                panels: &[],
                ..base
            },
            "no panels",
        ),
        (
            FigureSpec {
                panels: &mismatched,
                ..base
            },
            "panel 1 ('Head 1') has 8 values",
        ),
        (
            FigureSpec {
                row_labels: &words[..2],
                ..base
            },
            "row labels",
        ),
        (
            FigureSpec {
                col_labels: &words[..1],
                ..base
            },
            "column labels",
        ),
        (FigureSpec { rows: 0, ..base }, "invalid size"),
        (FigureSpec { cols: 0, ..base }, "invalid size"),
        (
            FigureSpec {
                columns: Some(0),
                ..base
            },
            "per row",
        ),
        (
            FigureSpec {
                style: MapStyle {
                    range: Some((2.0, 1.0)),
                    ..base.style
                },
                ..base
            },
            "range",
        ),
        (
            FigureSpec {
                max_width: Some(0),
                ..base
            },
            "0 px width limit",
        ),
    ];
    assert_errors_mention(&cases, render_figure);
    // Too tall even with 1-pixel cells: one panel per row, five panels of 4096 rows.
    let tall = vec![0.5f32; MAX_CELLS_PER_AXIS];
    let tall_panels = panels_of(&tall, MAX_CELLS_PER_AXIS);
    let tall_panels: Vec<Panel> = (0..5).map(|_| tall_panels[0].clone()).collect();
    let many = numbered(MAX_CELLS_PER_AXIS);
    let mut spec = FigureSpec::new(&tall_panels, MAX_CELLS_PER_AXIS, 1, &many, &words[..1]);
    spec.columns = Some(1);
    let err = render_figure(&spec).unwrap_err();
    assert!(matches!(err, Error::InvalidSize(_)), "{err}");
    assert!(err.to_string().contains("16384 px"), "{err}");
    // The cells alone would fit in height, but not with every panel's title and gap.
    let column = vec![0.5f32; 40];
    let stack: Vec<Panel> = (0..400)
        .map(|i| Panel {
            values: &column,
            title: format!("Head {i}"),
        })
        .collect();
    let forty = numbered(40);
    let mut spec = FigureSpec::new(&stack, 40, 1, &forty, &words[..1]);
    spec.columns = Some(1);
    let err = render_figure(&spec).unwrap_err();
    assert!(err.to_string().contains("16384 px height limit"), "{err}");
    // Oversized panels and absurd panel counts are errors too.
    let big = vec![0.0; MAX_CELLS_PER_AXIS + 1];
    let big_panels = panels_of(&big, big.len());
    let big_labels = numbered(big.len());
    let spec = FigureSpec::new(&big_panels, 1, big.len(), &words[..1], &big_labels);
    assert!(matches!(render_figure(&spec), Err(Error::InvalidSize(_))));
    let crowd: Vec<Panel> = (0..5000).map(|_| good[0].clone()).collect();
    let spec = FigureSpec {
        panels: &crowd,
        columns: Some(5000),
        ..base
    };
    assert!(matches!(render_figure(&spec), Err(Error::InvalidSize(_))));
}

/// Writes sample figures for a person to look at:
/// `SELFATTN_HEATMAP_SAMPLES=/tmp cargo test --lib heatmap -- --ignored`.
#[test]
#[ignore = "writes sample PNGs into $SELFATTN_HEATMAP_SAMPLES"]
fn write_figure_samples() {
    let Some(dir) = samples_dir() else {
        return;
    };

    // Eight heads with recognisable patterns over a 7-token sentence, and their average.
    let words = labels(&["The", "cat", "sat", "on", "the", "mat", "."]);
    let n = words.len();
    let noise = values(8 * n * n);
    let mut heads = Vec::with_capacity(9 * n * n);
    for h in 0..8 {
        let logits: Vec<f32> = (0..n * n)
            .map(|i| {
                let (q, k) = (i / n, i % n);
                let pattern = match h {
                    0 => q == k,
                    1 => k + 1 == q,
                    2 => k == 0,
                    3 => k == q + 1,
                    4 => words[q].eq_ignore_ascii_case(&words[k]),
                    5 => k == n - 1,
                    6 => k <= q,
                    _ => false,
                };
                3.0 * f32::from(u8::from(pattern)) + 1.5 * noise[h * n * n + i]
            })
            .collect();
        heads.extend(softmax_rows(&logits, n));
    }
    let average: Vec<f32> = (0..n * n)
        .map(|i| (0..8).map(|h| heads[h * n * n + i]).sum::<f32>() / 8.0)
        .collect();
    heads.extend(average);
    let mut panels = panels_of(&heads, n * n);
    panels[8].title = "Average".into();
    let mut spec = FigureSpec::new(&panels, n, n, &words, &words);
    spec.style.cmap = Colormap::Blues;
    spec.style.title = "Self-Attention: 8 heads and their average";
    save_sample(render_figure(&spec), &dir, "fig_heads.png");

    // Six layers of twelve heads, one grid row per layer.
    let n = 10;
    let words = labels(&[
        "[CLS]", "the", "cat", "sat", "on", "the", "mat", "today", ".", "[SEP]",
    ]);
    let noise = values(72 * n * n);
    let mut all = Vec::with_capacity(72 * n * n);
    for (p, chunk) in noise.chunks(n * n).enumerate() {
        let sharp = 1.0 + (p % 12) as f32;
        let logits: Vec<f32> = chunk.iter().map(|x| sharp * x).collect();
        all.extend(softmax_rows(&logits, n));
    }
    let panels: Vec<Panel> = all
        .chunks(n * n)
        .enumerate()
        .map(|(p, values)| Panel {
            values,
            title: format!("L{} H{}", p / 12, p % 12),
        })
        .collect();
    let mut spec = FigureSpec::new(&panels, n, n, &words, &words);
    spec.columns = Some(12);
    spec.style.title = "Attention weights: 6 layers × 12 heads";
    save_sample(render_figure(&spec), &dir, "fig_grid.png");
    // The same 72 panels in the automatic grid (4 per row).
    spec.columns = None;
    save_sample(render_figure(&spec), &dir, "fig_grid_auto.png");

    // A ragged last row (5 panels, 3 per row), long rotated key labels, a causal mask.
    let n = 12;
    let words: Vec<String> = (0..n)
        .map(|i| ["tokenization", "is", "surprisingly", "hard"][i % 4].to_string())
        .collect();
    let noise = values(5 * n * n);
    let causal = |r: usize, c: usize| c > r;
    let all: Vec<f32> = noise
        .chunks(n * n)
        .flat_map(|chunk| {
            let logits: Vec<f32> = (0..n * n)
                .map(|i| {
                    if causal(i / n, i % n) {
                        -1e9
                    } else {
                        4.0 * chunk[i]
                    }
                })
                .collect();
            softmax_rows(&logits, n)
        })
        .collect();
    let panels = panels_of(&all, n * n);
    let mut spec = FigureSpec::new(&panels, n, n, &words, &words);
    spec.style.hide = Some(&causal);
    spec.style.cmap = Colormap::Magma;
    spec.style.title = "Causal heads";
    save_sample(render_figure(&spec), &dir, "fig_ragged.png");
}
