//! The shape of a PLE network, defined once for every crate of the workspace.
//!
//! A [`PleShape`] is a plain description: how many tasks, how many task-specific and shared
//! experts, how many extraction levels, and the widths of the expert and tower layers. The
//! trainer allocates its parameters from it, codegen validates a model file against it and the
//! inference engine runs it. Every parameter tensor of a shape is enumerated, in one canonical
//! order and under one documented name, by [`PleShape::tensors`].
//!
//! # The network
//!
//! Level `l` (of `levels`) holds, for each task `t`, `experts_per_task` task-specific experts,
//! plus `shared_experts` shared experts. Each expert is a stack of dense layers with ReLU
//! (`expert_units`). At level 0 every expert and gate reads the model input; at level `l > 0`
//! the experts and gate of task `t` read task `t`'s output of level `l - 1`, and the shared
//! experts and shared gate read the shared output of level `l - 1`.
//!
//! The gate of task `t` is a dense layer with softmax over task `t`'s own experts followed by
//! the shared experts; task `t`'s output of the level is the gate-weighted sum of those
//! experts' outputs. Every level but the last also has a shared gate, a softmax over all
//! experts of the level (task 0's, task 1's, ..., then the shared ones), whose weighted sum is
//! the shared output that the next level's shared experts read.
//!
//! After the last level, task `t`'s tower (dense layers with ReLU, `tower_units`) and a final
//! dense layer with one output give the task's logit; its sigmoid is the probability.
//!
//! With one level this is CGC; with `experts_per_task == 0` and one level it is MMoE; with
//! one task and no shared experts it is a single-task network with a (trivial) gate.
//!
//! # Tensor names
//!
//! Weights are stored `[outputs, inputs]` row-major (the `torch.nn.Linear` convention), biases
//! `[outputs]`:
//!
//! | block | weight name |
//! |---|---|
//! | task expert | `level{l}.task{t}.expert{e}.layer{k}.weight` |
//! | shared expert | `level{l}.shared.expert{e}.layer{k}.weight` |
//! | task gate | `level{l}.task{t}.gate.weight` |
//! | shared gate | `level{l}.shared.gate.weight` (every level but the last) |
//! | tower layer | `task{t}.tower.layer{k}.weight` |
//! | task output | `task{t}.output.weight` (one output: the logit) |
//!
//! and the same names ending in `.bias` for the biases.

use core::fmt;

/// The largest number of any one kind of thing (tasks, experts, levels, layers, units) a
/// shape may hold. It keeps every derived size far from overflow on 32-bit targets.
pub const MAX_COUNT: u32 = 4096;

/// The largest input width a shape may declare.
pub const MAX_INPUT: u32 = 1 << 20;

/// A PLE network's shape. See the [module documentation](self) for what each field means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PleShape<'a> {
    /// Width of the dense model input (499 for Census-Income).
    pub input_dim: u32,
    /// Number of tasks (outputs), at least 1.
    pub tasks: u32,
    /// Task-specific experts per task and level (0 or more).
    pub experts_per_task: u32,
    /// Shared experts per level (0 or more).
    pub shared_experts: u32,
    /// Number of extraction levels, at least 1.
    pub levels: u32,
    /// Widths of each expert's dense layers; the last is the expert output width.
    pub expert_units: &'a [u32],
    /// Widths of each tower's hidden layers (may be empty), before the one-unit output.
    pub tower_units: &'a [u32],
}

/// Why a [`PleShape`] is not a valid network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// `input_dim` is 0 or above [`MAX_INPUT`].
    InputDim,
    /// `tasks` is 0 or above [`MAX_COUNT`].
    Tasks,
    /// `levels` is 0 or above [`MAX_COUNT`].
    Levels,
    /// A task would have no expert to gate over (`experts_per_task + shared_experts == 0`),
    /// or an expert count is above [`MAX_COUNT`].
    Experts,
    /// `expert_units` is empty.
    NoExpertLayers,
    /// A layer width is 0, above [`MAX_COUNT`], or there are more than [`MAX_COUNT`] layers.
    Units,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ShapeError::InputDim => "input width must be between 1 and 2^20",
            ShapeError::Tasks => "number of tasks must be between 1 and 4096",
            ShapeError::Levels => "number of levels must be between 1 and 4096",
            ShapeError::Experts => {
                "every task needs at least one expert (task-specific or shared), and at most 4096"
            }
            ShapeError::NoExpertLayers => "experts need at least one layer",
            ShapeError::Units => {
                "layer widths must be between 1 and 4096, with at most 4096 layers"
            }
        };
        f.write_str(text)
    }
}

