//! Whole-heatmap tests: PNG round trips, colours read back at known cells, sizes, errors.

use super::*;

const SEED: [f32; 9] = [
    0.5853, 0.2707, 0.1440, 0.5058, 0.0887, 0.4056, 0.7072, 0.1369, 0.1558,
];

pub(super) fn labels(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

pub(super) fn numbered(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i}")).collect()
}

/// A deterministic pseudo-random matrix in [0, 1).
pub(super) fn values(n: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// The pixel 2 px inside the top-left corner of a cell: away from the centred annotation.
fn corner_pixel(img: &RgbImage, map: &Heatmap, row: usize, col: usize) -> [u8; 3] {
    let (x, y, w, h) = map.cell_rect(row, col);
    assert!(w >= 5 && h >= 5, "cell too small to probe: {w}×{h}");
    img.get_pixel(x + 2, y + 2).0
}

pub(super) fn save_and_reload(map: &Heatmap) -> RgbImage {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("map.png");
    map.save_png(&path).unwrap();
    let back = image::open(&path).unwrap().to_rgb8();
    assert_eq!(back.dimensions(), map.image.dimensions());
    back
}

/// Checks that drawing each case's spec with `render` fails with an error that mentions the
/// case's text.
pub(super) fn assert_errors_mention<S>(
    cases: &[(S, &str)],
    render: impl Fn(&S) -> Result<Heatmap>,
) {
    for (spec, want) in cases {
        let err = render(spec).unwrap_err().to_string();
        assert!(err.contains(want), "wanted '{want}' in: {err}");
    }
}

/// The folder named by `SELFATTN_HEATMAP_SAMPLES`, where the ignored sample tests write, if set.
pub(super) fn samples_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("SELFATTN_HEATMAP_SAMPLES").map(std::path::PathBuf::from)
}

/// Saves a drawn sample picture as `dir/name`.
pub(super) fn save_sample(map: Result<Heatmap>, dir: &Path, name: &str) {
    map.unwrap().save_png(&dir.join(name)).unwrap();
}

#[test]
fn seed_3x3_round_trips_with_each_cells_colour() {
    let words = labels(&["I", "love", "AI"]);
    let mut spec = HeatmapSpec::new(&SEED, 3, 3, &words, &words);
    spec.style.title = "Self-Attention Heatmap";
    let map = render(&spec).unwrap();
    let img = save_and_reload(&map);
    assert_eq!(img, map.image);
    let scale = map.scale();
    assert_eq!((scale.lo, scale.hi), (0.0887, 0.7072));
    for row in 0..3 {
        for col in 0..3 {
            let want = scale.color(SEED[row * 3 + col]);
            assert_eq!(
                corner_pixel(&img, &map, row, col),
                want,
                "cell ({row}, {col})"
            );
        }
    }
    // Max cell (0.7072 at (2, 0)) is the top of viridis, min (0.0887 at (1, 1)) the bottom.
    assert_eq!(corner_pixel(&img, &map, 2, 0), [253, 231, 37]);
    assert_eq!(corner_pixel(&img, &map, 1, 1), [68, 1, 84]);
    // The whole cell interior, bar the annotation, is that colour: sample the other corners.
    let (x, y, w, h) = map.cell_rect(0, 2);
    let want = scale.color(0.1440);
    for (px, py) in [
        (x + w - 3, y + 2),
        (x + 2, y + h - 3),
        (x + w - 3, y + h - 3),
    ] {
        assert_eq!(img.get_pixel(px, py).0, want);
    }
}

#[test]
fn colorbar_runs_from_the_top_colour_down_to_the_bottom_colour() {
    let words = labels(&["I", "love", "AI"]);
    let map = render(&HeatmapSpec::new(&SEED, 3, 3, &words, &words)).unwrap();
    let (gx, gy, gw, gh) = map.grid_rect();
    let right_of_grid = |y: u32| -> Vec<[u8; 3]> {
        (gx + gw + 2..map.image.width())
            .map(|x| map.image.get_pixel(x, y).0)
            .collect()
    };
    let (top, bottom) = ([253, 231, 37], [68, 1, 84]);
    // The bar is top-aligned with the grid and at least as tall.
    assert!(right_of_grid(gy).contains(&top));
    assert!(!right_of_grid(gy).contains(&bottom));
    assert!(right_of_grid(gy + gh - 1).contains(&bottom));
    assert!(!right_of_grid(gy + gh - 1).contains(&top));
}

