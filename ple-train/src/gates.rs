//! Which experts each task uses: the mean gate weights of a trained model over a split, and
//! their picture (`gate_usage.svg`).
//!
//! The weights are computed by `ple-core`, the inference crate the model is deployed with,
//! not by the trainer's own forward pass: the parameters are packed with
//! [`ple_core::pack_f32`] and every row goes through
//! [`PleModel::predict_with_gates`](ple_core::PleModel::predict_with_gates), so the picture
//! shows what the deployed model does. `ple-core` writes the gates level by level: each
//! task's gate (a softmax over the task's own experts, then the shared ones), then, on every
//! level but the last, the shared gate (over every expert of the level). The means are summed
//! in `f64` in row order, so they are deterministic; each gate's means sum to 1 up to
//! rounding, since every row's softmax does.
//!
//! Experts are named as in `ple-core`'s shape: `task{t}.expert{i}` for task `t`'s own experts
//! and `shared{j}` for the shared ones, within each level.

use std::fmt::Write;

use ple_core::{pack_f32, packed_len, Input, InputLayout, ModelF32, PleShape};
use serde::{Deserialize, Serialize};

use crate::network::Network;
use crate::trainer::Prepared;

/// The mean weights of one gate over a split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateMean {
    /// `level{l}.task{t}.gate` or `level{l}.shared.gate`, as in `ple-core`'s tensor names.
    pub gate: String,
    /// The task's name, or `shared` for the shared gate.
    pub owner: String,
    /// The experts the gate mixes, in gate order.
    pub experts: Vec<String>,
    /// Mean weight of each expert over the split's rows.
    pub mean: Vec<f64>,
}

/// Mean gate weights of every gate of a model over a split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateUsage {
    /// Rows averaged over.
    pub rows: usize,
    /// The split the rows come from.
    pub split: String,
    /// Gates level by level: the task gates in task order, then the shared gate (every level
    /// but the last).
    pub gates: Vec<GateMean>,
}

/// Names of the experts of one level: every task's own experts, then the shared ones.
fn level_experts(shape: &PleShape<'_>) -> Vec<String> {
    let mut names = Vec::new();
    for t in 0..shape.tasks {
        for i in 0..shape.experts_per_task {
            names.push(format!("task{t}.expert{i}"));
        }
    }
    for j in 0..shape.shared_experts {
        names.push(format!("shared{j}"));
    }
    names
}

/// The empty gates of `shape`, in `ple-core`'s gate order, with zero means.
fn gate_layout(shape: &PleShape<'_>, tasks: &[String]) -> Vec<GateMean> {
    let all = level_experts(shape);
    let own = shape.experts_per_task as usize;
    let shared = &all[tasks.len() * own..];
    let mut gates = Vec::new();
    for level in 0..shape.levels {
        for (t, task) in tasks.iter().enumerate() {
            let experts: Vec<String> = all[t * own..(t + 1) * own]
                .iter()
                .chain(shared)
                .cloned()
                .collect();
            gates.push(GateMean {
                gate: format!("level{level}.task{t}.gate"),
                owner: task.clone(),
                mean: vec![0.0; experts.len()],
                experts,
            });
        }
        if shape.has_shared_gate(level) {
            gates.push(GateMean {
                gate: format!("level{level}.shared.gate"),
                owner: "shared".into(),
                mean: vec![0.0; all.len()],
                experts: all.clone(),
            });
        }
    }
    gates
}