/// Which block of the network a parameter tensor belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Block {
    /// Layer `layer` of task-specific expert `expert` of task `task` at level `level`.
    TaskExpert {
        level: u32,
        task: u32,
        expert: u32,
        layer: u32,
    },
    /// Layer `layer` of shared expert `expert` at level `level`.
    SharedExpert { level: u32, expert: u32, layer: u32 },
    /// The gate of task `task` at level `level`.
    TaskGate { level: u32, task: u32 },
    /// The shared gate at level `level` (every level but the last).
    SharedGate { level: u32 },
    /// Hidden layer `layer` of task `task`'s tower.
    Tower { task: u32, layer: u32 },
    /// The one-unit output layer of task `task`.
    Output { task: u32 },
}

/// Weight matrix or bias vector of a dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    /// `[outputs, inputs]`, row-major.
    Weight,
    /// `[outputs]`.
    Bias,
}

/// One dense layer of the network: its block, and its input and output widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layer {
    pub block: Block,
    pub inputs: u32,
    pub outputs: u32,
}

/// One parameter tensor: which layer, weight or bias. `Display` gives its canonical name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tensor {
    pub layer: Layer,
    pub param: Param,
}

impl Tensor {
    /// The tensor's dimensions: `[outputs, inputs]` for a weight, `[outputs]` for a bias
    /// (the second entry is then 1 and `rank` is 1).
    pub const fn dims(&self) -> (u32, u32) {
        match self.param {
            Param::Weight => (self.layer.outputs, self.layer.inputs),
            Param::Bias => (self.layer.outputs, 1),
        }
    }

    /// 2 for a weight, 1 for a bias.
    pub const fn rank(&self) -> usize {
        match self.param {
            Param::Weight => 2,
            Param::Bias => 1,
        }
    }

    /// Number of values in the tensor.
    pub const fn len(&self) -> usize {
        let (a, b) = self.dims();
        a as usize * b as usize
    }

    /// Always false: a valid shape has no empty tensor.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Block::TaskExpert {
                level,
                task,
                expert,
                layer,
            } => {
                write!(f, "level{level}.task{task}.expert{expert}.layer{layer}")
            }
            Block::SharedExpert {
                level,
                expert,
                layer,
            } => {
                write!(f, "level{level}.shared.expert{expert}.layer{layer}")
            }
            Block::TaskGate { level, task } => write!(f, "level{level}.task{task}.gate"),
            Block::SharedGate { level } => write!(f, "level{level}.shared.gate"),
            Block::Tower { task, layer } => write!(f, "task{task}.tower.layer{layer}"),
            Block::Output { task } => write!(f, "task{task}.output"),
        }
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = match self.param {
            Param::Weight => "weight",
            Param::Bias => "bias",
        };
        write!(f, "{}.{suffix}", self.layer.block)
    }
}

const fn in_count(n: u32) -> bool {
    n <= MAX_COUNT
}

impl<'a> PleShape<'a> {
    /// Checks that the shape describes a network that can be built and run.
    pub const fn validate(&self) -> Result<(), ShapeError> {
        if self.input_dim == 0 || self.input_dim > MAX_INPUT {
            return Err(ShapeError::InputDim);
        }
        if self.tasks == 0 || !in_count(self.tasks) {
            return Err(ShapeError::Tasks);
        }
        if self.levels == 0 || !in_count(self.levels) {
            return Err(ShapeError::Levels);
        }
        if !in_count(self.experts_per_task)
            || !in_count(self.shared_experts)
            || self.experts_per_task + self.shared_experts == 0
            || !in_count(self.experts_per_task * self.tasks)
        {
            return Err(ShapeError::Experts);
        }
        if self.expert_units.is_empty() {
            return Err(ShapeError::NoExpertLayers);
        }
        if !units_ok(self.expert_units) || !units_ok(self.tower_units) {
            return Err(ShapeError::Units);
        }
        Ok(())
    }