#[test]
fn annotations_are_white_on_dark_cells_and_black_on_light() {
    let words = labels(&["I", "love", "AI"]);
    let map = render(&HeatmapSpec::new(&SEED, 3, 3, &words, &words)).unwrap();
    let ink = |row, col| {
        let (x, y, w, h) = map.cell_rect(row, col);
        let (mut white, mut black) = (0, 0);
        for py in y + h / 3..y + 2 * h / 3 {
            for px in x + w / 5..x + 4 * w / 5 {
                let p = map.image.get_pixel(px, py).0;
                if p.iter().all(|&c| c > 200) {
                    white += 1;
                } else if p.iter().all(|&c| c < 50) {
                    black += 1;
                }
            }
        }
        (white, black)
    };
    let (white, black) = ink(1, 1); // darkest cell
    assert!(
        white > 10 && black == 0,
        "dark cell: {white} white, {black} black"
    );
    let (white, black) = ink(2, 0); // yellow cell
    assert!(
        black > 10 && white == 0,
        "light cell: {white} white, {black} black"
    );
    // Turning annotations off leaves the cell centre plain.
    let mut spec = HeatmapSpec::new(&SEED, 3, 3, &words, &words);
    spec.style.annotate = Some(false);
    let plain = render(&spec).unwrap();
    let (x, y, w, h) = plain.cell_rect(1, 1);
    let centre = plain.image.get_pixel(x + w / 2, y + h / 2).0;
    assert_eq!(centre, plain.scale().color(0.0887));
}

#[test]
fn blues_4x4_with_a_hidden_causal_triangle() {
    let words = labels(&["The", "cat", "sat", "down"]);
    let vals: Vec<f32> = (0..16).map(|i| i as f32 / 15.0).collect();
    let causal = |r: usize, c: usize| c > r;
    let mut spec = HeatmapSpec::new(&vals, 4, 4, &words, &words);
    spec.style.cmap = Colormap::Blues;
    spec.style.range = Some((0.0, 1.0));
    spec.style.hide = Some(&causal);
    spec.style.title = "Self-Attention Heatmap (PyTorch Module)";
    let map = render(&spec).unwrap();
    let img = save_and_reload(&map);
    for row in 0..4 {
        for col in 0..4 {
            let got = corner_pixel(&img, &map, row, col);
            if col > row {
                assert_eq!(got, BACKGROUND, "hidden cell ({row}, {col})");
            } else {
                let want = Colormap::Blues.rgb(vals[row * 4 + col]);
                assert_eq!(got, want, "cell ({row}, {col})");
            }
        }
    }
    assert_eq!(corner_pixel(&img, &map, 3, 3), [8, 48, 107]);
    assert_eq!(corner_pixel(&img, &map, 0, 0), Colormap::Blues.rgb(0.0));
}

#[test]
fn auto_range_ignores_hidden_and_non_finite_cells() {
    let words = numbered(2);
    let vals = [0.2, 9.0, f32::NAN, 0.6];
    let hide_top_right = |r: usize, c: usize| r == 0 && c == 1;
    let mut spec = HeatmapSpec::new(&vals, 2, 2, &words, &words);
    spec.style.hide = Some(&hide_top_right);
    let map = render(&spec).unwrap();
    assert_eq!((map.scale().lo, map.scale().hi), (0.2, 0.6));
    assert_eq!(corner_pixel(&map.image, &map, 1, 0), NAN_COLOR);
    // All equal: the range widens to include 0 and 1 instead of dividing by zero.
    let map = render(&HeatmapSpec::new(&[1.0], 1, 1, &words[..1], &words[..1])).unwrap();
    assert_eq!((map.scale().lo, map.scale().hi), (0.0, 1.0));
    assert_eq!(
        corner_pixel(&map.image, &map, 0, 0),
        Colormap::Viridis.rgb(1.0)
    );
}

