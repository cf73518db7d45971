//! The training report (`report.json`) and the picture of the training curves
//! (`training_curves.svg`).
//!
//! Metrics of a split are a flat map with one key per metric and task: `auc_<task>` (exact
//! ROC AUC), `bucket_auc_<task>` (Paddle's 4095-threshold AUC) and `log_loss_<task>`. The best
//! epoch is the one with the highest mean of the task validation AUCs; its test metrics are
//! the run's result.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::trainer::TaskMetrics;

/// Metric name → value (`null` when undefined, e.g. an AUC on a one-class split).
pub type Metrics = BTreeMap<String, Option<f64>>;

/// Flattens per-task metrics into a [`Metrics`] map.
pub fn metrics_map(tasks: &[String], metrics: &[TaskMetrics]) -> Metrics {
    let mut out = Metrics::new();
    for (name, m) in tasks.iter().zip(metrics) {
        out.insert(format!("auc_{name}"), m.auc);
        out.insert(format!("bucket_auc_{name}"), m.bucket_auc);
        out.insert(format!("log_loss_{name}"), Some(m.log_loss));
    }
    out
}

/// The mean of the task AUCs, the model-selection criterion (undefined AUCs count as 0.5).
pub fn mean_auc(metrics: &[TaskMetrics]) -> f64 {
    let sum: f64 = metrics.iter().map(|m| m.auc.unwrap_or(0.5)).sum();
    sum / metrics.len().max(1) as f64
}

/// One epoch's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: u32,
    /// Wall-clock seconds of the training pass (evaluation excluded).
    pub seconds: f64,
    /// Mean training log loss per task (`train_loss_<task>`), under the epoch's moving weights.
    pub train: Metrics,
    /// Validation metrics after the epoch.
    pub validation: Metrics,
}

/// Sizes of the data the run used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataCounts {
    /// Training rows.
    pub train_rows: usize,
    /// Validation rows.
    pub validation_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Dense feature width.
    pub features: usize,
    /// Task names, in task order.
    pub tasks: Vec<String>,
}

/// The whole `report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// 1-based number of the epoch whose weights were kept.
    pub best_epoch: u32,
    /// How the best epoch was chosen.
    pub selection: String,
    /// Validation metrics of the best epoch.
    pub validation: Metrics,
    /// Test metrics of the best epoch.
    pub test: Metrics,
    /// Every epoch.
    pub epochs: Vec<EpochRecord>,
    /// The configuration.
    pub config: crate::config::TrainConfig,
    /// The seed (also in `config`).
    pub seed: u64,
    /// Parameters of the network.
    pub parameters: usize,
    /// Data sizes.
    pub data: DataCounts,
    /// Rows with a category unseen in training, per split and field (fields with none omitted).
    pub unknown_categories: BTreeMap<String, BTreeMap<String, u64>>,
    /// Total seconds of the training passes, over all epochs of this and resumed runs.
    pub train_seconds: f64,
    /// Mean seconds per training epoch.
    pub seconds_per_epoch: f64,
    /// Wall-clock seconds of this invocation, data loading included.
    pub wall_seconds: f64,
    /// Mean gate weights of the best epoch's weights over the test split (absent in reports
    /// written before they were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates: Option<crate::gates::GateUsage>,
    /// The saved model as a device runs it, at f32, f16 and int8 on the test split (absent
    /// when the run was asked not to make it, or it could not be made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<crate::deploy::DeploymentReport>,
    /// Why the deployment report could not be made (the model is written all the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_error: Option<String>,
}

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

