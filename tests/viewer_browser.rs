//! The HTML viewer in a real headless Chromium: pages made by the real CLI (and, for several
//! layers, by the library) are opened from disk with the network emulated offline, driven with
//! the real mouse, and read back.
//!
//! Each test checks that the tooltip shows the saved weight to 4 places, that selectors and token
//! clicks change what both views show, that the page made no request besides its own file, and
//! that nothing was logged as an error. Screenshots go to `browser-screenshots/` (ignored).
//!
//! Without Chromium the tests are skipped with a note, unless SELFATTN_REQUIRE_BROWSER=1 (set by
//! `.ci/run`); without a GPU adapter the CLI-made pages are skipped under the GPU tests' rules.

mod cdp;
mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cdp::{Browser, Page, find_browser};
use selfattn::heatmap::Colormap;
use selfattn::npy::{read_array, write_array};
use selfattn::viewer::{ViewerDoc, ViewerItem, numbered, write_html};
use serde_json::Value;

/// One browser at a time: the machines that run CI have 2 cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;

/// Runs the CLI in `dir`; it must succeed. Returns its stdout.
fn selfattn(dir: &Path, args: &[&str]) -> String {
    common::cli::ok(dir, args)
}

fn url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("browser-screenshots")
        .join(name)
}

/// What the tooltip must read for (q, k): "query → key: w" with w to 4 places.
fn expected_tip(q: &str, k: &str, w: f32) -> String {
    format!("{q} → {k}: {:.4}", w as f64)
}

fn state(page: &mut Page) -> Value {
    page.eval("window.selfattnViewer.state()")
}

fn cell(page: &mut Page, q: usize, k: usize) -> (f64, f64) {
    page.point(&format!("window.selfattnViewer.cellCenter({q}, {k})"))
}

fn token(page: &mut Page, side: &str, i: usize) -> (f64, f64) {
    page.point(&format!("window.selfattnViewer.tokenCenter('{side}', {i})"))
}

/// The selection as the lines view shows it (the bold token) and as the heatmap marks it.
fn selection_in_both_views(page: &mut Page) -> (String, String) {
    let lines = page.eval(
        "(() => { const t = document.querySelectorAll('#lines text.tok.selected'); \
         return t.length === 1 ? t[0].dataset.side + ':' + t[0].dataset.index : 'count ' + t.length; })()",
    );
    let heatmap = page.eval("document.getElementById('heatmap').dataset.selected");
    (
        lines.as_str().unwrap().to_string(),
        heatmap.as_str().unwrap().to_string(),
    )
}