/// Checks the image is bounded and every cell is a distinct ≥1 px square inside it.
fn check_geometry(map: &Heatmap, rows: usize, cols: usize, max_side: u32) {
    let (w, h) = map.image.dimensions();
    assert!(
        w <= max_side && h <= max_side,
        "{rows}×{cols}: image {w}×{h}"
    );
    assert!(map.cell_size() >= 1);
    let (gx, gy, gw, gh) = map.grid_rect();
    assert_eq!(
        (gw, gh),
        (cols as u32 * map.cell_size(), rows as u32 * map.cell_size())
    );
    assert!(gx + gw <= w && gy + gh <= h);
    let (x, y, cw, ch) = map.cell_rect(rows - 1, cols - 1);
    assert_eq!((x + cw, y + ch), (gx + gw, gy + gh));
}

#[test]
fn tiny_large_and_oblong_maps_render_bounded() {
    for (rows, cols, max_side) in [
        (1, 1, 600),
        (3, 7, 1000),
        (7, 3, 1000),
        (1, 300, 1600),
        (512, 512, 1800),
        (2000, 2000, 2600),
    ] {
        let vals = values(rows * cols);
        let (rl, cl) = (numbered(rows), numbered(cols));
        let map = render(&HeatmapSpec::new(&vals, rows, cols, &rl, &cl)).unwrap();
        check_geometry(&map, rows, cols, max_side);
        if map.cell_size() >= 5 {
            let want = map.scale().color(vals[rows * cols - 1]);
            assert_eq!(corner_pixel(&map.image, &map, rows - 1, cols - 1), want);
        } else {
            let (x, y, _, _) = map.cell_rect(rows - 1, cols - 1);
            let want = map.scale().color(vals[rows * cols - 1]);
            assert_eq!(map.image.get_pixel(x, y).0, want);
        }
    }
}

#[test]
fn readable_at_512_cells() {
    let vals = values(512 * 512);
    let words = numbered(512);
    let map = render(&HeatmapSpec::new(&vals, 512, 512, &words, &words)).unwrap();
    assert!(map.cell_size() >= 2, "cells of {} px", map.cell_size());
    let (_, _, gw, _) = map.grid_rect();
    assert!((1000..=1600).contains(&gw), "grid {gw} px");
}

#[test]
fn long_and_non_ascii_labels_rotate_and_truncate() {
    let rows = labels(&["short", "ünïcödé", "日本語", "Привет"]);
    let cols = labels(&[
        "an_extraordinarily_long_token_that_would_never_fit_anywhere_reasonable",
        "∑ attention",
        "🦀\tcrab\nline",
        "",
    ]);
    let vals = values(16);
    let map = render(&HeatmapSpec::new(&vals, 4, 4, &rows, &cols)).unwrap();
    let (_, gy, _, gh) = map.grid_rect();
    let below = map.image.height() - (gy + gh);
    // Rotated labels make a tall band under the grid, but truncation keeps it bounded.
    assert!(below > 80 && below < 250, "{below} px below the grid");
    // Short labels that fit stay horizontal: a much shorter band.
    let short = labels(&["a", "b", "c", "d"]);
    let flat = render(&HeatmapSpec::new(&vals, 4, 4, &rows, &short)).unwrap();
    let (_, gy, _, gh) = flat.grid_rect();
    assert!(flat.image.height() - (gy + gh) < 80);
}

#[test]
fn bad_specs_are_errors_not_panics() {
    let words = numbered(3);
    let vals = values(9);
    let base = HeatmapSpec::new(&vals, 3, 3, &words, &words);
    let cases: Vec<(HeatmapSpec, &str)> = vec![
        (
            HeatmapSpec {
                rows: 0,
                values: &[],
                row_labels: &[],
                ..base
            },
            "invalid size",
        ),
        (
            HeatmapSpec {
                cols: 0,
                values: &[],
                col_labels: &[],
                ..base
            },
            "invalid size",
        ),
        (
            HeatmapSpec {
                values: &vals[..8],
                ..base
            },
            "shape mismatch",
        ),
        (
            HeatmapSpec {
                row_labels: &words[..2],
                ..base
            },
            "row labels",
        ),
        (
            HeatmapSpec {
                col_labels: &words[..1],
                ..base
            },
            "column labels",
        ),
        (
            HeatmapSpec {
                style: MapStyle {
                    range: Some((1.0, 1.0)),
                    ..base.style
                },
                ..base
            },
            "range",
        ),
        (
            HeatmapSpec {
                style: MapStyle {
                    range: Some((0.0, f32::NAN)),
                    ..base.style
                },
                ..base
            },
            "range",
        ),
    ];
    assert_errors_mention(&cases, render);
    let big = vec![0.0; MAX_CELLS_PER_AXIS + 1];
    let many = numbered(MAX_CELLS_PER_AXIS + 1);
    let spec = HeatmapSpec::new(&big, 1, big.len(), &words[..1], &many);
    assert!(matches!(render(&spec), Err(Error::InvalidSize(_))));
    // rows × cols overflowing usize is a mismatch, not an arithmetic panic.
    let spec = HeatmapSpec {
        rows: usize::MAX,
        cols: 2,
        ..base
    };
    assert!(render(&spec).is_err());
}