/// Mean gate weights of the network `net` with trainer-layout parameters `params` over
/// `split` (its rows standardised as in training), computed by `ple-core`.
pub fn mean_gate_weights(
    net: &Network,
    shape: &PleShape<'_>,
    params: &[f32],
    split: &Prepared<'_>,
    split_name: &str,
) -> Result<GateUsage, String> {
    let canonical = net.to_canonical(params);
    let mut packed = vec![0.0f32; packed_len(shape)];
    pack_f32(shape, &canonical, &mut packed).map_err(|e| format!("packing the model: {e:?}"))?;
    let model = ModelF32::new(*shape, InputLayout::dense(shape.input_dim), &packed)
        .map_err(|e| format!("building the inference model: {e:?}"))?;
    let mut gates = gate_layout(shape, &split.data.task_names);
    let mut scratch = vec![0.0f32; model.scratch_len()];
    let mut probabilities = vec![0.0f32; model.tasks()];
    let mut row_gates = vec![0.0f32; model.gates_len()];
    let laid_out: usize = gates.iter().map(|g| g.mean.len()).sum();
    if laid_out != row_gates.len() {
        return Err(format!(
            "ple-core writes {} gate weights per row, the layout has {laid_out}",
            row_gates.len()
        ));
    }
    let data = split.data;
    let (nw, fields) = (data.numeric_width, data.fields);
    let mut dense = vec![0.0f32; data.dense_width];
    let width = dense.len();
    // `check_dataset` (in `Prepared::new`) guarantees this; the filter keeps a bad index from
    // panicking all the same.
    let in_range = |c: u32| (c as usize) < width;
    let mut sums: Vec<f64> = vec![0.0; laid_out];
    for row in 0..data.rows() {
        dense[..nw].copy_from_slice(&split.numeric[row * nw..(row + 1) * nw]);
        let hot = &data.hot[row * fields..(row + 1) * fields];
        for &c in hot.iter().filter(|&&c| in_range(c)) {
            dense[c as usize] = 1.0;
        }
        model
            .predict_with_gates(
                Input::Dense(&dense),
                &mut scratch,
                &mut probabilities,
                &mut row_gates,
            )
            .map_err(|e| format!("row {row}: inference failed: {e:?}"))?;
        for (s, &g) in sums.iter_mut().zip(&row_gates) {
            *s += f64::from(g);
        }
        for &c in hot.iter().filter(|&&c| in_range(c)) {
            dense[c as usize] = 0.0;
        }
    }
    let rows = data.rows().max(1) as f64;
    let mut sums = sums.into_iter();
    for gate in &mut gates {
        for (m, s) in gate.mean.iter_mut().zip(sums.by_ref()) {
            *m = s / rows;
        }
    }
    Ok(GateUsage {
        rows: data.rows(),
        split: split_name.into(),
        gates,
    })
}

/// A heat map of the mean gate weights: one row per gate, one column per expert of the
/// level, the weight printed in each cell; experts a gate does not mix are left blank.
pub fn gates_svg(usage: &GateUsage, shape: &PleShape<'_>) -> String {
    let experts = level_experts(shape);
    let (cell_w, cell_h, label_w, top) = (78.0, 34.0, 190.0, 80.0);
    let level_gap = 56.0;
    let levels = shape.levels as usize;
    let gates_per_level = |level: usize| {
        usage
            .gates
            .iter()
            .filter(|g| g.gate.starts_with(&format!("level{level}.")))
            .count()
    };
    // Wide enough for the title and the key even when there are only two experts.
    let width = (label_w + cell_w * experts.len() as f64 + 30.0).max(760.0);
    let body: f64 = (0..levels)
        .map(|l| gates_per_level(l) as f64 * cell_h + level_gap)
        .sum();
    let height = top + body + 30.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="20" y="26" font-size="15" font-weight="bold">Mean gate weight per expert ({} split, {} rows)</text>"#,
        usage.split, usage.rows
    );
    let _ = writeln!(
        svg,
        r##"<text x="20" y="46" fill="#555">Each row is one gate and sums to 1; "-": the gate does not mix that expert. {}.</text>"##,
        task_key(usage)
    );
    let mut y = top;
    for level in 0..levels {
        let _ = writeln!(
            svg,
            r#"<text x="20" y="{:.1}" font-weight="bold">level {level}</text>"#,
            y + 14.0
        );
        for (i, name) in experts.iter().enumerate() {
            let x = label_w + cell_w * (i as f64 + 0.5);
            let (first, second) = name.split_once('.').unwrap_or((name, ""));
            let _ = writeln!(
                svg,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{first}</text><text x="{x:.1}" y="{:.1}" text-anchor="middle">{second}</text>"#,
                y + 8.0,
                y + 22.0
            );
        }
        y += 30.0;
        for gate in usage
            .gates
            .iter()
            .filter(|g| g.gate.starts_with(&format!("level{level}.")))
        {
            let label = if gate.owner == "shared" {
                "shared gate".to_string()
            } else {
                format!("{} gate", gate.owner)
            };
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"#,
                label_w - 10.0,
                y + cell_h / 2.0 + 4.0
            );
            for (i, name) in experts.iter().enumerate() {
                let x = label_w + cell_w * i as f64;
                let weight = gate
                    .experts
                    .iter()
                    .position(|e| e == name)
                    .and_then(|k| gate.mean.get(k).copied());
                let Some(w) = weight else {
                    let _ = writeln!(
                        svg,
                        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#bbb">-</text>"##,
                        x + cell_w / 2.0,
                        y + cell_h / 2.0 + 4.0
                    );
                    continue;
                };
                let _ = writeln!(
                    svg,
                    r##"<rect x="{x:.1}" y="{y:.1}" width="{cell_w}" height="{cell_h}" fill="{}" stroke="#ccc"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{}">{w:.3}</text>"##,
                    heat(w),
                    x + cell_w / 2.0,
                    y + cell_h / 2.0 + 4.0,
                    if w > 0.5 { "white" } else { "black" }
                );
            }
            y += cell_h;
        }
        y += level_gap - 30.0;
    }
    svg.push_str("</svg>\n");
    svg
}

