//! Training behaviour on synthetic data: it learns, it is deterministic (also across the AVX
//! and baseline builds of the step), and a resumed run equals an uninterrupted one.

use std::collections::BTreeMap;

use ple_train::checkpoint::{Checkpoint, CHECKPOINT_FILE};
use ple_train::config::{Preset, TrainConfig};
use ple_train::dataset::{Dataset, NO_COLUMN};
use ple_train::rng::SplitMix64;
use ple_train::run::{run, Outcome, RunData, RunOptions, Silent, MODEL_FILE, REPORT_FILE};
use ple_train::trainer::{logits_of, metrics_of, normalisation_of, Prepared, Trainer, EMA_EVERY};

/// Rows with 3 numeric columns and 4 fields of 5 categories (23 features); task 0 depends
/// on a numeric column and a category, task 1 on another category.
fn synthetic(rows: usize, seed: u64) -> Dataset {
    let mut rng = SplitMix64::new(seed);
    let (numeric_width, fields, vocab) = (3, 4, 5);
    let mut d = Dataset {
        dense_width: numeric_width + fields * vocab,
        numeric_width,
        fields,
        task_names: vec!["income".into(), "marital".into()],
        labels: vec![Vec::new(), Vec::new()],
        ..Dataset::default()
    };
    for _ in 0..rows {
        let x: Vec<f32> = (0..numeric_width).map(|_| rng.next_f32() * 100.0).collect();
        let cats: Vec<u32> = (0..fields)
            .map(|_| rng.below(vocab as u64) as u32)
            .collect();
        for (f, &c) in cats.iter().enumerate() {
            // A few unknown categories, as the test split has.
            let col = if rng.below(50) == 0 {
                NO_COLUMN
            } else {
                (numeric_width + f * vocab) as u32 + c
            };
            d.hot.push(col);
        }
        d.numeric.extend_from_slice(&x);
        let noise = rng.next_f32();
        d.labels[0].push(u8::from(
            x[0] / 100.0 + if cats[0] < 2 { 0.5 } else { 0.0 } + 0.3 * noise > 0.9,
        ));
        d.labels[1].push(u8::from((cats[1] == 3) ^ (noise < 0.1)));
    }
    d
}

fn config(epochs: u32) -> TrainConfig {
    TrainConfig {
        epochs,
        seed: 7,
        batch_size: 16,
        learning_rate: 0.01,
        // These runs take tens of steps, not thousands: a short average.
        ema_decay: 0.9,
        ..TrainConfig::default()
    }
}