    /// Output width of every expert (the last of `expert_units`; 0 for an invalid shape).
    pub const fn expert_width(&self) -> u32 {
        match self.expert_units.last() {
            Some(&w) => w,
            None => 0,
        }
    }

    /// Input width of the experts and gates at `level`.
    pub const fn level_input(&self, level: u32) -> u32 {
        if level == 0 {
            self.input_dim
        } else {
            self.expert_width()
        }
    }

    /// Experts a task gate mixes: the task's own, then the shared ones.
    pub const fn task_gate_width(&self) -> u32 {
        self.experts_per_task + self.shared_experts
    }

    /// Experts at one level: every task's own, then the shared ones (the shared gate's width).
    pub const fn total_experts(&self) -> u32 {
        self.tasks * self.experts_per_task + self.shared_experts
    }

    /// Whether `level` has a shared gate (every level but the last).
    pub const fn has_shared_gate(&self, level: u32) -> bool {
        level + 1 < self.levels
    }

    /// Width of the input of tower layer `layer` (or of the output layer when `layer` equals
    /// the number of tower layers).
    pub const fn tower_input(&self, layer: usize) -> u32 {
        if layer == 0 {
            self.expert_width()
        } else {
            unit_at(self.tower_units, layer - 1)
        }
    }

    /// Number of dense layers in the network.
    pub const fn layer_count(&self) -> usize {
        let e = self.expert_units.len();
        let per_level = self.total_experts() as usize * e + self.tasks as usize;
        let shared_gates = (self.levels as usize).saturating_sub(1);
        self.levels as usize * per_level
            + shared_gates
            + self.tasks as usize * (self.tower_units.len() + 1)
    }

