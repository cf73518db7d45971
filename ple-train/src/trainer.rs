//! One training run's state and its two loops: an epoch of Adam steps, and evaluation.
//!
//! A step takes one batch of the epoch's shuffled order; for each row it runs the forward
//! pass, turns the logits into the gradient of the summed, task-weighted mean log loss, and
//! runs the backward pass, accumulating parameter gradients. Rows are processed one at a
//! time on one tape: the layers are narrow (16 units), so batching the matrix products would
//! gain little while the sparse first layer is already a handful of row additions. Then Adam
//! updates every parameter (or, with lazy Adam, only the first-layer rows the batch touched).
//!
//! Everything runs on one thread in a fixed order, so the same seed and data give the same
//! bits. The epoch's order comes from the seed's stream for that epoch, so a run resumed at
//! an epoch boundary shuffles exactly as an uninterrupted one.

use ple_codegen::Normalisation;

use crate::adam::Adam;
use crate::config::TrainConfig;
use crate::dataset::{Dataset, NO_COLUMN};
use crate::metrics::{bucket_auc, exact_auc, mean_log_loss, sigmoid, PADDLE_THRESHOLDS};
use crate::network::Network;
use crate::rng::SplitMix64;

/// The moving average is updated every this many optimiser steps, with the decay raised to
/// this power, so that it costs one pass over the parameters per `EMA_EVERY` steps rather
/// than per step.
pub const EMA_EVERY: u64 = 4;

/// Standardisation statistics of the numeric columns of `train` (computed in `f64`; the
/// population standard deviation, 1 for a constant column).
pub fn normalisation_of(train: &Dataset) -> Normalisation {
    let width = train.numeric_width;
    let rows = train.rows().max(1) as f64;
    let mut sum = vec![0.0f64; width];
    for row in train.numeric.chunks_exact(width.max(1)) {
        for (s, &x) in sum.iter_mut().zip(row) {
            *s += f64::from(x);
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / rows).collect();
    let mut square = vec![0.0f64; width];
    for row in train.numeric.chunks_exact(width.max(1)) {
        for ((s, &x), m) in square.iter_mut().zip(row).zip(&mean) {
            *s += (f64::from(x) - m).powi(2);
        }
    }
    let std = square
        .iter()
        .map(|s| {
            let std = (s / rows).sqrt() as f32;
            if std > 0.0 && std.is_finite() {
                std
            } else {
                1.0
            }
        })
        .collect();
    Normalisation {
        mean: mean.iter().map(|&m| m as f32).collect(),
        std,
    }
}

/// The numeric block of `data`, standardised by `norm`.
pub fn standardise(data: &Dataset, norm: &Normalisation) -> Vec<f32> {
    let width = data.numeric_width;
    let mut out = data.numeric.clone();
    for row in out.chunks_exact_mut(width.max(1)) {
        for ((x, m), s) in row.iter_mut().zip(&norm.mean).zip(&norm.std) {
            *x = (*x - m) / s;
        }
    }
    out
}

/// A split ready for the network: its rows and standardised numeric values.
pub struct Prepared<'a> {
    /// The split.
    pub data: &'a Dataset,
    /// Standardised numeric block, `[rows, numeric_width]`.
    pub numeric: Vec<f32>,
}

impl<'a> Prepared<'a> {
    /// Standardises `data` with `norm` after checking that it fits a network of `input_dim`
    /// inputs and `tasks` tasks.
    pub fn new(
        data: &'a Dataset,
        norm: &Normalisation,
        input_dim: usize,
        tasks: usize,
    ) -> Result<Self, String> {
        check_dataset(data, input_dim, tasks)?;
        if norm.mean.len() != data.numeric_width || norm.std.len() != data.numeric_width {
            return Err(format!(
                "normalisation has {} columns but the data has {} numeric columns",
                norm.mean.len(),
                data.numeric_width
            ));
        }
        Ok(Self {
            data,
            numeric: standardise(data, norm),
        })
    }
}

/// Checks the invariants the network relies on, so that a bad split is an error, not a panic.
pub fn check_dataset(data: &Dataset, input_dim: usize, tasks: usize) -> Result<(), String> {
    let rows = data.rows();
    if data.dense_width != input_dim {
        return Err(format!(
            "data has {} features, the network {input_dim}",
            data.dense_width
        ));
    }
    if data.labels.len() != tasks || data.labels.iter().any(|l| l.len() != rows) {
        return Err(format!(
            "data must have {tasks} label columns of {rows} rows"
        ));
    }
    if data.numeric.len() != rows * data.numeric_width || data.hot.len() != rows * data.fields {
        return Err("data blocks do not match the row count".into());
    }
    if let Some(i) = data.hot.iter().position(|&c| {
        c != NO_COLUMN && !(data.numeric_width..data.dense_width).contains(&(c as usize))
    }) {
        return Err(format!(
            "row {} field {}: one-hot column {} outside {}..{}",
            i / data.fields.max(1),
            i % data.fields.max(1),
            data.hot[i],
            data.numeric_width,
            data.dense_width
        ));
    }
    if let Some(i) = data.numeric.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "row {} numeric column {}: not a finite number",
            i / data.numeric_width,
            i % data.numeric_width
        ));
    }
    Ok(())
}

