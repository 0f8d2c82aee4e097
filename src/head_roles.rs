//! What each head does, in the numbers interpretability work computes by hand (TransformerLens'
//! head detectors, the "attention sink" papers): per layer and head, from its (N, N) weights,
//!
//! - **entropy**: the mean over query rows of −Σ w·ln w, in nats (0: every row on one key;
//!   ln N: spread evenly);
//! - **first-token weight**: the mean weight on key 0 (an attention sink puts most of it there);
//! - **previous-token score**: the mean weight of row i on key i − 1, over rows 1..N;
//! - **induction score** (decoders): on a random token sequence repeated once, the mean weight
//!   a token of the second copy puts on the token that followed its first occurrence
//!   (i → i − period + 1). A head that scores near 1 completes repeated text by copying.
//!   Encoders get none: every token also sees the copy ahead of it, so the score would not
//!   isolate the mechanism.

use serde::Serialize;

/// One head's scores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeadRole {
    /// Layer, from 0.
    pub layer: usize,
    /// Head, from 0.
    pub head: usize,
    /// Mean row entropy, nats.
    pub entropy: f64,
    /// Mean weight on the first key.
    pub first_token: f64,
    /// Mean weight on the previous key (`None` for a single token).
    pub previous_token: Option<f64>,
    /// Induction score (`None` when not measured).
    pub induction: Option<f64>,
}

/// The scores of every head of `attentions` ((layers, heads, n, n) for the layers `layers`),
/// without induction scores.
pub fn measure(attentions: &[f32], layers: &[usize], heads: usize, n: usize) -> Vec<HeadRole> {
    let every: Vec<usize> = (0..n).collect();
    measure_rows(attentions, layers, heads, &every, n)
}

/// The scores of every head from some query rows only: `attentions` is (layers, heads,
/// positions.len(), keys), row i being the query at `positions[i]` (each below `keys`); each
/// score is the mean over those rows (the previous-token score over those past position 0).
pub fn measure_rows(
    attentions: &[f32],
    layers: &[usize],
    heads: usize,
    positions: &[usize],
    keys: usize,
) -> Vec<HeadRole> {
    debug_assert!(
        positions.iter().all(|&p| p < keys),
        "a query row past the keys"
    );
    let rows_count = positions.len();
    let len = rows_count * keys;
    let mut roles = Vec::with_capacity(layers.len() * heads);
    for (k, &layer) in layers.iter().enumerate() {
        for head in 0..heads {
            let map = &attentions[(k * heads + head) * len..][..len];
            let rows = || map.chunks(keys);
            let entropy = rows()
                .map(|row| {
                    row.iter()
                        .filter(|&&w| w > 0.0)
                        .map(|&w| -(w as f64) * (w as f64).ln())
                        .sum::<f64>()
                })
                .sum::<f64>()
                / rows_count as f64;
            let first_token = rows().map(|row| row[0] as f64).sum::<f64>() / rows_count as f64;
            let after_first: Vec<(usize, usize)> = positions
                .iter()
                .enumerate()
                .filter(|&(_, &p)| p > 0)
                .map(|(i, &p)| (i, p))
                .collect();
            let previous_token = (!after_first.is_empty()).then(|| {
                after_first
                    .iter()
                    .map(|&(i, p)| map[i * keys + p - 1] as f64)
                    .sum::<f64>()
                    / after_first.len() as f64
            });
            roles.push(HeadRole {
                layer,
                head,
                entropy,
                first_token,
                previous_token,
                induction: None,
            });
        }
    }
    roles
}

/// Induction scores of every head, from the attentions ((layers, heads, n, n), layers as in
/// `roles`) of a sequence whose last `2 · period` tokens are a random block repeated once:
/// the mean over the second copy's tokens of the weight on the token after their first
/// occurrence.
pub fn add_induction(roles: &mut [HeadRole], attentions: &[f32], n: usize, period: usize) {
    let len = n * n;
    let start = n - period;
    for (m, role) in roles.iter_mut().enumerate() {
        let map = &attentions[m * len..][..len];
        let score = (start..n)
            .map(|i| map[i * n + i - period + 1] as f64)
            .sum::<f64>()
            / period as f64;
        role.induction = Some(score);
    }
}