/// Which task each `task{t}` of the expert names is, from the task gates' owners.
fn task_key(usage: &GateUsage) -> String {
    let mut key = Vec::new();
    for gate in &usage.gates {
        let task = gate
            .gate
            .strip_prefix("level0.task")
            .and_then(|rest| rest.strip_suffix(".gate"));
        if let Some(t) = task {
            key.push(format!("task{t} = {}", gate.owner));
        }
    }
    key.join(", ")
}

/// White (0) to dark blue (1).
fn heat(w: f64) -> String {
    let w = w.clamp(0.0, 1.0);
    let mix = |lo: f64, hi: f64| (lo + (hi - lo) * w).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(255.0, 8.0),
        mix(255.0, 48.0),
        mix(255.0, 107.0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Dataset;

    fn tiny_split(rows: usize) -> Dataset {
        let mut numeric = Vec::new();
        let mut hot = Vec::new();
        for r in 0..rows {
            numeric.extend([r as f32 * 0.3 - 1.0, (r % 3) as f32]);
            hot.extend([2 + (r % 2) as u32, 4 + (r % 3) as u32]);
        }
        Dataset {
            dense_width: 7,
            numeric_width: 2,
            numeric,
            fields: 2,
            hot,
            labels: vec![vec![0; rows], vec![1; rows]],
            task_names: vec!["income".into(), "marital".into()],
        }
    }

    #[test]
    fn each_gates_mean_weights_sum_to_one() {
        let data = tiny_split(9);
        let shape = PleShape {
            input_dim: 7,
            tasks: 2,
            experts_per_task: 2,
            shared_experts: 1,
            levels: 2,
            expert_units: &[4],
            tower_units: &[3],
        };
        let net = Network::new(&shape);
        let params = net.init(5);
        let norm = crate::trainer::normalisation_of(&data);
        let split = Prepared::new(&data, &norm, 7, 2).unwrap();
        let usage = mean_gate_weights(&net, &shape, &params, &split, "test").unwrap();
        // Two levels: two task gates each, and a shared gate on the first level only.
        let names: Vec<&str> = usage.gates.iter().map(|g| g.gate.as_str()).collect();
        assert_eq!(
            names,
            [
                "level0.task0.gate",
                "level0.task1.gate",
                "level0.shared.gate",
                "level1.task0.gate",
                "level1.task1.gate"
            ]
        );
        assert_eq!(
            usage.gates[1].experts,
            ["task1.expert0", "task1.expert1", "shared0"]
        );
        for gate in &usage.gates {
            let total: f64 = gate.mean.iter().sum();
            assert!((total - 1.0).abs() < 1e-5, "{}: {total}", gate.gate);
            // Random weights give every expert some share, not a one-hot gate.
            assert!(gate.mean.iter().all(|&m| m > 0.0 && m < 1.0), "{gate:?}");
        }
        let svg = gates_svg(&usage, &shape);
        assert!(svg.contains("marital gate") && svg.contains("shared0"));
    }
}