/// Metrics of one task on one split.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaskMetrics {
    /// Exact ROC AUC (`None` when the split has one class only).
    pub auc: Option<f64>,
    /// Paddle's 4095-threshold bucketed AUC.
    pub bucket_auc: Option<f64>,
    /// Mean log loss.
    pub log_loss: f64,
}

/// The state of a training run: network, parameters, optimiser and scratch buffers.
pub struct Trainer {
    /// The run's configuration.
    pub config: TrainConfig,
    /// The network layout.
    pub net: Network,
    /// Parameters, in the network's layout.
    pub params: Vec<f32>,
    /// The optimiser.
    pub adam: Adam,
    /// Exponential moving average of `params` (empty when `config.ema_decay` is 0): the
    /// weights that are evaluated and saved. See [`EMA_EVERY`].
    pub average: Vec<f32>,
    grad: Vec<f32>,
    tape: Vec<f32>,
    dtape: Vec<f32>,
    dlogits: Vec<f32>,
    weights: Vec<f32>,
    touched: Vec<bool>,
    touched_rows: Vec<u32>,
    /// Run the baseline (non-AVX) build of the training step even where AVX is available;
    /// tests use it to check that both builds give the same bits.
    pub force_baseline: bool,
}

impl Trainer {
    /// A fresh run for data of `input_dim` features and `tasks` tasks.
    pub fn new(config: TrainConfig, input_dim: usize, tasks: usize) -> Result<Self, String> {
        config.validate(tasks)?;
        let shape = config.model.shape(input_dim, tasks);
        shape
            .validate()
            .map_err(|e| format!("invalid network: {e}"))?;
        let net = Network::new(&shape);
        let params = net.init(config.seed);
        let adam = Adam::new(config.learning_rate, net.param_len());
        let weights = config.weights(tasks);
        let average = if config.ema_decay > 0.0 {
            params.clone()
        } else {
            Vec::new()
        };
        Ok(Self {
            average,
            grad: vec![0.0; net.param_len()],
            tape: vec![0.0; net.tape_len()],
            dtape: vec![0.0; net.tape_len()],
            dlogits: vec![0.0; tasks],
            touched: vec![false; input_dim],
            touched_rows: Vec::new(),
            force_baseline: false,
            weights,
            config,
            net,
            params,
            adam,
        })
    }

    /// Trains one epoch (0-based `epoch`) over `train`; `progress` is called with the number
    /// of rows done after every step. Returns the mean weighted training loss per task.
    pub fn train_epoch(
        &mut self,
        train: &Prepared<'_>,
        epoch: u32,
        progress: &mut dyn FnMut(usize),
    ) -> Vec<f64> {
        let data = train.data;
        let rows = data.rows();
        let mut order: Vec<u32> = (0..rows as u32).collect();
        SplitMix64::for_stream(self.config.seed, 1 + u64::from(epoch)).shuffle(&mut order);
        let mut loss = vec![0.0f64; self.net.tasks()];
        let mut done = 0;
        for batch in order.chunks(self.config.batch_size) {
            self.step(train, batch, &mut loss);
            done += batch.len();
            progress(done);
        }
        loss.iter().map(|l| l / rows.max(1) as f64).collect()
    }

    /// One Adam step over the rows `batch`; adds each row's per-task log loss to `loss`.
    ///
    /// Runs the AVX build of the step where the CPU has AVX (unless `force_baseline`), else
    /// the baseline build. Both compile the same source; the arithmetic is element-wise or
    /// summed in explicit fixed lanes, and FMA is not enabled, so both give the same bits.
    fn step(&mut self, train: &Prepared<'_>, batch: &[u32], loss: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        {
            if !self.force_baseline && std::arch::is_x86_feature_detected!("avx") {
                // SAFETY: the CPU supports AVX (checked just above), the only requirement of
                // a `#[target_feature(enable = "avx")]` function.
                unsafe { self.step_avx(train, batch, loss) };
                return;
            }
        }
        self.step_body(train, batch, loss);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    fn step_avx(&mut self, train: &Prepared<'_>, batch: &[u32], loss: &mut [f64]) {
        self.step_body(train, batch, loss);
    }

