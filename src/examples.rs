//! Where attention problems come from: the seed tutorial's two examples, a sentence with drawn
//! embeddings, or the user's own .npy files.

use std::path::PathBuf;

use crate::attention::Attention;
use crate::error::{Error, Result};
use crate::heatmap::Colormap;
use crate::npy::read_matrix;
use crate::numpy_rng::NumpyRng;
use crate::tensor::Matrix;

/// A problem plus what is needed to present it.
#[derive(Clone, Debug)]
pub struct Example {
    /// Token labels, one per row of X.
    pub tokens: Vec<String>,
    /// The attention problem.
    pub problem: Attention,
    /// Heatmap title.
    pub title: String,
    /// The colormap the seed used for this example, if any.
    pub default_cmap: Option<Colormap>,
}

/// The seed's `00_scratch.py`: "I love AI", the fixed 3×4 X, and W_Q, W_K, W_V drawn with
/// `np.random.seed(42); np.random.randn(4, 3)` three times, in that order.
pub fn seed_numpy(causal: bool) -> Example {
    let x = [
        1.0, 0.0, 1.0, 0.0, //
        0.0, 2.0, 0.0, 2.0, //
        1.0, 1.0, 1.0, 1.0,
    ];
    let mut rng = NumpyRng::new(42);
    let mut draw = || Matrix::from_f64(4, 3, &rng.randn(12)).expect("4×3");
    let (wq, wk, wv) = (draw(), draw(), draw());
    Example {
        tokens: words(&["I", "love", "AI"]),
        problem: Attention {
            x: Matrix::from_f64(3, 4, &x).expect("3×4"),
            wq,
            wk,
            wv,
            wo: None,
            causal,
        },
        title: "Self-Attention Heatmap (NumPy)".into(),
        default_cmap: Some(Colormap::Viridis),
    }
}

/// The seed's `01_pytorch.py` shape: "The cat sat down", d_model = d_head = 8, one head, with
/// W_q, W_k, W_v and an output projection W_o.
///
/// x is drawn N(0, 1) and the projections U(−1/√8, 1/√8) (the bound of `nn.Linear`'s default
/// initialisation) from NumPy's generator with `seed`; the numbers are therefore deterministic
/// but not those of `torch.manual_seed`.
pub fn seed_pytorch(seed: u32, causal: bool) -> Example {
    let (n, d) = (4, 8);
    let mut rng = NumpyRng::new(seed);
    let x = Matrix::from_f64(n, d, &rng.randn(n * d)).expect("4×8");
    let bound = 1.0 / (d as f64).sqrt();
    let mut linear = || Matrix::from_f64(d, d, &rng.uniform(-bound, bound, d * d)).expect("8×8");
    let (wq, wk, wv, wo) = (linear(), linear(), linear(), linear());
    Example {
        tokens: words(&["The", "cat", "sat", "down"]),
        problem: Attention {
            x,
            wq,
            wk,
            wv,
            wo: Some(wo),
            causal,
        },
        title: "Self-Attention Heatmap (PyTorch Module)".into(),
        default_cmap: Some(Colormap::Blues),
    }
}

/// Splits a sentence into word and punctuation tokens: "Don't panic, Bob!" →
/// ["Don't", "panic", ",", "Bob", "!"]. An apostrophe between letters stays in its word.
pub fn tokenize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let inner_apostrophe = (c == '\'' || c == '’')
            && !word.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if c.is_alphanumeric() || inner_apostrophe {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            tokens.push(std::mem::take(&mut word));
        }
        if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    tokens
}

