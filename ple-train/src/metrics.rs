//! Evaluation metrics: exact ROC AUC, PaddleRec's bucketed AUC and log loss.
//!
//! The exact AUC is the Mann-Whitney statistic: the probability that a random positive scores
//! above a random negative, ties counting one half (every tied group gets its average rank).
//! PaddleRec reports the AUC of Paddle's `auc` operator instead: predictions are binned into
//! `num_thresholds + 1 = 4096` buckets by `floor(p * 4095)` (computed in `f32`, as the
//! operator does), and the ROC curve through the bucket boundaries, walked from the highest
//! bucket down, is integrated with the trapezoid rule. Everything inside a bucket counts as a
//! tie, so the bucketed AUC sits slightly below the exact one for a sharp model; both are
//! reported so that our numbers compare with PaddleRec's logs.

/// Paddle's default number of thresholds for its `auc` operator.
pub const PADDLE_THRESHOLDS: usize = 4095;

/// Exact ROC AUC with ties at their average rank; `None` unless both classes occur.
/// Scores must not be NaN (NaN sorts above everything, by `total_cmp`).
pub fn exact_auc(scores: &[f32], labels: &[u8]) -> Option<f64> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let positives = labels.iter().filter(|&&l| l != 0).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| scores[a as usize].total_cmp(&scores[b as usize]));
    // Sum of the positives' 1-based ranks, ties getting the mean rank of their group.
    let mut rank_sum = 0.0f64;
    let mut start = 0;
    while start < order.len() {
        let score = scores[order[start] as usize];
        let mut end = start + 1;
        while end < order.len() && scores[order[end] as usize].total_cmp(&score).is_eq() {
            end += 1;
        }
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end]
            .iter()
            .filter(|&&i| labels[i as usize] != 0)
            .count();
        rank_sum += mean_rank * tied_positives as f64;
        start = end;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Paddle's bucketed AUC over probabilities in `[0, 1]`, with `thresholds` thresholds
/// ([`PADDLE_THRESHOLDS`] in PaddleRec). `None` unless both classes occur.
pub fn bucket_auc(probabilities: &[f32], labels: &[u8], thresholds: usize) -> Option<f64> {
    assert_eq!(
        probabilities.len(),
        labels.len(),
        "one label per prediction"
    );
    let mut positive = vec![0u64; thresholds + 1];
    let mut negative = vec![0u64; thresholds + 1];
    for (&p, &label) in probabilities.iter().zip(labels) {
        let bucket = ((p.clamp(0.0, 1.0) * thresholds as f32) as usize).min(thresholds);
        if label != 0 {
            positive[bucket] += 1;
        } else {
            negative[bucket] += 1;
        }
    }
    let (mut total_pos, mut total_neg, mut area) = (0.0f64, 0.0f64, 0.0f64);
    for bucket in (0..=thresholds).rev() {
        let (prev_pos, prev_neg) = (total_pos, total_neg);
        total_pos += positive[bucket] as f64;
        total_neg += negative[bucket] as f64;
        area += (total_neg - prev_neg) * (total_pos + prev_pos) / 2.0;
    }
    (total_pos > 0.0 && total_neg > 0.0).then(|| area / total_pos / total_neg)
}

/// Binary cross-entropy of a logit against a 0/1 label, computed without overflow:
/// `max(z, 0) - z y + ln(1 + e^{-|z|})`.
pub fn log_loss_of_logit(logit: f32, label: u8) -> f64 {
    let z = f64::from(logit);
    let y = f64::from(label.min(1));
    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
}

/// Mean log loss of logits against labels (0 for no rows).
pub fn mean_log_loss(logits: &[f32], labels: &[u8]) -> f64 {
    if logits.is_empty() {
        return 0.0;
    }
    let sum: f64 = logits
        .iter()
        .zip(labels)
        .map(|(&z, &y)| log_loss_of_logit(z, y))
        .sum();
    sum / logits.len() as f64
}

/// The logistic function.
pub fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_auc_of_hand_computed_cases() {
        // Perfect ranking, reversed ranking, and one inversion out of four pairs.
        assert_eq!(exact_auc(&[0.1, 0.2, 0.8, 0.9], &[0, 0, 1, 1]), Some(1.0));
        assert_eq!(exact_auc(&[0.9, 0.8, 0.2, 0.1], &[0, 0, 1, 1]), Some(0.0));
        assert_eq!(exact_auc(&[0.1, 0.5, 0.4, 0.9], &[0, 0, 1, 1]), Some(0.75));
    }

    #[test]
    fn exact_auc_counts_ties_as_one_half() {
        // All scores equal: every pair is a tie.
        assert_eq!(exact_auc(&[0.3; 5], &[1, 0, 1, 0, 0]), Some(0.5));
        // Pairs (p=0.5 vs n=0.5) tie, (p=0.5 vs n=0.1) win, (p=0.9 vs both) win: 3.5 / 4.
        assert_eq!(exact_auc(&[0.5, 0.9, 0.5, 0.1], &[1, 1, 0, 0]), Some(0.875));
    }

    #[test]
    fn auc_needs_both_classes() {
        assert_eq!(exact_auc(&[0.1, 0.2], &[1, 1]), None);
        assert_eq!(bucket_auc(&[0.1, 0.2], &[0, 0], PADDLE_THRESHOLDS), None);
    }

    #[test]
    fn bucket_auc_treats_a_bucket_as_a_tie() {
        // 0.5 and 0.5001 share bucket 2047 (floor of 2047.5 and 2047.9): a tie, as are 0.1 vs 0.1.
        let scores = [0.5, 0.5001, 0.1, 0.9, 0.1];
        let labels = [1, 0, 1, 1, 0];
        // Pairs: (0.5, 0.5001) tie .5, (0.5, 0.1) 1, (0.1, 0.5001) 0, (0.1,0.1) .5,
        // (0.9, both) 2: 4 / 6.
        let expected = 4.0 / 6.0;
        assert!(
            (bucket_auc(&scores, &labels, PADDLE_THRESHOLDS).unwrap() - expected).abs() < 1e-12
        );
        // The exact AUC tells 0.5 from 0.5001.
        assert!((exact_auc(&scores, &labels).unwrap() - 3.5 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn bucket_auc_matches_exact_auc_when_buckets_separate_every_score() {
        let scores: Vec<f32> = (0..100).map(|i| (i as f32 + 0.5) / 100.0).collect();
        let labels: Vec<u8> = (0..100).map(|i| u8::from((i * 37) % 100 < 40)).collect();
        let a = exact_auc(&scores, &labels).unwrap();
        let b = bucket_auc(&scores, &labels, PADDLE_THRESHOLDS).unwrap();
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn log_loss_is_stable_for_large_logits() {
        assert!((log_loss_of_logit(0.0, 1) - std::f64::consts::LN_2).abs() < 1e-15);
        assert!(log_loss_of_logit(100.0, 1) < 1e-40);
        assert!((log_loss_of_logit(100.0, 0) - 100.0).abs() < 1e-9);
        assert!((log_loss_of_logit(-100.0, 1) - 100.0).abs() < 1e-9);
        assert!(mean_log_loss(&[1e30, -1e30], &[1, 0]).is_finite());
    }

    #[test]
    fn sigmoid_is_symmetric_and_saturates_without_nan() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-7);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
    }
}