    #[inline(always)]
    fn step_body(&mut self, train: &Prepared<'_>, batch: &[u32], loss: &mut [f64]) {
        let data = train.data;
        let (nw, fields) = (data.numeric_width, data.fields);
        let scale = 1.0 / batch.len() as f32;
        let lazy = self.config.lazy_adam;
        for &row in batch {
            let row = row as usize;
            let numeric = &train.numeric[row * nw..(row + 1) * nw];
            let hot = &data.hot[row * fields..(row + 1) * fields];
            self.net.forward(&self.params, numeric, hot, &mut self.tape);
            for (t, task_loss) in loss.iter_mut().enumerate() {
                let z = self.tape[self.net.logit_offset(t)];
                let y = data.labels[t][row];
                *task_loss += crate::metrics::log_loss_of_logit(z, y);
                self.dlogits[t] = self.weights[t] * scale * (sigmoid(z) - f32::from(y.min(1)));
            }
            self.net.backward(
                &self.params,
                numeric,
                hot,
                &self.tape,
                &self.dlogits,
                &mut self.dtape,
                &mut self.grad,
            );
            if lazy {
                for &c in hot {
                    if c != NO_COLUMN && !self.touched[c as usize] {
                        self.touched[c as usize] = true;
                        self.touched_rows.push(c);
                    }
                }
            }
        }
        self.adam.begin_step();
        if lazy {
            let wide = self.net.wide();
            // The numeric rows are read by every row, so they are always touched.
            self.adam
                .update(&mut self.params, &mut self.grad, 0..nw * wide);
            for &c in &self.touched_rows {
                let c = c as usize;
                self.touched[c] = false;
                self.adam
                    .update(&mut self.params, &mut self.grad, c * wide..(c + 1) * wide);
            }
            self.touched_rows.clear();
            let rest = self.net.input_block_len()..self.net.param_len();
            self.adam.update(&mut self.params, &mut self.grad, rest);
        } else {
            let all = 0..self.net.param_len();
            self.adam.update(&mut self.params, &mut self.grad, all);
        }
        if !self.average.is_empty() && self.adam.step.is_multiple_of(EMA_EVERY) {
            let keep = f64::from(self.config.ema_decay).powi(EMA_EVERY as i32);
            let blend = (1.0 - keep) as f32;
            for (a, &p) in self.average.iter_mut().zip(&self.params) {
                *a += blend * (p - *a);
            }
        }
    }

    /// The weights to evaluate and save: the moving average when it is on, else the
    /// optimiser's current weights.
    pub fn eval_params(&self) -> &[f32] {
        if self.average.is_empty() {
            &self.params
        } else {
            &self.average
        }
    }

    /// Logits of every row of `split`, one vector per task.
    pub fn logits(&mut self, split: &Prepared<'_>) -> Vec<Vec<f32>> {
        let params = if self.average.is_empty() {
            &self.params
        } else {
            &self.average
        };
        logits_of(&self.net, params, split, &mut self.tape)
    }

    /// Metrics of every task on `split`.
    pub fn evaluate(&mut self, split: &Prepared<'_>) -> Vec<TaskMetrics> {
        let logits = self.logits(split);
        metrics_of(&logits, &split.data.labels)
    }
}

/// Logits of every row of `split` under `params`, one vector per task.
pub fn logits_of(
    net: &Network,
    params: &[f32],
    split: &Prepared<'_>,
    tape: &mut [f32],
) -> Vec<Vec<f32>> {
    let data = split.data;
    let (nw, fields) = (data.numeric_width, data.fields);
    let mut out = vec![Vec::with_capacity(data.rows()); net.tasks()];
    for row in 0..data.rows() {
        let numeric = &split.numeric[row * nw..(row + 1) * nw];
        let hot = &data.hot[row * fields..(row + 1) * fields];
        net.forward(params, numeric, hot, tape);
        for (t, logits) in out.iter_mut().enumerate() {
            logits.push(tape[net.logit_offset(t)]);
        }
    }
    out
}

/// Exact AUC, bucketed AUC and log loss of each task's logits against its labels.
pub fn metrics_of(logits: &[Vec<f32>], labels: &[Vec<u8>]) -> Vec<TaskMetrics> {
    logits
        .iter()
        .zip(labels)
        .map(|(z, y)| {
            let p: Vec<f32> = z.iter().map(|&z| sigmoid(z)).collect();
            TaskMetrics {
                auc: exact_auc(z, y),
                bucket_auc: bucket_auc(&p, y, PADDLE_THRESHOLDS),
                log_loss: mean_log_loss(z, y),
            }
        })
        .collect()
}
