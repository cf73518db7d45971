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
//! [`report`] and its SVG curves. [`config`] holds the settings, presets for Single-task,
//! MMoE, CGC and PLE, and reads YAML config files including PaddleRec's `config.yaml`.
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
//! # How many epochs
//!
//! Measured on the full data with the default model (dense Adam, lr 0.001, batch 32), the
//! validation AUCs peak around epochs 3 to 5 and decline after epoch 6 as the model overfits
//! (seed 2020, 15 epochs: income validation AUC 0.9495 at epoch 3, 0.9500 at 4, 0.9489 at
//! 10, 0.9425 at 15). The default is therefore 6 epochs, with the best epoch kept.
//! Best-by-validation test AUCs of the default (income / marital): seed 2020 0.9499 /
//! 0.99449, seed 1 0.9502 / 0.99456, seed 2 0.9504 / 0.99460. Lazy Adam and the two-level
//! `ple` preset do about as well or slightly better on income.
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
pub mod download;
pub mod metrics;
pub mod network;
pub mod report;
pub mod rng;
pub mod run;
pub mod trainer;