#[test]
fn saving_into_a_missing_folder_fails_and_leaves_nothing() {
    let words = numbered(2);
    let map = render(&HeatmapSpec::new(
        &[0.1, 0.2, 0.3, 0.4],
        2,
        2,
        &words,
        &words,
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("map.png");
    let err = map.save_png(&path).unwrap_err();
    assert!(matches!(err, Error::OutputFile { .. }), "{err}");
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Writes sample pictures for a person to look at:
/// `SELFATTN_HEATMAP_SAMPLES=/tmp cargo test --lib heatmap -- --ignored`.
#[test]
#[ignore = "writes sample PNGs into $SELFATTN_HEATMAP_SAMPLES"]
fn write_samples() {
    let Some(dir) = samples_dir() else {
        return;
    };
    let words = labels(&["I", "love", "AI"]);
    let mut spec = HeatmapSpec::new(&SEED, 3, 3, &words, &words);
    spec.style.title = "Self-Attention Heatmap";
    save_sample(render(&spec), &dir, "heatmap_sample.png");

    let vocab = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "attention",
        "is",
        "all",
        "you",
        "need",
        "transformer",
        "résumé",
        "naïve",
    ];
    let n = 64;
    let tokens: Vec<String> = (0..n).map(|i| vocab[i % vocab.len()].to_string()).collect();
    // Softmax rows of random logits, like real attention weights.
    let logits = values(n * n);
    let mut weights = Vec::with_capacity(n * n);
    for row in logits.chunks(n) {
        let exps: Vec<f32> = row.iter().map(|x| (4.0 * x).exp()).collect();
        let sum: f32 = exps.iter().sum();
        weights.extend(exps.iter().map(|e| e / sum));
    }
    let mut spec = HeatmapSpec::new(&weights, n, n, &tokens, &tokens);
    spec.style.title = "Self-Attention Heatmap (64 tokens)";
    save_sample(render(&spec), &dir, "heatmap_64.png");

    let words = labels(&["The", "cat", "sat", "down"]);
    let vals: Vec<f32> = values(16);
    let causal = |r: usize, c: usize| c > r;
    let mut spec = HeatmapSpec::new(&vals, 4, 4, &words, &words);
    spec.style.cmap = Colormap::Blues;
    spec.style.hide = Some(&causal);
    spec.style.title = "Self-Attention Heatmap (PyTorch Module)";
    save_sample(render(&spec), &dir, "heatmap_causal.png");

    let rows = labels(&[
        "short",
        "ünïcödé",
        "日本語",
        "a_rather_long_query_token_name_indeed",
    ]);
    let cols = labels(&[
        "an_extraordinarily_long_token_that_would_never_fit",
        "∑ attention",
        "🦀 crab",
        "",
        "x",
        "y",
        "z",
    ]);
    let vals = values(28);
    let mut spec = HeatmapSpec::new(&vals, 4, 7, &rows, &cols);
    spec.style.cmap = Colormap::Magma;
    spec.style.title = "Long labels";
    save_sample(render(&spec), &dir, "heatmap_long.png");

    let n = 512;
    let tokens = numbered(n);
    let vals = values(n * n);
    let spec = HeatmapSpec::new(&vals, n, n, &tokens, &tokens);
    save_sample(render(&spec), &dir, "heatmap_512.png");

    let one = labels(&["solo"]);
    let spec = HeatmapSpec::new(&[1.0], 1, 1, &one, &one);
    save_sample(render(&spec), &dir, "heatmap_1.png");
}