/// FNV-1a, to give every distinct token its own embedding seed.
fn token_seed(token: &str, seed: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed as u64;
    for b in token.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

/// Sizes for drawn embeddings and projections.
#[derive(Clone, Copy, Debug)]
pub struct DrawSizes {
    /// Embedding width.
    pub d_model: usize,
    /// Query/key width.
    pub d_k: usize,
    /// Value width.
    pub d_v: usize,
}

/// Projections W_Q, W_K, W_V drawn N(0, 1/d_model) from `seed` (so Q, K have unit-scale entries
/// when X does).
fn draw_projections(seed: u32, sizes: DrawSizes) -> [Matrix; 3] {
    let mut rng = NumpyRng::new(seed);
    let scale = 1.0 / (sizes.d_model as f64).sqrt();
    let mut draw = |cols: usize| {
        let v: Vec<f64> = rng
            .randn(sizes.d_model * cols)
            .into_iter()
            .map(|x| x * scale)
            .collect();
        Matrix::from_f64(sizes.d_model, cols, &v).expect("sizes")
    };
    [draw(sizes.d_k), draw(sizes.d_k), draw(sizes.d_v)]
}

fn check_sizes(sizes: DrawSizes) -> Result<()> {
    for (name, v) in [
        ("d_model", sizes.d_model),
        ("d_k", sizes.d_k),
        ("d_v", sizes.d_v),
    ] {
        if v == 0 {
            return Err(Error::Parameter {
                name,
                problem: "must be at least 1".into(),
            });
        }
    }
    Ok(())
}

/// A sentence: tokens from [`tokenize`], each distinct token a fixed N(0, 1) embedding drawn
/// from (token, seed), projections drawn from `seed`.
pub fn from_text(text: &str, seed: u32, sizes: DrawSizes, causal: bool) -> Result<Example> {
    check_sizes(sizes)?;
    let tokens = tokenize(text);
    if tokens.is_empty() {
        return Err(Error::Parameter {
            name: "text",
            problem: "holds no tokens: give at least one word".into(),
        });
    }
    let mut x = Vec::with_capacity(tokens.len() * sizes.d_model);
    for t in &tokens {
        x.extend(NumpyRng::new(token_seed(t, seed)).randn(sizes.d_model));
    }
    let [wq, wk, wv] = draw_projections(seed, sizes);
    Ok(Example {
        problem: Attention {
            x: Matrix::from_f64(tokens.len(), sizes.d_model, &x)?,
            wq,
            wk,
            wv,
            wo: None,
            causal,
        },
        tokens,
        title: "Self-Attention Heatmap".into(),
        default_cmap: None,
    })
}

/// The user's own tensors; any projection not given is drawn from `seed` with `d_k` / `d_v`.
#[derive(Clone, Debug, Default)]
pub struct NpyInputs {
    /// N×d_model embeddings.
    pub embeddings: PathBuf,
    /// d_model×d_k.
    pub wq: Option<PathBuf>,
    /// d_model×d_k.
    pub wk: Option<PathBuf>,
    /// d_model×d_v.
    pub wv: Option<PathBuf>,
    /// d_v×d_out.
    pub wo: Option<PathBuf>,
}

/// Loads [`NpyInputs`]; `labels` are used when given, else 0..N-1.
pub fn from_npy(
    inputs: &NpyInputs,
    labels: Option<Vec<String>>,
    seed: u32,
    d_k: Option<usize>,
    d_v: Option<usize>,
    causal: bool,
) -> Result<Example> {
    let x = read_matrix(&inputs.embeddings, "X (embeddings)")?;
    let load =
        |p: &Option<PathBuf>, name: &str| p.as_ref().map(|p| read_matrix(p, name)).transpose();
    let (wq, wk, wv, wo) = (
        load(&inputs.wq, "W_Q")?,
        load(&inputs.wk, "W_K")?,
        load(&inputs.wv, "W_V")?,
        load(&inputs.wo, "W_O")?,
    );
    let d_k = d_k
        .or(wq.as_ref().map(|m| m.cols))
        .or(wk.as_ref().map(|m| m.cols))
        .unwrap_or(x.cols);
    let d_v = d_v.or(wv.as_ref().map(|m| m.cols)).unwrap_or(d_k);
    let sizes = DrawSizes {
        d_model: x.cols,
        d_k,
        d_v,
    };
    check_sizes(sizes)?;
    let [dq, dk, dv] = draw_projections(seed, sizes);
    let tokens = match labels {
        Some(l) if l.len() != x.rows => {
            return Err(Error::ShapeMismatch(format!(
                "{} token labels given but the embeddings {} have {} rows",
                l.len(),
                inputs.embeddings.display(),
                x.rows
            )));
        }
        Some(l) => l,
        None => (0..x.rows).map(|i| i.to_string()).collect(),
    };
    Ok(Example {
        tokens,
        problem: Attention {
            x,
            wq: wq.unwrap_or(dq),
            wk: wk.unwrap_or(dk),
            wv: wv.unwrap_or(dv),
            wo,
            causal,
        },
        title: "Self-Attention Heatmap".into(),
        default_cmap: None,
    })
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenize_splits_words_and_punctuation() {
        assert_eq!(
            tokenize("Don't panic, Bob!  It's 42."),
            words(&["Don't", "panic", ",", "Bob", "!", "It's", "42", "."])
        );
        assert!(tokenize("   ").is_empty());
        assert_eq!(tokenize("'quoted'"), words(&["'", "quoted", "'"]));
    }

    #[test]
    fn same_token_same_embedding() {
        let sizes = DrawSizes {
            d_model: 5,
            d_k: 3,
            d_v: 2,
        };
        let e = from_text("the cat saw the dog", 1, sizes, false).unwrap();
        let x = &e.problem.x;
        assert_eq!(x.data[0..5], x.data[15..20]);
        assert_ne!(x.data[0..5], x.data[5..10]);
        let other_seed = from_text("the cat saw the dog", 2, sizes, false).unwrap();
        assert_ne!(x.data, other_seed.problem.x.data);
    }

    #[test]
    fn seed_example_matches_numpy_draws() {
        let e = seed_numpy(false);
        assert!((e.problem.wq.data[0] - 0.496_714_15).abs() < 1e-7);
        assert!((e.problem.wq.data[1] + 0.138_264_3).abs() < 1e-7);
        assert_eq!(e.problem.dims().unwrap().d_k, 3);
    }

    #[test]
    fn pytorch_example_is_deterministic_per_seed() {
        let a = seed_pytorch(42, false);
        let b = seed_pytorch(42, false);
        let c = seed_pytorch(7, false);
        assert_eq!(a.problem.x, b.problem.x);
        assert_ne!(a.problem.x, c.problem.x);
        assert_eq!(a.problem.dims().unwrap().d_out, 8);
        let bound = 1.0 / 8f32.sqrt();
        assert!(a.problem.wq.data.iter().all(|v| v.abs() <= bound));
    }

    #[test]
    fn zero_sizes_are_refused() {
        let sizes = DrawSizes {
            d_model: 4,
            d_k: 0,
            d_v: 2,
        };
        let err = from_text("a b", 1, sizes, false).unwrap_err().to_string();
        assert!(err.contains("d_k must be at least 1"), "{err}");
    }
}
