//! How much of a run to check against the CPU reference (`--verify`).
//!
//! Checking every element costs O(N²·d) in f64 on the CPU, more than the GPU work itself for large
//! N. By default every element is checked up to N = 2048; beyond, a seeded random sample of query
//! rows is checked against a from-the-definition reference of just those rows, and the rows are
//! listed in the report.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::numpy_rng::NumpyRng;

/// Up to this many tokens, `auto` checks every element.
pub const FULL_UP_TO: usize = 2048;
/// Rows sampled by `auto` beyond [`FULL_UP_TO`].
pub const DEFAULT_ROWS: usize = 16;

/// The `--verify` flag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verify {
    /// Full up to [`FULL_UP_TO`] tokens, else [`DEFAULT_ROWS`] sampled rows.
    #[default]
    Auto,
    /// Every element.
    Full,
    /// This many sampled query rows.
    Rows(usize),
    /// No check at all.
    None,
}

/// What a run will actually check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Every element.
    Full,
    /// These query rows (sorted).
    Rows(Vec<usize>),
    /// Nothing.
    None,
}

impl Verify {
    /// Resolves the flag for `n` tokens; sampled rows are drawn from `seed`.
    pub fn resolve(self, n: usize, seed: u32) -> Check {
        let rows = |k: usize| {
            if k >= n {
                return Check::Full;
            }
            let mut rng = NumpyRng::new(seed ^ 0x5eed_0f05);
            let mut picked: Vec<usize> = Vec::with_capacity(k);
            // Always include the first and last rows (edges of the dispatch), then random ones.
            for r in [0, n - 1] {
                if picked.len() < k && !picked.contains(&r) {
                    picked.push(r);
                }
            }
            while picked.len() < k {
                let r = (rng.random_sample() * n as f64) as usize;
                if !picked.contains(&r) {
                    picked.push(r);
                }
            }
            picked.sort_unstable();
            Check::Rows(picked)
        };
        match self {
            Verify::Full => Check::Full,
            Verify::None => Check::None,
            Verify::Rows(k) => rows(k),
            Verify::Auto if n <= FULL_UP_TO => Check::Full,
            Verify::Auto => rows(DEFAULT_ROWS),
        }
    }
}

impl FromStr for Verify {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::Usage(format!(
                "must be auto, full, none or rows=K with K ≥ 1, got '{s}'"
            ))
        };
        match s {
            "auto" => Ok(Verify::Auto),
            "full" => Ok(Verify::Full),
            "none" => Ok(Verify::None),
            _ => match s.strip_prefix("rows=").map(str::parse::<usize>) {
                Some(Ok(k)) if k >= 1 => Ok(Verify::Rows(k)),
                _ => Err(bad()),
            },
        }
    }
}

impl fmt::Display for Verify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verify::Auto => f.write_str("auto"),
            Verify::Full => f.write_str("full"),
            Verify::Rows(k) => write!(f, "rows={k}"),
            Verify::None => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("full".parse::<Verify>().unwrap(), Verify::Full);
        assert_eq!("rows=7".parse::<Verify>().unwrap(), Verify::Rows(7));
        assert!("rows=0".parse::<Verify>().is_err());
        assert!("some".parse::<Verify>().is_err());
        assert_eq!(Verify::Rows(3).to_string(), "rows=3");
    }

    #[test]
    fn auto_samples_beyond_the_threshold() {
        assert_eq!(Verify::Auto.resolve(100, 1), Check::Full);
        let Check::Rows(rows) = Verify::Auto.resolve(10_000, 1) else {
            panic!("expected sampled rows");
        };
        assert_eq!(rows.len(), DEFAULT_ROWS);
        assert!(rows.contains(&0) && rows.contains(&9_999));
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Verify::Auto.resolve(10_000, 1), Check::Rows(rows));
        assert_eq!(Verify::Rows(5).resolve(3, 1), Check::Full);
    }
}
