//! A small seeded random number generator, identical on every platform.
//!
//! Training must give bit-identical weights for the same seed on any machine, so the
//! generator is spelled out here rather than taken from a crate whose algorithm may change
//! between versions: SplitMix64 (Steele, Lea and Flood, 2014), the generator Java's
//! `SplittableRandom` uses. It passes BigCrush, needs one `u64` of state and is trivially
//! serialisable into a checkpoint.

/// SplitMix64: a 64-bit state advanced by a Weyl sequence and finalised by a mixer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for one purpose (`stream`) of one seed: independent streams for the
    /// initialisation and for each epoch's shuffle, so that resuming at an epoch needs no
    /// generator state beyond the seed and the epoch number.
    pub fn for_stream(seed: u64, stream: u64) -> Self {
        let mut mixer = Self::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Self::new(mixer.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform `f32` in `[0, 1)`, from the top 24 bits (every value exactly representable).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// A uniform integer in `0..bound` (`bound > 0`), without modulo bias (Lemire's method
    /// with rejection).
    pub fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0);
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_published_reference_sequence() {
        // First outputs of SplitMix64 seeded with 1234567 (reference C implementation).
        let mut rng = SplitMix64::new(1234567);
        let expected = [
            6457827717110365317u64,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
    }

    #[test]
    fn shuffle_is_a_permutation_and_depends_on_the_stream() {
        let mut a: Vec<u32> = (0..1000).collect();
        let mut b = a.clone();
        SplitMix64::for_stream(7, 1).shuffle(&mut a);
        SplitMix64::for_stream(7, 2).shuffle(&mut b);
        assert_ne!(a, b);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn below_and_next_f32_stay_in_range() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..10_000 {
            assert!(rng.below(7) < 7);
            let x = rng.next_f32();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
