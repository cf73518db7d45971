//! PaddleRec's validation/test split of `census-income.test`, reproduced bit for bit.
//!
//! PaddleRec takes `sample(frac=0.5, random_state=1)` of the test file as validation and the
//! rest as test. pandas implements that sample with numpy's legacy `RandomState(1)`:
//! `permutation(n)[:round(n / 2)]`. To get the very same rows without Python, this module
//! re-implements the three pieces involved exactly as numpy's C code does them:
//!
//! * MT19937 with numpy's legacy integer seeding (`mt19937_seed`, Matsumoto and Nishimura's
//!   `init_genrand`: an integer seed does not go through `init_by_array`);
//! * `random_interval(max)`: draw 32-bit words (64-bit above `u32::MAX`), mask them to the
//!   smallest all-ones mask covering `max`, and reject values above `max`;
//! * the legacy `shuffle`: Fisher-Yates from the last position down to position 1.
//!
//! The test pins the first positions and a checksum of the whole split against numpy.

const STATE_WORDS: usize = 624;
const SHIFT: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// The Mersenne Twister MT19937 as numpy's legacy `RandomState` runs it.
#[derive(Clone)]
pub struct Mt19937 {
    state: [u32; STATE_WORDS],
    position: usize,
}

impl Mt19937 {
    /// Seeds like `numpy.random.RandomState(seed)` for an integer seed.
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; STATE_WORDS];
        state[0] = seed;
        for i in 1..STATE_WORDS {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Self {
            state,
            position: STATE_WORDS,
        }
    }

    fn twist(&mut self) {
        let mix = |upper: u32, lower: u32, far: u32| {
            let y = (upper & UPPER_MASK) | (lower & LOWER_MASK);
            far ^ (y >> 1) ^ if y & 1 == 1 { MATRIX_A } else { 0 }
        };
        for i in 0..STATE_WORDS {
            let next = self.state[(i + 1) % STATE_WORDS];
            let far = self.state[(i + SHIFT) % STATE_WORDS];
            self.state[i] = mix(self.state[i], next, far);
        }
        self.position = 0;
    }

    /// The next tempered 32-bit output (numpy's `next_uint32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.position >= STATE_WORDS {
            self.twist();
        }
        let mut y = self.state[self.position];
        self.position += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// numpy's `next_uint64` for MT19937: two 32-bit outputs, high word first.
    pub fn next_u64(&mut self) -> u64 {
        let high = u64::from(self.next_u32());
        (high << 32) | u64::from(self.next_u32())
    }

    /// A uniform integer in `0..=max` by masked rejection (numpy's `random_interval`).
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        if max <= u64::from(u32::MAX) {
            loop {
                let value = u64::from(self.next_u32()) & mask;
                if value <= max {
                    return value;
                }
            }
        }
        loop {
            let value = self.next_u64() & mask;
            if value <= max {
                return value;
            }
        }
    }
}

/// `numpy.random.RandomState(seed).permutation(n)`.
pub fn numpy_permutation(n: usize, seed: u32) -> Vec<usize> {
    let mut rng = Mt19937::new(seed);
    let mut values: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        // `interval(i)` is at most `i`, so it fits in usize.
        let j = rng.interval(i as u64) as usize;
        values.swap(i, j);
    }
    values
}

/// The number of rows `pandas.DataFrame.sample(frac=0.5)` takes from `n`: Python's
/// `round(0.5 * n)`, which rounds halves to even.
pub fn half_rounded_to_even(n: usize) -> usize {
    let half = n / 2;
    if n % 2 == 1 && half % 2 == 1 {
        half + 1
    } else {
        half
    }
}

/// PaddleRec's split of a test file of `n` rows: validation positions in sample order, then
/// test positions (the rest) in ascending order.
pub fn validation_test_positions(n: usize) -> (Vec<usize>, Vec<usize>) {
    let mut permutation = numpy_permutation(n, 1);
    let validation_len = half_rounded_to_even(n);
    let mut test = permutation.split_off(validation_len);
    test.sort_unstable();
    (permutation, test)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn mt19937_matches_the_reference_output_for_seed_5489() {
        // The reference implementation's 10000th output for the default seed 5489.
        let mut rng = Mt19937::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = rng.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn census_test_file_split_matches_pandas_sample() {
        let (validation, test) = validation_test_positions(99_762);
        assert_eq!(validation.len(), 49_881);
        assert_eq!(test.len(), 49_881);
        assert_eq!(
            validation[..10],
            [68068, 63683, 67714, 26690, 29516, 66480, 81648, 62932, 59304, 26071]
        );
        assert_eq!(test[..10], [0, 2, 5, 7, 9, 11, 15, 16, 18, 22]);

        let mut sorted = validation.clone();
        sorted.sort_unstable();
        let text = sorted
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let digest = sha2::Sha256::digest(text.as_bytes());
        assert_eq!(
            hex(&digest),
            "f033ff95550fd09ca2280a0736575952b67a9e8e389f085764d80ec7bf759fae"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn odd_sizes_round_half_to_even_like_python() {
        assert_eq!(half_rounded_to_even(5), 2);
        assert_eq!(half_rounded_to_even(7), 4);
        assert_eq!(half_rounded_to_even(8), 4);
        assert_eq!(half_rounded_to_even(1), 0);
        assert_eq!(half_rounded_to_even(0), 0);
    }

    #[test]
    fn split_covers_every_position_once() {
        for n in [0, 1, 2, 3, 10, 101] {
            let (validation, test) = validation_test_positions(n);
            let mut all: Vec<usize> = validation.iter().chain(&test).copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>());
        }
    }
}