/// The mean of each score over several sequences' roles (same heads, same order).
pub fn average(per_sequence: &[Vec<HeadRole>]) -> Vec<HeadRole> {
    let count = per_sequence.len() as f64;
    let mean = |f: &dyn Fn(&HeadRole) -> Option<f64>, i: usize| -> Option<f64> {
        let values: Option<Vec<f64>> = per_sequence.iter().map(|r| f(&r[i])).collect();
        values.map(|v| v.iter().sum::<f64>() / count)
    };
    (0..per_sequence[0].len())
        .map(|i| HeadRole {
            layer: per_sequence[0][i].layer,
            head: per_sequence[0][i].head,
            entropy: mean(&|r| Some(r.entropy), i).unwrap_or(f64::NAN),
            first_token: mean(&|r| Some(r.first_token), i).unwrap_or(f64::NAN),
            previous_token: mean(&|r| r.previous_token, i),
            induction: per_sequence[0][i].induction,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_of_heads_whose_roles_are_known() {
        let n = 4;
        // Head 0: every row on key 0 (a sink). Head 1: row i on key i − 1 (row 0 on itself).
        // Head 2: causal uniform rows.
        let mut att = vec![0.0f32; 3 * n * n];
        for i in 0..n {
            att[i * n] = 1.0;
            att[n * n + i * n + i.saturating_sub(1)] = 1.0;
            for j in 0..=i {
                att[2 * n * n + i * n + j] = 1.0 / (i + 1) as f32;
            }
        }
        let roles = measure(&att, &[7], 3, n);
        assert_eq!((roles[0].layer, roles[2].head), (7, 2));
        assert!(roles[0].entropy.abs() < 1e-12 && (roles[0].first_token - 1.0).abs() < 1e-12);
        assert_eq!(roles[0].previous_token, Some(1.0 / 3.0));
        assert_eq!(roles[1].previous_token, Some(1.0));
        let uniform = (1..=n).map(|k| (k as f64).ln()).sum::<f64>() / n as f64;
        assert!(
            (roles[2].entropy - uniform).abs() < 1e-6,
            "{}",
            roles[2].entropy
        );
    }

    #[test]
    fn picked_rows_score_as_their_rows_of_the_whole_map() {
        // A 5-token map of distinct causal rows; rows 0, 3 and 4 alone score as the mean of
        // the full map's scores over those rows.
        let n = 5;
        let mut att = vec![0.0f32; n * n];
        for i in 0..n {
            let total: usize = (1..=i + 1).sum();
            for j in 0..=i {
                att[i * n + j] = (j + 1) as f32 / total as f32;
            }
        }
        let picked = [0, 3, 4];
        let rows: Vec<f32> = picked
            .iter()
            .flat_map(|&p| att[p * n..(p + 1) * n].to_vec())
            .collect();
        let r = &measure_rows(&rows, &[2], 1, &picked, n)[0];
        let entropy = |i: usize| -> f64 {
            att[i * n..(i + 1) * n]
                .iter()
                .filter(|&&w| w > 0.0)
                .map(|&w| -(w as f64) * (w as f64).ln())
                .sum()
        };
        let want = picked.iter().map(|&p| entropy(p)).sum::<f64>() / 3.0;
        assert!((r.entropy - want).abs() < 1e-12, "{} vs {want}", r.entropy);
        let first = picked.iter().map(|&p| att[p * n] as f64).sum::<f64>() / 3.0;
        assert!((r.first_token - first).abs() < 1e-12);
        // Row 0 has no previous token: the mean of rows 3 and 4 on keys 2 and 3.
        let previous = (att[3 * n + 2] as f64 + att[4 * n + 3] as f64) / 2.0;
        assert_eq!(r.previous_token, Some(previous));
        assert_eq!(
            measure_rows(&rows[..n], &[0], 1, &[0], n)[0].previous_token,
            None
        );
    }

    #[test]
    fn an_induction_head_scores_one_and_a_sink_zero() {
        // A block of 3 repeated: 6 tokens. Head 0 attends i → i − 2 in the second copy.
        let (n, period) = (6, 3);
        let mut att = vec![0.0f32; 2 * n * n];
        for i in 0..n {
            let j = if i >= period { i - period + 1 } else { 0 };
            att[i * n + j] = 1.0;
            att[n * n + i * n] = 1.0;
        }
        let mut roles = measure(&att, &[0], 2, n);
        add_induction(&mut roles, &att, n, period);
        assert_eq!(roles[0].induction, Some(1.0));
        assert_eq!(roles[1].induction, Some(0.0));
    }
}