    /// Iterates over every dense layer in canonical order: level by level (task experts task
    /// by task, then shared experts, then task gates, then the shared gate), then task by task
    /// (tower layers, then the output layer).
    pub fn layers(&self) -> Layers<'a> {
        Layers {
            shape: *self,
            index: 0,
        }
    }

    /// Iterates over every parameter tensor in canonical order: each layer's weight, then its
    /// bias, in the order of [`layers`](Self::layers).
    pub fn tensors(&self) -> impl Iterator<Item = Tensor> + 'a {
        self.layers().flat_map(|layer| {
            [Param::Weight, Param::Bias]
                .into_iter()
                .map(move |param| Tensor { layer, param })
        })
    }

    /// Number of parameters (weights and biases) in the network.
    pub fn parameter_count(&self) -> usize {
        self.layers()
            .map(|l| (l.inputs as usize + 1) * l.outputs as usize)
            .sum()
    }

    /// Multiply-accumulates of one dense forward pass: every weight once, plus the gates'
    /// weighted sums of expert outputs (biases and activations not counted).
    pub fn dense_macs(&self) -> usize {
        let weights: usize = self
            .layers()
            .map(|l| l.inputs as usize * l.outputs as usize)
            .sum();
        let width = self.expert_width() as usize;
        let task_mix = self.tasks as usize * self.task_gate_width() as usize * width;
        let shared_mix = self.total_experts() as usize * width;
        let levels = self.levels as usize;
        weights + levels * task_mix + levels.saturating_sub(1) * shared_mix
    }

    /// The `index`-th layer in canonical order, if there is one.
    pub const fn layer(&self, index: usize) -> Option<Layer> {
        let e_layers = self.expert_units.len();
        let per_level = self.total_experts() as usize * e_layers + self.tasks as usize;
        let shared_gates = (self.levels as usize).saturating_sub(1);
        let level_layers = self.levels as usize * per_level + shared_gates;
        if e_layers == 0 {
            return None;
        }
        if index < level_layers {
            // Each level but the last is followed by its shared gate.
            // Index arithmetic: the last level has no shared gate, and index < levels * span - 1.
            let span = per_level + 1;
            let level = (index / span) as u32;
            let i = index % span;
            let input = self.level_input(level);
            let own = self.tasks as usize * self.experts_per_task as usize * e_layers;
            let shared = self.shared_experts as usize * e_layers;
            if i < own + shared {
                let (expert_index, layer) = (i / e_layers, i % e_layers);
                let inputs = if layer == 0 {
                    input
                } else {
                    unit_at(self.expert_units, layer - 1)
                };
                let outputs = unit_at(self.expert_units, layer);
                let layer = layer as u32;
                let block = if i < own {
                    // `i < own` implies experts per task > 0; the checked forms keep a
                    // division by zero out of the code, so firmware links no panic path.
                    let per_task = self.experts_per_task as usize;
                    let (Some(task), Some(expert)) = (
                        expert_index.checked_div(per_task),
                        expert_index.checked_rem(per_task),
                    ) else {
                        return None;
                    };
                    let (task, expert) = (task as u32, expert as u32);
                    Block::TaskExpert {
                        level,
                        task,
                        expert,
                        layer,
                    }
                } else {
                    let expert = (expert_index - own / e_layers) as u32;
                    Block::SharedExpert {
                        level,
                        expert,
                        layer,
                    }
                };
                return Some(Layer {
                    block,
                    inputs,
                    outputs,
                });
            }
            let i = i - own - shared;
            if i < self.tasks as usize {
                let block = Block::TaskGate {
                    level,
                    task: i as u32,
                };
                return Some(Layer {
                    block,
                    inputs: input,
                    outputs: self.task_gate_width(),
                });
            }
            let block = Block::SharedGate { level };
            return Some(Layer {
                block,
                inputs: input,
                outputs: self.total_experts(),
            });
        }
        let i = index - level_layers;
        let per_task = self.tower_units.len() + 1;
        let task = i / per_task;
        if task >= self.tasks as usize {
            return None;
        }
        let layer = i % per_task;
        let inputs = self.tower_input(layer);
        let task = task as u32;
        if layer < self.tower_units.len() {
            let block = Block::Tower {
                task,
                layer: layer as u32,
            };
            Some(Layer {
                block,
                inputs,
                outputs: self.tower_units[layer],
            })
        } else {
            Some(Layer {
                block: Block::Output { task },
                inputs,
                outputs: 1,
            })
        }
    }
}

const fn units_ok(units: &[u32]) -> bool {
    if units.len() > MAX_COUNT as usize {
        return false;
    }
    let mut i = 0;
    while i < units.len() {
        if units[i] == 0 || units[i] > MAX_COUNT {
            return false;
        }
        i += 1;
    }
    true
}

/// Iterator over the layers of a shape, from [`PleShape::layers`].
#[derive(Clone, Debug)]
pub struct Layers<'a> {
    shape: PleShape<'a>,
    index: usize,
}

impl Iterator for Layers<'_> {
    type Item = Layer;

    fn next(&mut self) -> Option<Layer> {
        let layer = self.shape.layer(self.index)?;
        self.index += 1;
        Some(layer)
    }
}

/// The Census-Income shape of PaddleRec's default PLE configuration: 499 inputs, 2 tasks,
/// 3 experts per task, 2 shared experts, 1 level, experts of 16 units, towers of 8 units.
pub const PADDLEREC_DEFAULT: PleShape<'static> = PleShape {
    input_dim: 499,
    tasks: 2,
    experts_per_task: 3,
    shared_experts: 2,
    levels: 1,
    expert_units: &[16],
    tower_units: &[8],
};

