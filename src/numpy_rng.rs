//! NumPy's legacy random generator (`np.random.seed` / `np.random.randn`), reproduced exactly.
//!
//! The seed tutorial draws its projection matrices with `np.random.seed(42)` followed by
//! `np.random.randn(4, 3)` three times. To print the tutorial's numbers we need the same stream:
//! MT19937 seeded with `init_genrand`, 53-bit doubles built from two 32-bit words, and the polar
//! Box–Muller method that caches the second normal of each pair (`legacy_gauss` in NumPy's
//! `randomkit`).

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// The generator behind `np.random.seed(s)` / `np.random.randn` / `np.random.random_sample`.
#[derive(Clone)]
pub struct NumpyRng {
    state: [u32; N],
    index: usize,
    cached_gauss: Option<f64>,
}

impl NumpyRng {
    /// Same state as `np.random.seed(seed)` for an integer seed.
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        NumpyRng {
            state,
            index: N,
            cached_gauss: None,
        }
    }

    fn refill(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & UPPER_MASK) | (self.state[(i + 1) % N] & LOWER_MASK);
            let mut next = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= MATRIX_A;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    /// The next raw 32-bit output of MT19937 (tempered).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.refill();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// A double in [0, 1) with 53 random bits, as `np.random.random_sample()`.
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// A standard normal draw, as `np.random.standard_normal()` (polar Box–Muller, pairs cached).
    pub fn gauss(&mut self) -> f64 {
        if let Some(g) = self.cached_gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.cached_gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// `count` standard normals in row-major order, as `np.random.randn(rows, cols).ravel()`.
    pub fn randn(&mut self, count: usize) -> Vec<f64> {
        (0..count).map(|_| self.gauss()).collect()
    }

    /// `count` uniform draws from [low, high), as `np.random.uniform(low, high, count)`.
    pub fn uniform(&mut self, low: f64, high: f64, count: usize) -> Vec<f64> {
        (0..count)
            .map(|_| low + (high - low) * self.random_sample())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_normals_match_numpy_seed_42() {
        // np.random.seed(42); np.random.randn(6)
        let expected = [
            0.4967141530112327,
            -0.13826430117118466,
            0.6476885381006925,
            1.5230298564080254,
            -0.23415337472333597,
            -0.23413695694918055,
        ];
        let mut rng = NumpyRng::new(42);
        for (i, want) in expected.iter().enumerate() {
            let got = rng.gauss();
            assert!((got - want).abs() < 1e-15, "draw {i}: {got} vs {want}");
        }
    }

    #[test]
    fn raw_words_match_reference_mt19937() {
        // The reference implementation's first output for init_genrand(5489) is 3499211612.
        let mut rng = NumpyRng::new(5489);
        assert_eq!(rng.next_u32(), 3_499_211_612);
        assert_eq!(rng.next_u32(), 581_869_302);
    }

    #[test]
    fn random_sample_matches_numpy_seed_0() {
        // np.random.seed(0); np.random.random_sample(2)
        let mut rng = NumpyRng::new(0);
        assert!((rng.random_sample() - 0.5488135039273248).abs() < 1e-16);
        assert!((rng.random_sample() - 0.7151893663724195).abs() < 1e-16);
    }

    #[test]
    fn uniform_stays_in_range() {
        let mut rng = NumpyRng::new(7);
        let v = rng.uniform(-0.5, 0.25, 1000);
        assert!(v.iter().all(|x| (-0.5..0.25).contains(x)));
        assert!(v.iter().any(|x| *x < -0.4) && v.iter().any(|x| *x > 0.15));
    }
}