/// The training curves as an SVG: per task, training and validation log loss (left) and
/// validation AUC (right), against the epoch; the best epoch is marked.
pub fn curves_svg(tasks: &[String], epochs: &[EpochRecord], best_epoch: u32) -> String {
    let (panel_w, panel_h, margin) = (420.0, 280.0, 60.0);
    let width = 2.0 * panel_w + 3.0 * margin;
    let height = panel_h + 2.0 * margin + 20.0 * tasks.len() as f64 + 10.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let x_of = |e: u32, left: f64| {
        let n = epochs.len().max(2) as f64 - 1.0;
        left + (f64::from(e) - 1.0) / n * panel_w
    };
    let get = |m: &Metrics, key: &str| m.get(key).copied().flatten();
    let panels: [(&str, Vec<(String, bool)>); 2] = [
        (
            "log loss (solid: validation, dashed: training)",
            tasks
                .iter()
                .flat_map(|t| {
                    [
                        (format!("log_loss_{t}"), false),
                        (format!("train_loss_{t}"), true),
                    ]
                })
                .collect(),
        ),
        (
            "validation ROC AUC",
            tasks.iter().map(|t| (format!("auc_{t}"), false)).collect(),
        ),
    ];
    for (p, (title, series)) in panels.iter().enumerate() {
        let left = margin + p as f64 * (panel_w + margin);
        let top = margin;
        let values: Vec<f64> = epochs
            .iter()
            .flat_map(|e| {
                series
                    .iter()
                    .filter_map(|(k, train)| get(if *train { &e.train } else { &e.validation }, k))
            })
            .filter(|v| v.is_finite())
            .collect();
        let (mut lo, mut hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        let pad = ((hi - lo) * 0.08).max(1e-4);
        (lo, hi) = (lo - pad, hi + pad);
        let y_of = |v: f64| top + (hi - v) / (hi - lo) * panel_h;
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="middle" font-size="14" font-weight="bold">{title}</text>"##,
            left + panel_w / 2.0,
            top - 15.0
        );
        let _ = writeln!(
            svg,
            r##"<rect x="{left}" y="{top}" width="{panel_w}" height="{panel_h}" fill="none" stroke="#444"/>"##
        );
        for i in 0..=4 {
            let v = lo + (hi - lo) * f64::from(i) / 4.0;
            let y = y_of(v);
            let _ = writeln!(
                svg,
                r##"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v:.4}</text>"##,
                left + panel_w,
                left - 5.0,
                y + 4.0
            );
        }
        for e in epochs {
            let x = x_of(e.epoch, left);
            let _ = writeln!(
                svg,
                r##"<text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
                top + panel_h + 16.0,
                e.epoch
            );
        }
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="middle">epoch</text>"##,
            left + panel_w / 2.0,
            top + panel_h + 34.0
        );
        if best_epoch > 0 {
            let x = x_of(best_epoch, left);
            let _ = writeln!(
                svg,
                r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{}" stroke="#888" stroke-dasharray="2,3"/>"##,
                top + panel_h
            );
        }
        for (i, (key, train)) in series.iter().enumerate() {
            let task_index = if p == 0 { i / 2 } else { i };
            let color = COLORS[task_index % COLORS.len()];
            let points: Vec<String> = epochs
                .iter()
                .filter_map(|e| {
                    let v = get(if *train { &e.train } else { &e.validation }, key)?;
                    Some(format!("{:.1},{:.1}", x_of(e.epoch, left), y_of(v)))
                })
                .collect();
            let dash = if *train {
                r#" stroke-dasharray="6,4""#
            } else {
                ""
            };
            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                points.join(" ")
            );
            for pt in points.iter().filter(|_| !*train) {
                let (x, y) = pt.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(svg, r#"<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>"#);
            }
        }
    }
    for (i, task) in tasks.iter().enumerate() {
        let y = margin + panel_h + 55.0 + 20.0 * i as f64;
        let color = COLORS[i % COLORS.len()];
        let _ = writeln!(
            svg,
            r#"<rect x="{margin}" y="{}" width="14" height="4" fill="{color}"/><text x="{}" y="{y}">{task}</text>"#,
            y - 6.0,
            margin + 20.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" text-anchor="end" fill="#555">dotted line: best epoch ({best_epoch})</text>"##,
        width - margin,
        margin + panel_h + 55.0
    );
    svg.push_str("</svg>\n");
    svg
}
