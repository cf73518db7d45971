//! `ple-train`: reads Census-Income, trains PLE, writes a model file and a report.
//!
//! # How a run goes
//!
//! [`census`] reads and encodes the raw UCI files into three [`dataset::Dataset`]s in sparse
//! form (11 numbers and 29 one-hot column indices per row). [`trainer`] standardises the
//! numeric columns with the training split's mean and standard deviation and trains the
//! network of [`network`] with [`adam`]; [`run`] drives the epochs, evaluates every epoch on
//! the validation split with [`metrics`] (exact ROC AUC, Paddle's 4095-threshold AUC, log
//! loss), keeps the epoch with the highest mean task AUC, writes a [`checkpoint`] after every
//! epoch and, at the end, `model.safetensors` (through `ple_codegen::model_file`), the
//! [`report`] and its SVG curves, and [`gates`] the mean gate weights per task and their
//! picture. [`config`] holds the settings, presets for Single-task,
//! MMoE, CGC and PLE, and reads YAML config files including PaddleRec's `config.yaml`.
//! [`test_support`] trains and caches the small Census model the workspace's tests share.
//!
//! # What a device gets
//!
//! The trainer's test AUC is that of its own f32 forward pass. What runs on a device is the
//! model baked by `ple-codegen` and run by ple-core, at f32, f16 or int8. At the end of every
//! run, [`deploy`] bakes the saved model file at the three precisions (int8 calibrated on the
//! first 20,000 training rows, the rows `ple-codegen --precision int8 --calibration
//! census-income.data` reads), runs each through ple-core on the whole test split, and
//! reports per precision the test AUC of each task, the largest difference of a probability
//! from the trainer's, and the footprint (weight bytes in flash, scratch bytes in RAM): a
//! table on the terminal and the `deployment` key of `report.json`. `ple-train deploy-report
//! --model M` does the same for a saved model (`--json FILE` writes the JSON too), and
//! `--no-deployment-report` skips it in training. The report only reads the model file: the
//! model is the same bytes with or without it.
//!
//! # Why it is fast
//!
//! The first layer of every level-0 expert and gate reads the 499-wide input, 93% zeros. The
//! trainer stores those layers transposed and side by side, so an input row costs 11 scaled
//! additions and 29 plain additions of one contiguous 138-float row (8 experts x 16 units plus
//! 2 gates x 5), forward and backward, instead of 499 x 138 multiply-adds; the weight gradient
//! lands in those rows only. The rest of the network is a few hundred multiply-adds per row.
//! That leaves dense Adam, which must touch all 69,290 parameters at each of the 6,235 steps
//! of an epoch: it runs as one fused, vectorised pass that also clears the gradient, and its
//! moments are flushed to zero below 1e-30 so that rarely seen categories never push the
//! arithmetic into (slow) subnormal numbers. The step and the Adam pass are compiled twice,
//! for the baseline CPU and for AVX, chosen at run time; neither uses FMA and every sum has a
//! fixed order, so both give the same bits (a test checks it).
//!
//! # Determinism
//!
//! One thread, a fixed order of every floating-point operation, and one seeded generator
//! ([`rng::SplitMix64`]) with independent streams for the initialisation and for each epoch's
//! shuffle: the same seed and data give bit-identical weights, and a run resumed from a
//! checkpoint continues exactly as an uninterrupted one.
//!
//! # Weight averaging
//!
//! Batch-32 Adam at lr 0.001 leaves the weights jittering around a good region, and the
//! validation AUC of the raw weights wobbles by a few 1e-4 from epoch to epoch. The trainer
//! therefore keeps an exponential moving average of the weights (Polyak averaging, decay
//! [`config::DEFAULT_EMA_DECAY`] = 0.9998 per step, a horizon of about 5,000 steps or 0.8
//! epoch) and evaluates, selects and saves the average instead of the raw weights; the
//! optimiser itself still steps the raw weights, so PaddleRec's hyper-parameters are
//! unchanged. `--ema-decay 0` (or `ema_decay: 0` in a config file) turns it off. The average
//! is updated every [`trainer::EMA_EVERY`] steps with the decay raised to that power, so its
//! pass over the 69,290 parameters costs a quarter of a pass per step: the epoch time is
//! unchanged within measurement noise (0.79-0.85 s with, 0.80-0.82 s without). It is part of
//! the checkpoint, so a resumed run stays bit-identical.
//!
//! # How many epochs
//!
//! Measured on the full data with the default model (dense Adam, lr 0.001, batch 32), the
//! validation AUCs peak around epochs 3 to 5 and decline after epoch 6 as the model overfits.
//! The default is therefore 6 epochs, with the best epoch (by the mean of the two validation
//! AUCs) kept. Best-by-validation test AUCs (income / marital), 8 epochs (the default 6 give
//! the same figures, as every best epoch is at most 5), best epoch in brackets:
//!
//! | seed | raw weights (`--ema-decay 0`) | average, decay 0.999 | average, 0.9998 (default) |
//! |------|-------------------------------|----------------------|---------------------------|
//! | 2020 | 0.94991 / 0.99449 (4) | 0.95059 / 0.99459 (4) | 0.95064 / 0.99461 (5) |
//! | 1    | 0.95017 / 0.99456 (4) | 0.95062 / 0.99465 (4) | 0.95047 / 0.99470 (4) |
//! | 2    | 0.95037 / 0.99460 (5) | 0.95106 / 0.99467 (4) | 0.95113 / 0.99470 (4) |
//! | mean | 0.95015 / 0.99455 | 0.95076 / 0.99464 | 0.95075 / 0.99467 |
//! | max - min | 0.00046 / 0.00011 | 0.00047 / 0.00008 | 0.00066 / 0.00009 |
//!
//! The default decay was chosen on the validation split (its best mean validation AUC is the
//! highest of 0.999, 0.9995 and 0.9998 on every seed), not on these test figures; the 0.999
//! column was measured with an update every step, which at 0.9998 changes the AUCs by at most
//! 1e-5. A learning-rate decay after the warm epochs (halving per epoch after epoch 2 or 3, or
//! x0.3 after epoch 2, on top of the average) lowered the best validation AUCs on every seed
//! and is not used. Validating every half epoch as well would pick the same checkpoint on all
//! three seeds (the averaged weights' validation AUC moves smoothly), so the trainer validates
//! once per epoch. Lazy Adam and the two-level `ple` preset do about as well or slightly
//! better on income.
//!
//! # Initialisation
//!
//! Xavier-uniform weights (PaddleRec's constant 0.1 weights make every unit of a layer
//! identical) and zero biases ([`network::INITIAL_BIAS`] says why not PaddleRec's 0.1).
pub mod adam;
pub mod census;
pub mod checkpoint;
pub mod config;
pub mod dataset;
pub mod deploy;
pub mod download;
pub mod gates;
pub mod metrics;
pub mod network;
pub mod report;
pub mod rng;
pub mod run;
pub mod test_support;
pub mod trainer;