/// The page asked for nothing but its own file and logged no error.
fn assert_offline_and_clean(page: &mut Page, file_url: &str) {
    let requests = page.requests();
    assert!(
        requests.iter().all(|r| r == file_url),
        "requests besides {file_url}: {requests:?}"
    );
    assert!(requests.iter().any(|r| r == file_url), "{requests:?}");
    let errors = page.errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

/// The lines view's lines: (query, key, weight, opacity) each.
fn lines(page: &mut Page) -> Vec<(usize, usize, f64, f64)> {
    let v = page.eval(
        "[...document.querySelectorAll('#lines line')].map(l => [Number(l.dataset.query), \
         Number(l.dataset.key), Number(l.dataset.weight), Number(l.getAttribute('stroke-opacity'))])",
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l[0].as_u64().unwrap() as usize,
                l[1].as_u64().unwrap() as usize,
                l[2].as_f64().unwrap(),
                l[3].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn seed_page_shows_saved_weights_and_follows_token_clicks() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(binary) = find_browser() else { return };
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stdout = selfattn(d, &["--save", "out", "--html", "seed.html"]);
    assert!(stdout.contains("Viewer written to seed.html"), "{stdout}");
    assert!(
        d.join("attention_heatmap.png").exists(),
        "the PNG is still drawn"
    );
    let w = read_array(&d.join("out/weights.npy"), "weights").unwrap();
    let tokens = ["I", "love", "AI"];

    let mut browser = Browser::launch(&binary);
    let file_url = url(&d.join("seed.html"));
    let mut page = browser.open(&file_url, WIDTH, HEIGHT);
    let s = state(&mut page);
    assert_eq!(s["mode"], "full");
    assert_eq!(
        (s["queries"].as_u64(), s["keys"].as_u64()),
        (Some(3), Some(3))
    );
    // One map: no layer, head or batch selector.
    for id in ["ctl-item", "ctl-layer", "ctl-head"] {
        assert_eq!(
            page.eval(&format!("document.getElementById('{id}').hidden")),
            true
        );
    }

    // Every cell's tooltip is the saved weight to 4 places.
    for q in 0..3 {
        for k in 0..3 {
            let at = cell(&mut page, q, k);
            let tip = page.tooltip_at(at);
            assert_eq!(tip, expected_tip(tokens[q], tokens[k], w.data[q * 3 + k]));
        }
    }
    // The seed's numbers, as the tutorial prints them.
    let at = cell(&mut page, 0, 0);
    assert_eq!(page.tooltip_at(at), "I → I: 0.5853");

    // The facts table carries the adapter and the GPU-vs-CPU errors.
    let facts = page.eval("document.getElementById('facts').textContent");
    let facts = facts.as_str().unwrap();
    for needle in ["Adapter", "Shapes", "max abs err", "weights", "output"] {
        assert!(facts.contains(needle), "facts lack {needle}: {facts}");
    }

    // Query 0 is selected at first: lines from it to every key, opacity ∝ weight.
    assert_eq!(
        selection_in_both_views(&mut page),
        ("query:0".into(), "query:0".into())
    );
    let l = lines(&mut page);
    assert_eq!(l.len(), 3);
    let max = (0..3).map(|k| w.data[k]).fold(0.0f32, f32::max) as f64;
    for &(q, k, weight, opacity) in &l {
        assert_eq!(q, 0);
        assert_eq!(weight as f32, w.data[k]);
        assert!((opacity - weight / max).abs() < 1e-4, "{l:?}");
    }

    // Clicking key "love" in the lines view selects it in both views: lines from every query.
    let at = token(&mut page, "key", 1);
    page.click(at);
    assert_eq!(
        selection_in_both_views(&mut page),
        ("key:1".into(), "key:1".into())
    );
    let l = lines(&mut page);
    assert_eq!(
        l.iter().map(|x| (x.0, x.1)).collect::<Vec<_>>(),
        [(0, 1), (1, 1), (2, 1)]
    );
    // Clicking query "AI" there, then a heatmap label, moves the selection again.
    let at = token(&mut page, "query", 2);
    page.click(at);
    assert_eq!(
        selection_in_both_views(&mut page),
        ("query:2".into(), "query:2".into())
    );
    let at = page.point("window.selfattnViewer.labelCenter('key', 0)");
    page.click(at);
    assert_eq!(
        selection_in_both_views(&mut page),
        ("key:0".into(), "key:0".into())
    );

    // The colormap switch recolours the cells (blues is light where viridis is dark).
    let pixel = |page: &mut Page| {
        page.eval(
            "(() => { const c = document.getElementById('heatmap'); const p = window.selfattnViewer.cellCenter(0, 1); \
             const r = c.getBoundingClientRect(); const d = window.devicePixelRatio || 1; \
             const copy = document.createElement('canvas'); copy.width = c.width; copy.height = c.height; \
             const ctx = copy.getContext('2d', {willReadFrequently: true}); ctx.drawImage(c, 0, 0); \
             return [...ctx.getImageData(Math.round((p.x - r.left) * d), Math.round((p.y - r.top) * d) - 12, 1, 1).data]; })()",
        )
    };
    let before = pixel(&mut page);
    page.choose("sel-cmap", "blues");
    assert_eq!(state(&mut page)["cmap"], "blues");
    let after = pixel(&mut page);
    assert_ne!(before, after);
    let blues = Colormap::Blues.table();
    let rgb: Vec<u8> = after
        .as_array()
        .unwrap()
        .iter()
        .take(3)
        .map(|v| v.as_u64().unwrap() as u8)
        .collect();
    assert!(
        blues.iter().any(|c| c[..] == rgb[..]),
        "{rgb:?} is not a blues colour"
    );
    page.choose("sel-cmap", "viridis");

    page.screenshot(&screenshot_path("seed.png"), true);
    assert_offline_and_clean(&mut page, &file_url);
}

/// Weights for a synthetic doc: softmax rows of a deterministic pattern, different per map.
fn synthetic(
    layers: usize,
    heads: usize,
    nq: usize,
    nk: usize,
    causal: bool,
    salt: usize,
) -> Vec<f32> {
    let mut w = Vec::with_capacity(layers * heads * nq * nk);
    for l in 0..layers {
        for h in 0..heads {
            for q in 0..nq {
                let scores: Vec<f64> = (0..nk)
                    .map(|k| {
                        if causal && k > q {
                            f64::NEG_INFINITY
                        } else {
                            (((q * 7 + k * 13 + l * 31 + h * 17 + salt * 5) % 23) as f64) * 0.21
                                - ((q as f64 - k as f64).abs() * 0.01 * (h + 1) as f64)
                        }
                    })
                    .collect();
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let sum: f64 = e.iter().sum();
                w.extend(e.iter().map(|x| (x / sum) as f32));
            }
        }
    }
    w
}

fn words(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn multi_layer_page_switches_layers_heads_and_batch_elements() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(binary) = find_browser() else { return };
    let (layers, heads) = (3, 4);
    let items = vec![
        ViewerItem {
            label: "the long sentence".into(),
            query_tokens: words(9, "q"),
            key_tokens: words(9, "k"),
            weights: synthetic(layers, heads, 9, 9, false, 0),
            query_positions: Vec::new(),
        },
        ViewerItem {
            label: "short one".into(),
            query_tokens: words(5, "a"),
            key_tokens: words(6, "b"),
            weights: synthetic(layers, heads, 5, 6, false, 1),
            query_positions: Vec::new(),
        },
    ];
    let mut head_labels = numbered("Head", heads - 1);
    head_labels.push("Average".into());
    let doc = ViewerDoc {
        title: "Encoder, 3 layers × 4 heads".into(),
        facts: vec![("Model".into(), "synthetic".into())],
        causal: false,
        colormap: Colormap::Magma,
        layer_labels: numbered("Layer", layers),
        head_labels,
        items,
        head_scores: Vec::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.html");
    write_html(&path, &doc).unwrap();
    let value = |item: usize, l: usize, h: usize, q: usize, k: usize| {
        let it = &doc.items[item];
        it.map(heads, l, h).unwrap()[q * it.key_tokens.len() + k]
    };

    let mut browser = Browser::launch(&binary);
    let file_url = url(&path);
    let mut page = browser.open(&file_url, WIDTH, HEIGHT);
    // Opens on the average head of layer 0, magma.
    let s = state(&mut page);
    assert_eq!(
        (s["layer"].as_u64(), s["head"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(s["cmap"], "magma");
    for id in ["ctl-item", "ctl-layer", "ctl-head", "overview-section"] {
        assert_eq!(
            page.eval(&format!("document.getElementById('{id}').hidden")),
            false,
            "{id}"
        );
    }
    assert_eq!(
        page.eval("document.querySelectorAll('#overview canvas').length"),
        (layers * heads) as u64
    );

    let (q, k) = (4, 6);
    let mut seen = Vec::new();
    for (l, h) in [(0, 3), (2, 1), (1, 0)] {
        page.choose("sel-layer", &l.to_string());
        page.choose("sel-head", &h.to_string());
        let at = cell(&mut page, q, k);
        let tip = page.tooltip_at(at);
        assert_eq!(
            tip,
            expected_tip("q4", "k6", value(0, l, h, q, k)),
            "layer {l} head {h}"
        );
        seen.push(tip);
    }
    seen.dedup();
    assert_eq!(
        seen.len(),
        3,
        "switching layer and head changed nothing: {seen:?}"
    );

    // A click on the overview's map of (layer 2, head 2) opens it.
    let at = page.point("window.selfattnViewer.thumbCenter(2, 2)");
    page.click(at);
    let s = state(&mut page);
    assert_eq!(
        (s["layer"].as_u64(), s["head"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(page.eval("document.getElementById('sel-layer').value"), "2");
    let at = cell(&mut page, 0, 8);
    assert_eq!(
        page.tooltip_at(at),
        expected_tip("q0", "k8", value(0, 2, 2, 0, 8))
    );

    // The second batch element has its own tokens and sizes (no padding drawn).
    page.choose("sel-item", "1");
    let s = state(&mut page);
    assert_eq!(
        (s["queries"].as_u64(), s["keys"].as_u64()),
        (Some(5), Some(6))
    );
    assert_eq!(
        page.eval("document.querySelectorAll('#lines text.tok').length"),
        11
    );
    let at = cell(&mut page, 4, 5);
    assert_eq!(
        page.tooltip_at(at),
        expected_tip("a4", "b5", value(1, 2, 2, 4, 5))
    );
    let at = token(&mut page, "query", 3);
    page.click(at);
    assert_eq!(
        selection_in_both_views(&mut page),
        ("query:3".into(), "query:3".into())
    );
    let l = lines(&mut page);
    assert_eq!(l.len(), 6);
    for &(lq, lk, weight, _) in &l {
        assert_eq!(lq, 3);
        assert_eq!(weight as f32, value(1, 2, 2, 3, lk));
    }

    page.screenshot(&screenshot_path("layers.png"), true);
    assert_offline_and_clean(&mut page, &file_url);
}

#[test]
fn overview_colours_and_orders_each_layers_heads_by_a_score() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(binary) = find_browser() else { return };
    let (layers, heads) = (3, 5);
    let mut head_labels = numbered("Head", heads - 1);
    head_labels.push("Average".into());
    // Distinct values per (layer, head); the average (last column) has none.
    let value = |l: usize, h: usize| ((l * 7 + h * 3) % 11) as f64 / 10.0 + 0.05;
    let values: Vec<Option<f64>> = (0..layers * heads)
        .map(|i| (i % heads != heads - 1).then(|| value(i / heads, i % heads)))
        .collect();
    let doc = ViewerDoc {
        title: "scored heads".into(),
        facts: vec![],
        causal: true,
        colormap: Colormap::Viridis,
        layer_labels: numbered("Layer", layers),
        head_labels,
        items: vec![ViewerItem {
            label: "x".into(),
            query_tokens: words(6, "t"),
            key_tokens: words(6, "t"),
            weights: synthetic(layers, heads, 6, 6, true, 2),
            query_positions: Vec::new(),
        }],
        head_scores: vec![selfattn::viewer::HeadScore {
            name: "sink".into(),
            about: "weight on the first token".into(),
            values: vec![values],
        }],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scored.html");
    write_html(&path, &doc).unwrap();
    let mut browser = Browser::launch(&binary);
    let file_url = url(&path);
    let mut page = browser.open(&file_url, WIDTH, HEIGHT);
    let by_number: Vec<Vec<u64>> = (0..layers).map(|_| (0..heads as u64).collect()).collect();
    let order = |page: &mut Page| -> Vec<Vec<u64>> {
        serde_json::from_value(page.eval("window.selfattnViewer.overviewOrder()")).unwrap()
    };
    assert_eq!(order(&mut page), by_number);
    assert_eq!(
        page.eval("document.querySelectorAll('#overview .score').length"),
        0
    );

    // Coloured by the score: every map labelled with its value, on a swatch whose colour
    // follows the value; still in number order.
    page.choose("sel-score", "1");
    assert_eq!(state(&mut page)["score"], "sink");
    assert_eq!(order(&mut page), by_number);
    let label = |page: &mut Page, l: usize, h: usize| {
        page.eval(&format!(
            "(() => {{ const e = document.getElementById('score-{l}-{h}'); \
             return [e.textContent, e.style.background]; }})()"
        ))
    };
    for l in 0..layers {
        for h in 0..heads - 1 {
            assert_eq!(
                label(&mut page, l, h)[0],
                format!("{:.4}", value(l, h)),
                "L{l} H{h}"
            );
        }
        assert_eq!(label(&mut page, l, heads - 1)[0], "–");
    }
    let (low, high) = (label(&mut page, 0, 0), label(&mut page, 1, 2));
    assert_ne!(low[1], high[1], "different values, one colour");
    assert!(
        page.eval("document.getElementById('score-about').textContent")
            .as_str()
            .unwrap()
            .contains("weight on the first token"),
    );

    // Ordered: each layer's heads by value, highest first, the average last; then lowest first.
    let sorted = |descending: bool| -> Vec<Vec<u64>> {
        (0..layers)
            .map(|l| {
                let mut hs: Vec<usize> = (0..heads - 1).collect();
                hs.sort_by(|&a, &b| {
                    let by_value = value(l, a).total_cmp(&value(l, b));
                    let by_value = if descending {
                        by_value.reverse()
                    } else {
                        by_value
                    };
                    by_value.then(a.cmp(&b))
                });
                hs.into_iter()
                    .map(|h| h as u64)
                    .chain([heads as u64 - 1])
                    .collect()
            })
            .collect()
    };
    page.choose("sel-order", "high");
    let high_first = order(&mut page);
    assert_eq!(high_first, sorted(true));
    assert_ne!(
        high_first, by_number,
        "the order must change for this test to mean anything"
    );
    // The first map of layer 1 is its highest-scoring head; a click opens that head.
    let best = high_first[1][0];
    assert_eq!(
        label(&mut page, 1, best as usize)[0],
        format!("Head {best}: {:.4}", value(1, best as usize))
    );
    let at = page.point(&format!("window.selfattnViewer.thumbCenter(1, {best})"));
    page.click(at);
    let s = state(&mut page);
    assert_eq!(
        (s["layer"].as_u64(), s["head"].as_u64()),
        (Some(1), Some(best))
    );
    page.choose("sel-order", "low");
    assert_eq!(order(&mut page), sorted(false));
    page.screenshot(&screenshot_path("scored.png"), true);
    // Back to nothing: number order, no labels.
    page.choose("sel-score", "0");
    assert_eq!(order(&mut page), by_number);
    assert_eq!(
        page.eval("document.querySelectorAll('#overview .score').length"),
        0
    );
    assert_offline_and_clean(&mut page, &file_url);
}

#[test]
fn picked_rows_of_a_decoder_are_shown_against_every_key_with_their_own_causal_mask() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(binary) = find_browser() else { return };
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    use common::tiny_llama::{tiny_llama_gguf, tiny_metadata, tiny_tensors};
    let model = tiny_llama_gguf(d, "tiny.gguf", &tiny_metadata(), &tiny_tensors(3));
    selfattn(
        d,
        &[
            "model",
            "--model",
            model.to_str().unwrap(),
            "--text",
            "ab a b ab ba",
            "--rows",
            "1,4,last",
            "--save",
            "saved",
            "--html",
            "rows.html",
        ],
    );
    let att = read_array(&d.join("saved/attentions.npy"), "a").unwrap();
    let (heads, rows, n) = (att.shape[1], att.shape[2], att.shape[3]);
    assert_eq!(rows, 3);
    let picked = [1, 4, n - 1];
    let w = |l: usize, h: usize, i: usize, k: usize| att.data[((l * heads + h) * rows + i) * n + k];
    let keys: Vec<String> = std::fs::read_to_string(d.join("saved/tokens.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();

    let mut browser = Browser::launch(&binary);
    let file_url = url(&d.join("rows.html"));
    let mut page = browser.open(&file_url, WIDTH, HEIGHT);
    let s = state(&mut page);
    assert_eq!(
        (s["queries"].as_u64(), s["keys"].as_u64()),
        (Some(3), Some(n as u64))
    );
    assert_eq!(s["mode"], "full");
    page.choose("sel-layer", "1");
    page.choose("sel-head", "2");
    // Row 1 is position 4: keys up to 4 carry its weights, key 5 is masked.
    let label = |i: usize| format!("{} {}", picked[i], keys[picked[i]]);
    let at = cell(&mut page, 1, 2);
    let tip = page.tooltip_at(at);
    assert_eq!(
        tip,
        expected_tip(&label(1), &keys[2], w(1, 2, 1, 2)).replace('Ġ', "␣")
    );
    let at = cell(&mut page, 1, 5);
    let tip = page.tooltip_at(at);
    assert!(tip.ends_with(": masked (causal)"), "{tip}");
    let at = cell(&mut page, 2, n - 1);
    let tip = page.tooltip_at(at);
    assert_eq!(
        tip,
        expected_tip(&label(2), &keys[n - 1], w(1, 2, 2, n - 1)).replace('Ġ', "␣")
    );
    // The lines view draws position 4's lines to keys 0..=4 only.
    let at = token(&mut page, "query", 1);
    page.click(at);
    let l = lines(&mut page);
    assert_eq!(l.iter().map(|x| x.1).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    for &(_, k, weight, _) in &l {
        assert_eq!(weight as f32, w(1, 2, 1, k));
    }
    // A key's own row is not on the page: the hint gives the --rows that adds it.
    let hint = |page: &mut Page| {
        page.eval("document.getElementById('rows-hint').textContent")
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(hint(&mut page).contains(&format!("positions 1,4,{} only", n - 1)));
    let at = token(&mut page, "key", 6);
    page.click(at);
    let text = hint(&mut page);
    assert!(
        text.ends_with(&format!(
            "position 6 looks at, rerun with --rows 1,4,6,{}.",
            n - 1
        )),
        "{text}"
    );
    let at = token(&mut page, "key", 5);
    page.click(at);
    let text = hint(&mut page);
    assert!(
        text.ends_with(&format!("rerun with --rows 1,4-5,{}.", n - 1)),
        "{text}"
    );
    page.screenshot(&screenshot_path("rows.png"), true);
    assert_offline_and_clean(&mut page, &file_url);

    // A few rows of a long prompt: the keys are averaged in blocks, the rows never are.
    let (q, k) = (3, 700);
    let doc = ViewerDoc {
        title: "3 rows of 700".into(),
        facts: vec![],
        causal: true,
        colormap: Colormap::Viridis,
        layer_labels: numbered("Layer", 1),
        head_labels: numbered("Head", 1),
        items: vec![ViewerItem {
            label: "long".into(),
            query_tokens: words(q, "q"),
            key_tokens: words(k, "k"),
            weights: synthetic(1, 1, q, k, false, 4),
            query_positions: vec![10, 300, 699],
        }],
        head_scores: Vec::new(),
    };
    let path = d.join("wide.html");
    write_html(&path, &doc).unwrap();
    let wide_url = url(&path);
    drop(page);
    drop(browser);
    let mut browser = Browser::launch(&binary);
    let mut page = browser.open(&wide_url, WIDTH, HEIGHT);
    let s = state(&mut page);
    assert_eq!(s["mode"], "overview");
    assert_eq!(
        (s["view"]["fr"].as_u64(), s["view"]["fc"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(
        (s["view"]["rows"].as_u64(), s["view"]["cols"].as_u64()),
        (Some(3), Some(234))
    );
    let (cw, ch) = (
        s["view"]["cw"].as_u64().unwrap(),
        s["view"]["ch"].as_u64().unwrap(),
    );
    assert!(
        ch >= 30 && ch > cw,
        "rows too thin to read: cells {cw} × {ch}"
    );
    // Row 0 sits at position 10: the block of keys 9–11 is partly visible, 12–14 masked.
    let at = cell(&mut page, 0, 9);
    let tip = page.tooltip_at(at);
    assert!(tip.starts_with("query 10 → keys 9–11: block mean"), "{tip}");
    let at = cell(&mut page, 0, 12);
    assert_eq!(
        page.tooltip_at(at),
        "query 10 → keys 12–14: masked (causal)"
    );
    let at = cell(&mut page, 1, 300);
    let tip = page.tooltip_at(at);
    assert!(
        tip.starts_with("query 300 → keys 300–302: block mean"),
        "{tip}"
    );
    page.screenshot(&screenshot_path("rows_wide.png"), true);
    assert_offline_and_clean(&mut page, &wide_url);
}

#[test]
fn mha_page_shows_each_head_the_average_and_each_batch_element() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(binary) = find_browser() else { return };
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let q: Vec<f32> = (0..2 * 5 * 8)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3)
        .collect();
    write_array(&d.join("q.npy"), &[2, 5, 8], &q).unwrap();
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "mha",
            "--embed-dim",
            "8",
            "--heads",
            "2",
            "--query",
            "q.npy",
            "--causal",
            "--tokens",
            "the cat sat down here",
        ];
        a.extend(extra);
        a
    };
    selfattn(
        d,
        &args(&["--per-head", "--save", "heads", "--html", "mha.html"]),
    );
    selfattn(d, &args(&["--no-heatmap", "--save", "mean"]));
    let per_head = read_array(&d.join("heads/weights.npy"), "weights").unwrap();
    let mean = read_array(&d.join("mean/weights.npy"), "weights").unwrap();
    assert_eq!(per_head.shape, [2, 2, 5, 5]);
    let tok = ["the", "cat", "sat", "down", "here"];
    let head_w =
        |b: usize, h: usize, q: usize, k: usize| per_head.data[((b * 2 + h) * 5 + q) * 5 + k];
    let mean_w = |b: usize, q: usize, k: usize| mean.data[(b * 5 + q) * 5 + k];

    let mut browser = Browser::launch(&binary);
    let file_url = url(&d.join("mha.html"));
    let mut page = browser.open(&file_url, WIDTH, HEIGHT);
    let s = state(&mut page);
    assert_eq!(s["head"], 2, "opens on the average");
    assert_eq!(
        page.eval("[...document.getElementById('sel-head').options].map(o => o.text).join(',')"),
        "Head 0,Head 1,Average"
    );
    assert_eq!(
        page.eval("document.getElementById('ctl-layer').hidden"),
        true
    );
    assert_eq!(
        page.eval("document.getElementById('overview-section').hidden"),
        true
    );

    let (q, k) = (3, 1);
    let at = cell(&mut page, q, k);
    assert_eq!(
        page.tooltip_at(at),
        expected_tip(tok[q], tok[k], mean_w(0, q, k))
    );
    let mut seen = vec![page.tooltip_at(at)];
    for h in 0..2 {
        page.choose("sel-head", &h.to_string());
        let at = cell(&mut page, q, k);
        let tip = page.tooltip_at(at);
        assert_eq!(
            tip,
            expected_tip(tok[q], tok[k], head_w(0, h, q, k)),
            "head {h}"
        );
        seen.push(tip);
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "switching heads changed nothing: {seen:?}");
    // The causal triangle is hidden, in the heatmap and the lines view.
    let at = cell(&mut page, 1, 3);
    assert_eq!(page.tooltip_at(at), "cat → down: masked (causal)");
    let at = token(&mut page, "query", 1);
    page.click(at);
    assert_eq!(
        selection_in_both_views(&mut page),
        ("query:1".into(), "query:1".into())
    );
    assert_eq!(
        lines(&mut page).iter().map(|l| l.1).collect::<Vec<_>>(),
        [0, 1]
    );

    // Batch element 1, head 1.
    page.choose("sel-item", "1");
    let at = cell(&mut page, 4, 2);
    assert_eq!(
        page.tooltip_at(at),
        expected_tip(tok[4], tok[2], head_w(1, 1, 4, 2))
    );
    assert_ne!(head_w(1, 1, 4, 2), head_w(0, 1, 4, 2));

    page.screenshot(&screenshot_path("mha.png"), true);
    assert_offline_and_clean(&mut page, &file_url);
}

#[test]
fn long_inputs_open_as_block_means_and_zoom_to_full_resolution() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(binary) = find_browser() else { return };
    let n = 600;
    let doc = ViewerDoc {
        title: "600 tokens, causal".into(),
        facts: vec![],
        causal: true,
        colormap: Colormap::Viridis,
        layer_labels: numbered("Layer", 1),
        head_labels: numbered("Head", 1),
        items: vec![ViewerItem {
            label: "long".into(),
            query_tokens: words(n, "t"),
            key_tokens: words(n, "t"),
            weights: synthetic(1, 1, n, n, true, 3),
            query_positions: Vec::new(),
        }],
        head_scores: Vec::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.html");
    write_html(&path, &doc).unwrap();
    let size = std::fs::metadata(&path).unwrap().len() as f64;
    assert!(
        size < (n * n) as f64 * 4.0 * 4.0 / 3.0 + 100e3,
        "page of {size} bytes is not compact"
    );
    let w = &doc.items[0].weights;

    let mut browser = Browser::launch(&binary);
    let file_url = url(&path);
    let mut page = browser.open(&file_url, WIDTH, HEIGHT);
    let s = state(&mut page);
    assert_eq!(s["mode"], "overview");
    let f = s["view"]["f"].as_u64().unwrap() as usize;
    assert_eq!((f, s["view"]["rows"].as_u64()), (3, Some(200)));

    // A block's tooltip is the mean of its weights.
    let (q, k) = (400, 200);
    let (q0, k0) = (q / f * f, k / f * f);
    let sum: f64 = (q0..q0 + f)
        .flat_map(|r| (k0..k0 + f).map(move |c| (r, c)))
        .map(|(r, c)| f64::from(w[r * n + c]))
        .sum();
    let at = cell(&mut page, q, k);
    assert_eq!(
        page.tooltip_at(at),
        format!(
            "queries {q0}–{} → keys {k0}–{}: block mean {:.4} (click to zoom in)",
            q0 + f - 1,
            k0 + f - 1,
            sum / (f * f) as f64
        )
    );

    // A click zooms into that block of 128 × 128 tokens, at full resolution.
    page.click(at);
    let s = state(&mut page);
    assert_eq!(s["mode"], "zoom");
    assert_eq!(
        (
            s["view"]["r0"].as_u64(),
            s["view"]["r1"].as_u64(),
            s["view"]["c0"].as_u64(),
            s["view"]["c1"].as_u64()
        ),
        (Some(384), Some(512), Some(128), Some(256))
    );
    assert_eq!(
        page.eval("document.getElementById('zoom-bar').hidden"),
        false
    );
    let at = cell(&mut page, q, k);
    assert_eq!(
        page.tooltip_at(at),
        expected_tip("t400", "t200", w[q * n + k])
    );
    assert_eq!(
        page.eval("window.selfattnViewer.cellCenter(10, 10)"),
        Value::Null
    );

    // Back to the overview; a block on the diagonal zooms to a view with masked cells.
    let at = page.point(
        "(() => { const r = document.getElementById('zoom-out').getBoundingClientRect(); \
         return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()",
    );
    page.click(at);
    assert_eq!(state(&mut page)["mode"], "overview");
    let at = cell(&mut page, 130, 250);
    page.click(at);
    let at = cell(&mut page, 130, 250);
    assert_eq!(page.tooltip_at(at), "t130 → t250: masked (causal)");
    let at = cell(&mut page, 250, 130);
    assert_eq!(
        page.tooltip_at(at),
        expected_tip("t250", "t130", w[250 * n + 130])
    );

    page.screenshot(&screenshot_path("long.png"), false);
    assert_offline_and_clean(&mut page, &file_url);
}

/// The sentence of the README's screenshot.
const README_TEXT: &str = "The animal didn't cross the street because it was too tired.";

#[test]
fn text_run_page_as_the_readme_shows_it() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(binary) = find_browser() else { return };
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    selfattn(
        d,
        &[
            "run",
            "--text",
            README_TEXT,
            "--save",
            "out",
            "--html",
            "viewer.html",
        ],
    );
    let w = read_array(&d.join("out/weights.npy"), "weights").unwrap();
    let n = w.shape[0];
    assert_eq!(n, 12);

    let mut browser = Browser::launch(&binary);
    let file_url = url(&d.join("viewer.html"));
    let mut page = browser.open(&file_url, 1240, 850);
    // Select "it" (token 7) in the lines view, then hover its weight on "animal".
    let at = token(&mut page, "query", 7);
    page.click(at);
    assert_eq!(
        selection_in_both_views(&mut page),
        ("query:7".into(), "query:7".into())
    );
    page.eval("window.scrollTo(0, 0)");
    let at = cell(&mut page, 7, 1);
    assert_eq!(
        page.tooltip_at(at),
        expected_tip("it", "animal", w.data[7 * n + 1])
    );
    let shot = screenshot_path("readme.png");
    page.screenshot(&shot, false);
    assert_offline_and_clean(&mut page, &file_url);
    // SELFATTN_UPDATE_README=1 refreshes the README's picture from this run.
    if std::env::var("SELFATTN_UPDATE_README").is_ok_and(|v| v == "1") {
        let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/viewer.png");
        std::fs::copy(&shot, assets).unwrap();
    }
}

/// The harness itself: a page that fetches and logs an error is caught (so the "offline and
/// clean" checks above can fail), and the viewer's CSP turns a fetch into a logged refusal.
#[test]
fn harness_sees_requests_and_console_errors() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(binary) = find_browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.html");
    std::fs::write(
        &plain,
        "<!DOCTYPE html><body><img src=\"http://127.0.0.1:9/x.png\"><script>\
         console.error('boom'); document.body.dataset.ready = '1';</script></body>",
    )
    .unwrap();
    let mut browser = Browser::launch(&binary);
    let mut page = browser.open(&url(&plain), 400, 300);
    let requests = eventually(|| page.requests(), |r| r.starts_with("http://127.0.0.1:9/"));
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("http://127.0.0.1:9/")),
        "{requests:?}"
    );
    let errors = eventually(|| page.errors(), |e| e.contains("boom"));
    assert!(errors.iter().any(|e| e.contains("boom")), "{errors:?}");
    drop(page);
    drop(browser);

    // The viewer's own policy refuses the same fetch, and the refusal is reported.
    let csp = dir.path().join("csp.html");
    let viewer = ViewerDoc {
        title: "t".into(),
        facts: vec![],
        causal: false,
        colormap: Colormap::Viridis,
        layer_labels: numbered("Layer", 1),
        head_labels: numbered("Head", 1),
        items: vec![ViewerItem {
            label: "x".into(),
            query_tokens: words(1, "a"),
            key_tokens: words(1, "b"),
            weights: vec![1.0],
            query_positions: Vec::new(),
        }],
        head_scores: Vec::new(),
    };
    write_html(&csp, &viewer).unwrap();
    let mut browser = Browser::launch(&binary);
    let csp_url = url(&csp);
    let mut page = browser.open(&csp_url, 400, 300);
    assert_offline_and_clean(&mut page, &csp_url);
    page.eval("fetch('http://127.0.0.1:9/data').catch(() => 0)");
    let errors = eventually(|| page.errors(), |e| e.contains("Content Security Policy"));
    assert!(
        errors.iter().any(|e| e.contains("Content Security Policy")),
        "{errors:?}"
    );
}

/// Polls `get` (events arrive asynchronously) until an entry satisfies `wanted`, for at most
/// 10 s; returns the last list either way.
fn eventually(
    mut get: impl FnMut() -> Vec<String>,
    wanted: impl Fn(&String) -> bool,
) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let list = get();
        if list.iter().any(&wanted) || std::time::Instant::now() > deadline {
            return list;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn model_page_shows_every_layer_head_and_sentence_of_a_real_run() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(binary) = find_browser() else { return };
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sizes = common::tiny_bert::TinySizes::default();
    common::tiny_bert::write_tiny_bert(&d.join("tiny"), sizes, 9);
    selfattn(
        d,
        &[
            "model",
            "--model",
            "tiny",
            "--text",
            "The cat sat on the mat.",
            "--text",
            "a dog ran!",
            "--no-heatmap",
            "--save",
            "saved",
            "--html",
            "model.html",
        ],
    );
    let (layers, heads) = (sizes.layers, sizes.heads);
    let att: Vec<_> = (0..2)
        .map(|i| read_array(&d.join(format!("saved/{i}/attentions.npy")), "a").unwrap())
        .collect();
    let tokens: Vec<Vec<String>> = (0..2)
        .map(|i| {
            std::fs::read_to_string(d.join(format!("saved/{i}/tokens.txt")))
                .unwrap()
                .lines()
                .map(String::from)
                .collect()
        })
        .collect();
    let w = |s: usize, l: usize, h: usize, q: usize, k: usize| {
        let n = tokens[s].len();
        att[s].data[((l * heads + h) * n + q) * n + k]
    };
    let mean = |s: usize, l: usize, q: usize, k: usize| {
        (0..heads).map(|h| w(s, l, h, q, k)).sum::<f32>() / heads as f32
    };

    let mut browser = Browser::launch(&binary);
    let file_url = url(&d.join("model.html"));
    let mut page = browser.open(&file_url, WIDTH, HEIGHT);
    // Every layer × (heads + average) in the overview; opens on the average.
    assert_eq!(
        page.eval("document.querySelectorAll('#overview canvas').length"),
        (layers * (heads + 1)) as u64
    );
    let (q, k) = (2, 5);
    let at = cell(&mut page, q, k);
    assert_eq!(
        page.tooltip_at(at),
        expected_tip(&tokens[0][q], &tokens[0][k], mean(0, 0, q, k))
    );
    page.choose("sel-layer", "1");
    page.choose("sel-head", "1");
    let at = cell(&mut page, q, k);
    assert_eq!(
        page.tooltip_at(at),
        expected_tip(&tokens[0][q], &tokens[0][k], w(0, 1, 1, q, k))
    );
    // The second sentence is shown without the first one's padding.
    page.choose("sel-item", "1");
    let s = state(&mut page);
    assert_eq!(s["queries"].as_u64(), Some(tokens[1].len() as u64));
    let at = cell(&mut page, 1, 3);
    assert_eq!(
        page.tooltip_at(at),
        expected_tip(&tokens[1][1], &tokens[1][3], w(1, 1, 1, 1, 3))
    );
    // Coloured by entropy: the second sentence's own, from its saved attentions; an encoder
    // has no induction score to offer.
    let scores = page.eval(
        "JSON.parse(document.getElementById('viewer-data').textContent).scores.map(s => s.name)",
    );
    assert_eq!(
        scores,
        serde_json::json!([
            "entropy (nats)",
            "first-token weight",
            "previous-token score"
        ])
    );
    page.choose("sel-score", "1");
    let n = tokens[1].len();
    let map: Vec<f32> = (0..n * n).map(|i| w(1, 1, 1, i / n, i % n)).collect();
    assert_eq!(
        page.eval("document.getElementById('score-1-1').textContent"),
        format!("{:.4}", common::cli::mean_entropy(&map, n))
    );
    page.screenshot(&screenshot_path("model.png"), true);
    assert_offline_and_clean(&mut page, &file_url);
}