/// `units[i]`, or 0 past the end: the callers' indices are always in range, and the explicit
/// test keeps a bounds-check panic out of the code (const fns cannot call `slice::get`).
const fn unit_at(units: &[u32], i: usize) -> u32 {
    if i < units.len() {
        units[i]
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    #[test]
    fn default_shape_has_the_documented_dense_mac_count() {
        assert_eq!(PADDLEREC_DEFAULT.validate(), Ok(()));
        // 8 experts 499x16, 2 gates 499x5, 2 gate mixes of 5x16, 2 towers 16x8, 2 outputs
        // 8x1. PaddleRec's two-unit softmax output would add 2x8 more (69,310); one logit
        // through a sigmoid computes the same probability.
        let macs = 8 * 499 * 16 + 2 * 499 * 5 + 2 * 5 * 16 + 2 * 16 * 8 + 2 * 8;
        assert_eq!(PADDLEREC_DEFAULT.dense_macs(), macs);
        assert_eq!(PADDLEREC_DEFAULT.dense_macs(), 69_294);
        assert_eq!(
            PADDLEREC_DEFAULT.layer_count(),
            PADDLEREC_DEFAULT.layers().count()
        );
    }

    #[test]
    fn tensor_names_follow_the_canonical_order() {
        let names: Vec<_> = PADDLEREC_DEFAULT.tensors().map(|t| t.to_string()).collect();
        assert_eq!(names[0], "level0.task0.expert0.layer0.weight");
        assert_eq!(names[1], "level0.task0.expert0.layer0.bias");
        assert_eq!(names[6], "level0.task1.expert0.layer0.weight");
        assert_eq!(names[12], "level0.shared.expert0.layer0.weight");
        assert_eq!(names[16], "level0.task0.gate.weight");
        assert_eq!(names[20], "task0.tower.layer0.weight");
        assert_eq!(names[22], "task0.output.weight");
        assert_eq!(names.last().unwrap(), "task1.output.bias");
        assert_eq!(names.len(), 2 * PADDLEREC_DEFAULT.layer_count());
    }

    #[test]
    fn multi_level_shapes_have_shared_gates_on_all_but_the_last_level() {
        let shape = PleShape {
            levels: 3,
            expert_units: &[32, 16],
            ..PADDLEREC_DEFAULT
        };
        assert_eq!(shape.validate(), Ok(()));
        let layers: Vec<_> = shape.layers().collect();
        assert_eq!(layers.len(), shape.layer_count());
        let shared: Vec<_> = layers
            .iter()
            .filter_map(|l| match l.block {
                Block::SharedGate { level } => Some((level, l.inputs, l.outputs)),
                _ => None,
            })
            .collect();
        assert_eq!(shared, [(0, 499, 8), (1, 16, 8)]);
        let level1_first = layers
            .iter()
            .find(|l| matches!(l.block, Block::TaskExpert { level: 1, .. }))
            .unwrap();
        assert_eq!((level1_first.inputs, level1_first.outputs), (16, 32));
    }

    #[test]
    fn mmoe_and_single_task_shapes_are_valid() {
        let mmoe = PleShape {
            experts_per_task: 0,
            shared_experts: 8,
            ..PADDLEREC_DEFAULT
        };
        assert_eq!(mmoe.validate(), Ok(()));
        assert!(mmoe
            .layers()
            .all(|l| !matches!(l.block, Block::TaskExpert { .. })));
        let single = PleShape {
            tasks: 1,
            experts_per_task: 1,
            shared_experts: 0,
            ..PADDLEREC_DEFAULT
        };
        assert_eq!(single.validate(), Ok(()));
        assert_eq!(single.layers().count(), 1 + 1 + 2);
    }

    #[test]
    fn invalid_shapes_are_rejected() {
        let no_experts = PleShape {
            experts_per_task: 0,
            shared_experts: 0,
            ..PADDLEREC_DEFAULT
        };
        assert_eq!(no_experts.validate(), Err(ShapeError::Experts));
        assert_eq!(
            PleShape {
                tasks: 0,
                ..PADDLEREC_DEFAULT
            }
            .validate(),
            Err(ShapeError::Tasks)
        );
        assert_eq!(
            PleShape {
                expert_units: &[],
                ..PADDLEREC_DEFAULT
            }
            .validate(),
            Err(ShapeError::NoExpertLayers)
        );
        assert_eq!(
            PleShape {
                tower_units: &[0],
                ..PADDLEREC_DEFAULT
            }
            .validate(),
            Err(ShapeError::Units)
        );
        assert_eq!(
            PleShape {
                input_dim: 0,
                ..PADDLEREC_DEFAULT
            }
            .validate(),
            Err(ShapeError::InputDim)
        );
    }
}