/// The trained weights followed by their moving average.
fn trained_params(config: TrainConfig, data: &Dataset, baseline: bool) -> Vec<f32> {
    let norm = normalisation_of(data);
    let prepared = Prepared::new(data, &norm, data.dense_width, 2).unwrap();
    let mut trainer = Trainer::new(config.clone(), data.dense_width, 2).unwrap();
    trainer.force_baseline = baseline;
    for epoch in 0..config.epochs {
        trainer.train_epoch(&prepared, epoch, &mut |_| {});
    }
    let mut out = trainer.params;
    out.extend_from_slice(&trainer.average);
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn same_seed_and_data_give_bit_identical_weights() {
    let data = synthetic(600, 1);
    for lazy in [false, true] {
        let c = TrainConfig {
            lazy_adam: lazy,
            ..config(2)
        };
        let a = trained_params(c.clone(), &data, false);
        let b = trained_params(c.clone(), &data, false);
        assert_eq!(bits(&a), bits(&b), "lazy {lazy}");
        let other_seed = trained_params(TrainConfig { seed: 8, ..c }, &data, false);
        assert_ne!(bits(&a), bits(&other_seed));
    }
}

#[test]
fn vector_and_baseline_builds_of_the_step_give_the_same_bits() {
    let data = synthetic(400, 2);
    for preset in [Preset::Paddlerec, Preset::Ple] {
        let c = TrainConfig {
            model: preset.model(),
            ..config(1)
        };
        assert_eq!(
            bits(&trained_params(c.clone(), &data, false)),
            bits(&trained_params(c, &data, true))
        );
    }
}

#[test]
fn lazy_adam_moves_a_row_only_when_touched_and_dense_adam_keeps_moving_it() {
    // Column 7 (field 0, category 4) occurs in exactly one row.
    let mut data = synthetic(300, 3);
    for h in data.hot.iter_mut().step_by(4) {
        if *h == 7 {
            *h = 6;
        }
    }
    data.hot[0] = 7;
    let norm = normalisation_of(&data);
    let prepared = Prepared::new(&data, &norm, data.dense_width, 2).unwrap();
    let mut moved_by = Vec::new();
    for lazy in [true, false] {
        let c = TrainConfig {
            lazy_adam: lazy,
            ..config(1)
        };
        let mut trainer = Trainer::new(c, data.dense_width, 2).unwrap();
        let wide = trainer.net.wide();
        let before = trainer.params[7 * wide..8 * wide].to_vec();
        trainer.train_epoch(&prepared, 0, &mut |_| {});
        let moved = trainer.params[7 * wide..8 * wide]
            .iter()
            .zip(&before)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        moved_by.push(moved);
    }
    // Lazy: one update, at the step that touched the row. Dense: the same update, then the
    // momentum keeps moving the row on every later step (about ten steps' worth in all).
    let (lazy, dense) = (moved_by[0], moved_by[1]);
    assert!(
        lazy > 0.0 && dense > 3.0 * lazy,
        "lazy moved {lazy}, dense {dense}"
    );
}

#[test]
fn training_learns_both_synthetic_tasks() {
    let train = synthetic(3000, 4);
    let valid = synthetic(1000, 5);
    let norm = normalisation_of(&train);
    let p_train = Prepared::new(&train, &norm, train.dense_width, 2).unwrap();
    let p_valid = Prepared::new(&valid, &norm, train.dense_width, 2).unwrap();
    let mut trainer = Trainer::new(config(4), train.dense_width, 2).unwrap();
    for epoch in 0..4 {
        trainer.train_epoch(&p_train, epoch, &mut |_| {});
    }
    let metrics = trainer.evaluate(&p_valid);
    assert!(metrics[0].auc.unwrap() > 0.9, "{metrics:?}");
    // Task 1 has 10% flipped labels, which caps its AUC near 0.9.
    assert!(metrics[1].auc.unwrap() > 0.78, "{metrics:?}");
}

#[test]
fn the_average_blends_in_the_weights_every_few_steps_with_the_decay_to_that_power() {
    // Exactly EMA_EVERY steps: one update of the average, from the initial weights.
    let rows = 16 * EMA_EVERY as usize;
    let data = synthetic(rows, 8);
    let norm = normalisation_of(&data);
    let prepared = Prepared::new(&data, &norm, data.dense_width, 2).unwrap();
    let decay = 0.9f32;
    let mut trainer = Trainer::new(config(1), data.dense_width, 2).unwrap();
    let initial = trainer.params.clone();
    assert_eq!(bits(&trainer.average), bits(&initial));
    trainer.train_epoch(&prepared, 0, &mut |_| {});
    assert_eq!(trainer.adam.step, EMA_EVERY);
    let blend = (1.0 - f64::from(decay).powi(EMA_EVERY as i32)) as f32;
    let expected: Vec<f32> = initial
        .iter()
        .zip(&trainer.params)
        .map(|(&a, &p)| a + blend * (p - a))
        .collect();
    assert_eq!(bits(&trainer.average), bits(&expected));
    assert_ne!(bits(&trainer.average), bits(&trainer.params));
}

#[test]
fn evaluation_uses_the_average_when_on_and_the_weights_when_off() {
    let data = synthetic(400, 9);
    let norm = normalisation_of(&data);
    let prepared = Prepared::new(&data, &norm, data.dense_width, 2).unwrap();
    for decay in [0.0, 0.9] {
        let c = TrainConfig {
            ema_decay: decay,
            ..config(1)
        };
        let mut trainer = Trainer::new(c, data.dense_width, 2).unwrap();
        trainer.train_epoch(&prepared, 0, &mut |_| {});
        assert_eq!(trainer.average.is_empty(), decay == 0.0);
        let evaluated = trainer.evaluate(&prepared);
        let mut tape = vec![0.0; trainer.net.tape_len()];
        let expected_params = if decay == 0.0 {
            &trainer.params
        } else {
            &trainer.average
        };
        let logits = logits_of(&trainer.net, expected_params, &prepared, &mut tape);
        assert_eq!(
            evaluated,
            metrics_of(&logits, &data.labels),
            "decay {decay}"
        );
    }
}

fn run_in(
    dir: &std::path::Path,
    data: &Dataset,
    epochs: u32,
    resume: bool,
    stop_after: Option<u32>,
) -> Outcome {
    run_with(&config(epochs), dir, data, resume, stop_after).unwrap()
}

/// A run of `config` on `data` (train, validation and test alike) writing into `dir`.
fn run_with(
    config: &TrainConfig,
    dir: &std::path::Path,
    data: &Dataset,
    resume: bool,
    stop_after: Option<u32>,
) -> Result<Outcome, String> {
    let run_data = RunData {
        train: data,
        validation: data,
        test: data,
        spec: None,
        unknown_categories: BTreeMap::new(),
    };
    let options = RunOptions {
        out_dir: dir.to_owned(),
        resume,
        interrupt: None,
        stop_after,
        deployment_report: false,
    };
    run(config, &run_data, &options, &mut Silent)
}

#[test]
fn resumed_run_equals_an_uninterrupted_one_and_corruption_is_refused() {
    let data = synthetic(500, 6);
    let whole = tempfile::tempdir().unwrap();
    let parts = tempfile::tempdir().unwrap();
    assert!(matches!(
        run_in(whole.path(), &data, 3, false, None),
        Outcome::Finished(_)
    ));
    assert!(matches!(
        run_in(parts.path(), &data, 3, false, Some(1)),
        Outcome::Stopped { epochs_done: 1 }
    ));
    assert!(matches!(
        run_in(parts.path(), &data, 3, true, Some(1)),
        Outcome::Stopped { epochs_done: 2 }
    ));
    assert!(matches!(
        run_in(parts.path(), &data, 3, true, None),
        Outcome::Finished(_)
    ));
    let read = |dir: &tempfile::TempDir, name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert_eq!(
        read(&whole, MODEL_FILE),
        read(&parts, MODEL_FILE),
        "model bytes differ"
    );
    let a = Checkpoint::load(whole.path()).unwrap();
    let b = Checkpoint::load(parts.path()).unwrap();
    assert_eq!(bits(&a.params), bits(&b.params));
    assert_eq!(bits(&a.v), bits(&b.v));
    assert!(
        !a.average.is_empty(),
        "the checkpoint holds the weight average"
    );
    assert_eq!(bits(&a.average), bits(&b.average));
    let report_a: serde_json::Value = serde_json::from_slice(&read(&whole, REPORT_FILE)).unwrap();
    let report_b: serde_json::Value = serde_json::from_slice(&read(&parts, REPORT_FILE)).unwrap();
    assert_eq!(report_a["test"], report_b["test"]);
    assert_eq!(report_a["best_epoch"], report_b["best_epoch"]);

    // One flipped byte in the checkpoint: resuming refuses it.
    let path = parts.path().join(CHECKPOINT_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let err = run_with(&config(4), parts.path(), &data, true, None)
        .err()
        .unwrap();
    assert!(err.contains("corrupt"), "{err}");
}

#[test]
fn resume_with_a_different_configuration_is_refused() {
    let data = synthetic(200, 7);
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), &data, 2, false, Some(1));
    let other = TrainConfig {
        learning_rate: 0.5,
        ..config(2)
    };
    let err = run_with(&other, dir.path(), &data, true, None)
        .err()
        .unwrap();
    assert!(err.contains("different configuration"), "{err}");
}
