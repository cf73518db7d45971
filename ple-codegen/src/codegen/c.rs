//! C emission: a header declaring the model for ple-core's C ABI (`ple_core.h`, from the
//! static library `libple_core.a`) and a source file defining its arrays.
//!
//! The header holds the sizes as macros, an enum of the categorical fields and one enum of
//! categories per field (so a C program encodes a record with names, not magic numbers), the
//! vocabularies as strings, `extern` declarations of the arrays and of the model struct
//! (`ple_model_f32` or `ple_model_f16`), and `<name>_predict`, a wrapper of
//! `ple_predict_sparse_*` (or `_dense_*` without a feature spec) with every length filled in.
//! f32 weights are written as C99 hexadecimal floating literals, f16 weights as their
//! `uint16_t` bit patterns: both exact. An f32 or f16 model that standardises on the device
//! also has `<name>_numeric_mean` and `<name>_numeric_std` (hexadecimal literals too), which
//! its struct's `numeric_mean` and `numeric_std` point to; a folded model leaves both NULL.
//!
//! An int8 model (`ple_model_int8`) keeps its arrays `static` in the source; the header adds
//! `<name>_numeric_to_fixed` (raw values to the model's fixed-point inputs, computed exactly
//! as the generated Rust does) and a `<name>_predict` with Q16 logits and Q15 probabilities.

use std::collections::BTreeSet;
use std::fmt::Write;

use ple_core::int8::Requant;

use super::{Baked, BakedWeights, GeneratedFile};
use crate::quantise::Int8Params;

/// The exact C99 hexadecimal literal of an `f32` (`0x1.8p+1f`); `value` must be finite.
pub fn hex_float(value: f32) -> String {
    let bits = value.to_bits();
    let sign = if bits >> 31 == 1 { "-" } else { "" };
    let exponent = ((bits >> 23) & 0xff) as i32;
    let mantissa = (bits & 0x7f_ffff) << 1; // 24 bits: six hex digits
    match (exponent, mantissa) {
        (0, 0) => format!("{sign}0x0p+0f"),
        (0, m) => format!("{sign}0x0.{m:06x}p-126f"),
        (e, m) => format!("{sign}0x1.{m:06x}p{:+}f", e - 127),
    }
}

/// An upper-case C identifier fragment from arbitrary text (`" Not in universe"` ->
/// `NOT_IN_UNIVERSE`); empty when the text has no letter or digit.
pub fn c_identifier(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// Unique identifier suffixes for `words` (always used after a prefix, so they may start
/// with a digit): sanitised, `V<i>` for empty ones, a numeric suffix for repeats.
fn unique_identifiers<'a>(words: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    words
        .enumerate()
        .map(|(i, word)| {
            let mut id = c_identifier(word);
            if id.is_empty() {
                id = format!("V{i}");
            }
            let mut candidate = id.clone();
            let mut n = 2;
            while !seen.insert(candidate.clone()) {
                candidate = format!("{id}_{n}");
                n += 1;
            }
            candidate
        })
        .collect()
}

/// A C string literal of `text` (escaping quotes, backslashes and non-printable bytes).
fn c_string(text: &str) -> String {
    let mut out = String::from("\"");
    for b in text.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push('"');
    out
}

/// Writes `items` as the body of a C array initialiser, `per_line` per line.
fn array_body(out: &mut String, per_line: usize, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    for chunk in items.chunks(per_line) {
        let _ = writeln!(out, "    {},", chunk.join(", "));
    }
}

/// What differs between the precisions in the C output.
struct Flavour {
    /// The model struct's type in `ple_core.h`.
    model_type: &'static str,
    /// The scratch buffer's element type.
    scratch_type: &'static str,
    /// Scratch elements a prediction needs.
    scratch_len: usize,
}

fn flavour(baked: &Baked) -> Flavour {
    let shape = baked.config.shape();
    match &baked.weights {
        BakedWeights::F32(_) => Flavour {
            model_type: "ple_model_f32",
            scratch_type: "float",
            scratch_len: ple_core::scratch_len(&shape),
        },
        BakedWeights::F16(_) => Flavour {
            model_type: "ple_model_f16",
            scratch_type: "float",
            scratch_len: ple_core::scratch_len(&shape),
        },
        // `ple_int8_scratch_len`: the engine's words and one per task for an omitted output.
        BakedWeights::Int8(p) => Flavour {
            model_type: "ple_model_int8",
            scratch_type: "int32_t",
            scratch_len: ple_core::int8::scratch_words(
                &p.shape(),
                p.numeric as usize,
                p.vocab_sizes.len(),
            ) + p.tasks as usize,
        },
    }
}

pub(super) fn emit(baked: &Baked, name: &str, header_lines: &[String]) -> Vec<GeneratedFile> {
    let upper = name.to_ascii_uppercase();
    let flavour = flavour(baked);
    let mut h = String::new();
    for line in header_lines {
        let _ = writeln!(h, "/* {line} */");
    }
    let _ = writeln!(h, "#ifndef {upper}_H\n#define {upper}_H\n");
    h.push_str("#include <stddef.h>\n#include <stdint.h>\n\n#include \"ple_core.h\"\n\n");
    let _ = writeln!(h, "#ifdef __cplusplus\nextern \"C\" {{\n#endif\n");
    header_tables(&mut h, baked, name, &flavour);
    let signature = match &baked.weights {
        BakedWeights::Int8(params) => int8_declarations(&mut h, name, params),
        BakedWeights::F32(_) | BakedWeights::F16(_) => float_declarations(&mut h, baked, name),
    };
    let _ = writeln!(
        h,
        "#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {upper}_H */"
    );

    let mut c = String::new();
    for line in header_lines {
        let _ = writeln!(c, "/* {line} */");
    }
    let _ = writeln!(c, "#include \"{name}.h\"\n");
    let shape_and_layout = source_tables(&mut c, baked, name);
    let model_type = flavour.model_type;
    // C99 has no alignment specifier; GCC and Clang (every compiler the static library is
    // built for) place the weights at a 16-byte boundary, so that the Arm FPU kernels read
    // two f16 weights per word instead of converting one weight at a time.
    const ALIGN_WEIGHTS: &str = "#if defined(__GNUC__)\n__attribute__((aligned(16)))\n#endif\n";
    match &baked.weights {
        BakedWeights::F32(values) => {
            c.push_str(ALIGN_WEIGHTS);
            let _ = writeln!(c, "const float {name}_weights[{upper}_WEIGHTS_LEN] = {{");
            array_body(&mut c, 8, values.iter().map(|&v| hex_float(v)));
            c.push_str("};\n\n");
        }
        BakedWeights::F16(values) => {
            c.push_str(ALIGN_WEIGHTS);
            let _ = writeln!(c, "const uint16_t {name}_weights[{upper}_WEIGHTS_LEN] = {{");
            let bits = values.iter().map(|v| format!("0x{:04x}u", v.to_bits()));
            array_body(&mut c, 8, bits);
            c.push_str("};\n\n");
        }
        BakedWeights::Int8(params) => int8_arrays(&mut c, name, params),
    }
    if let Some(norm) = &baked.normalisation {
        for (table, values) in [("mean", &norm.mean), ("std", &norm.std)] {
            let _ = writeln!(
                c,
                "const float {name}_numeric_{table}[{upper}_NUMERIC_LEN] = {{"
            );
            array_body(&mut c, 4, values.iter().map(|&v| hex_float(v)));
            c.push_str(
                "};

",
            );
        }
    }
    let _ = writeln!(c, "const {model_type} {name} = {{\n{shape_and_layout}");
    match &baked.weights {
        BakedWeights::Int8(params) => int8_model_fields(&mut c, name, params),
        BakedWeights::F32(_) | BakedWeights::F16(_) => {
            let _ = writeln!(
                c,
                "    .weights = {name}_weights,\n    .weights_len = {upper}_WEIGHTS_LEN,"
            );
            if baked.normalisation.is_some() {
                let _ = writeln!(
                    c,
                    "    .numeric_mean = {name}_numeric_mean,\n    .numeric_std = {name}_numeric_std,"
                );
            }
        }
    }
    c.push_str("};\n\n");
    c.push_str(&signature.definition);
    vec![
        GeneratedFile {
            name: format!("{name}.h"),
            contents: h,
        },
        GeneratedFile {
            name: format!("{name}.c"),
            contents: c,
        },
    ]
}

/// The sizes, the enums of tasks, fields, numeric columns and categories, and the
/// vocabularies' declarations.
fn header_tables(h: &mut String, baked: &Baked, name: &str, flavour: &Flavour) {
    let upper = name.to_ascii_uppercase();
    let shape = baked.config.shape();
    let fields = baked.vocab_sizes.len();
    let _ = writeln!(h, "#define {upper}_INPUT_DIM {}u", shape.input_dim);
    let _ = writeln!(h, "#define {upper}_TASKS {}u", shape.tasks);
    let _ = writeln!(h, "#define {upper}_NUMERIC_LEN {}u", baked.layout_numeric);
    let _ = writeln!(h, "#define {upper}_FIELDS {fields}u");
    let _ = writeln!(h, "#define {upper}_WEIGHTS_LEN {}u", baked.weights.len());
    let _ = writeln!(
        h,
        "/* {} values of scratch memory a prediction needs. */",
        flavour.scratch_type
    );
    let _ = writeln!(h, "#define {upper}_SCRATCH_LEN {}u\n", flavour.scratch_len);
    let tasks = unique_identifiers(baked.config.task_names.iter().map(String::as_str));
    let _ = writeln!(
        h,
        "/* Tasks, in the order of the probabilities. */\nenum {name}_task {{"
    );
    for (i, task) in tasks.iter().enumerate() {
        let _ = writeln!(h, "    {upper}_TASK_{task} = {i},");
    }
    h.push_str("};\n\n");

    if let Some(spec) = &baked.feature_spec {
        let field_ids = unique_identifiers(spec.categorical.iter().map(|f| f.name.as_str()));
        let _ = writeln!(
            h,
            "/* Categorical fields, in input order. */\nenum {name}_field {{"
        );
        for (i, id) in field_ids.iter().enumerate() {
            let _ = writeln!(h, "    {upper}_FIELD_{id} = {i},");
        }
        h.push_str("};\n\n");
        let numeric_ids = unique_identifiers(spec.numeric.iter().map(|c| c.name.as_str()));
        let _ = writeln!(
            h,
            "/* Numeric columns, in input order. */\nenum {name}_numeric {{"
        );
        for (i, id) in numeric_ids.iter().enumerate() {
            let _ = writeln!(h, "    {upper}_NUMERIC_{id} = {i},");
        }
        h.push_str("};\n\n");
        for (field, id) in spec.categorical.iter().zip(&field_ids) {
            let lower = id.to_ascii_lowercase();
            let _ = writeln!(
                h,
                "/* Categories of `{}`, in one-hot order. */",
                field.name.replace("*/", "* /")
            );
            let _ = writeln!(h, "enum {name}_{lower} {{");
            for (i, word) in unique_identifiers(field.vocabulary.iter().map(String::as_str))
                .iter()
                .enumerate()
            {
                let _ = writeln!(h, "    {upper}_{id}_{word} = {i},");
            }
            let _ = writeln!(
                h,
                "    {upper}_{id}_COUNT = {}\n}};",
                field.vocabulary.len()
            );
            let _ = writeln!(
                h,
                "extern const char *const {name}_{lower}_vocabulary[{}];\n",
                field.vocabulary.len()
            );
        }
    }
    let _ = writeln!(h, "/* Task names, in output order. */");
    let _ = writeln!(
        h,
        "extern const char *const {name}_task_names[{upper}_TASKS];"
    );
    let _ = writeln!(h, "/* The model, for the ple_* functions of ple_core.h. */");
    let _ = writeln!(h, "extern const {} {name};\n", flavour.model_type);
}

/// The convenience prediction function: declared in the header, defined in the source.
struct Signature {
    definition: String,
}

/// The f32/f16 weights' declaration and `<name>_predict` (sparse with a feature spec,
/// dense without).
fn float_declarations(h: &mut String, baked: &Baked, name: &str) -> Signature {
    let upper = name.to_ascii_uppercase();
    let (weight_type, prefix) = match baked.weights {
        BakedWeights::F16(_) => ("uint16_t", "f16"),
        _ => ("float", "f32"),
    };
    if baked.normalisation.is_some() {
        let _ = writeln!(h, "/* The packed weights, as trained. */");
        let _ = writeln!(
            h,
            "extern const {weight_type} {name}_weights[{upper}_WEIGHTS_LEN];"
        );
        let _ = writeln!(
            h,
            "/* Mean and standard deviation of each numeric column: the model feeds the network\n * (x - mean) / std, so callers pass raw values. */"
        );
        for table in ["mean", "std"] {
            let _ = writeln!(
                h,
                "extern const float {name}_numeric_{table}[{upper}_NUMERIC_LEN];"
            );
        }
        h.push('\n');
    } else {
        let _ = writeln!(h, "/* The packed weights, normalisation folded in. */");
        let _ = writeln!(
            h,
            "extern const {weight_type} {name}_weights[{upper}_WEIGHTS_LEN];\n"
        );
    }
    let (args, call) = if baked.feature_spec.is_some() {
        (
            format!("const float numeric[{upper}_NUMERIC_LEN], const uint16_t categories[{upper}_FIELDS]"),
            format!(
                "ple_predict_sparse_{prefix}(&{name}, numeric, {upper}_NUMERIC_LEN, categories, {upper}_FIELDS,"
            ),
        )
    } else {
        (
            format!("const float input[{upper}_INPUT_DIM]"),
            format!("ple_predict_dense_{prefix}(&{name}, input, {upper}_INPUT_DIM,"),
        )
    };
    let signature = format!(
        "int32_t {name}_predict({args}, float scratch[{upper}_SCRATCH_LEN], float probabilities[{upper}_TASKS])"
    );
    let _ = writeln!(
        h,
        "/* Predicts one row: one probability per task. Returns PLE_OK or a PLE_ERR_* code. */\n{signature};\n"
    );
    Signature {
        definition: format!(
            "{signature} {{\n    return {call}\n        scratch, {upper}_SCRATCH_LEN, probabilities, {upper}_TASKS, NULL, 0);\n}}\n"
        ),
    }
}

/// `<name>_numeric_to_fixed` and `<name>_predict` of an int8 model.
fn int8_declarations(h: &mut String, name: &str, params: &Int8Params) -> Signature {
    let upper = name.to_ascii_uppercase();
    let frac_bits = params.numeric_frac_bits;
    // C has no zero-length arrays, not even as parameters.
    let array = |ty: &str, arg: &str, len: usize, macro_name: &str| {
        if len == 0 {
            format!("{ty} *{arg}")
        } else {
            format!("{ty} {arg}[{upper}_{macro_name}]")
        }
    };
    let numeric = params.numeric as usize;
    let (raw, fixed_out, fixed_in, categories) = (
        array("const float", "raw", numeric, "NUMERIC_LEN"),
        array("int32_t", "fixed", numeric, "NUMERIC_LEN"),
        array("const int32_t", "numeric", numeric, "NUMERIC_LEN"),
        array(
            "const uint16_t",
            "categories",
            params.vocab_sizes.len(),
            "FIELDS",
        ),
    );
    let _ = writeln!(
        h,
        "/* Numeric inputs are given as round(raw * 2^{upper}_NUMERIC_FRAC_BITS). */\n\
         #define {upper}_NUMERIC_FRAC_BITS {frac_bits}u\n"
    );
    let to_fixed = format!("void {name}_numeric_to_fixed({raw}, {fixed_out})");
    let _ = writeln!(
        h,
        "/* Raw numeric values to the model's fixed-point inputs: round(raw * 2^{upper}_NUMERIC_FRAC_BITS),\n \
         * halves away from zero, saturating at the int32_t range, NaN to 0 (the generated Rust's\n \
         * numeric_to_fixed, bit for bit). */\n{to_fixed};\n"
    );
    let signature = format!(
        "int32_t {name}_predict({fixed_in}, {categories},\n    \
         int32_t scratch[{upper}_SCRATCH_LEN], int32_t logits[{upper}_TASKS], uint16_t probabilities[{upper}_TASKS])"
    );
    let _ = writeln!(
        h,
        "/* Predicts one row (fixed-point numeric values and one category index per field): per task\n \
         * the Q16 logit and the Q15 probability (32768 == 1.0); either output may be NULL. Returns\n \
         * PLE_OK or a PLE_ERR_* code. */\n{signature};\n"
    );
    let scale = (1u64 << frac_bits.min(63)) as f64;
    Signature {
        definition: format!(
            "{to_fixed} {{\n    unsigned i;\n    for (i = 0; i < {upper}_NUMERIC_LEN; ++i) {{\n        \
             double y = (double)raw[i] * {scale:?};\n        \
             y = y < 0.0 ? y - 0.5 : y + 0.5;\n        \
             if (y != y) {{\n            fixed[i] = 0;\n        }} else if (y >= 2147483648.0) {{\n            \
             fixed[i] = INT32_MAX;\n        }} else if (y <= -2147483649.0) {{\n            fixed[i] = INT32_MIN;\n        \
             }} else {{\n            fixed[i] = (int32_t)y; /* truncates towards zero */\n        }}\n    }}\n}}\n\n\
             {signature} {{\n    return ple_predict_int8(&{name}, numeric, {upper}_NUMERIC_LEN, categories, {upper}_FIELDS,\n        \
             scratch, {upper}_SCRATCH_LEN, logits, logits != NULL ? {upper}_TASKS : 0u,\n        \
             probabilities, probabilities != NULL ? {upper}_TASKS : 0u, NULL, 0);\n}}\n"
        ),
    }
}

/// The shape's and layout's arrays, the vocabularies and the task names; returns the
/// `.shape` and `.layout` initialisers of the model struct.
fn source_tables(c: &mut String, baked: &Baked, name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    let shape = baked.config.shape();
    let fields = baked.vocab_sizes.len();
    let units = |units: &[u32]| {
        units
            .iter()
            .map(|u| format!("{u}u"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        c,
        "static const uint32_t {name}_expert_units[{}] = {{{}}};",
        shape.expert_units.len(),
        units(shape.expert_units)
    );
    let tower = if shape.tower_units.is_empty() {
        "NULL".to_string()
    } else {
        let _ = writeln!(
            c,
            "static const uint32_t {name}_tower_units[{}] = {{{}}};",
            shape.tower_units.len(),
            units(shape.tower_units)
        );
        format!("{name}_tower_units")
    };
    let vocab = if fields == 0 {
        "NULL".to_string()
    } else {
        let sizes: Vec<String> = baked.vocab_sizes.iter().map(|v| format!("{v}u")).collect();
        let _ = writeln!(
            c,
            "static const uint16_t {name}_vocab_sizes[{fields}] = {{{}}};",
            sizes.join(", ")
        );
        format!("{name}_vocab_sizes")
    };
    if let Some(spec) = &baked.feature_spec {
        let field_ids = unique_identifiers(spec.categorical.iter().map(|f| f.name.as_str()));
        for (field, id) in spec.categorical.iter().zip(&field_ids) {
            let lower = id.to_ascii_lowercase();
            let _ = writeln!(
                c,
                "\nconst char *const {name}_{lower}_vocabulary[{}] = {{",
                field.vocabulary.len()
            );
            array_body(c, 8, field.vocabulary.iter().map(|w| c_string(w)));
            c.push_str("};\n");
        }
    }
    let names: Vec<String> = baked
        .config
        .task_names
        .iter()
        .map(|t| c_string(t))
        .collect();
    let _ = writeln!(
        c,
        "\nconst char *const {name}_task_names[{upper}_TASKS] = {{{}}};\n",
        names.join(", ")
    );
    format!(
        "    .shape = {{\n        .input_dim = {}u,\n        .tasks = {}u,\n        .experts_per_task = {}u,\n        \
         .shared_experts = {}u,\n        .levels = {}u,\n        .expert_units = {name}_expert_units,\n        \
         .expert_layers = {}u,\n        .tower_units = {tower},\n        .tower_layers = {}u,\n    }},\n    \
         .layout = {{\n        .numeric = {}u,\n        .vocab_sizes = {vocab},\n        .fields = {fields}u,\n    }},",
        shape.input_dim,
        shape.tasks,
        shape.experts_per_task,
        shape.shared_experts,
        shape.levels,
        shape.expert_units.len(),
        shape.tower_units.len(),
        baked.layout_numeric,
    )
}

/// A C integer literal (`INT32_MIN` has none of its own).
fn c_int(value: i64) -> String {
    if value == i64::from(i32::MIN) {
        "(-2147483647 - 1)".into()
    } else {
        value.to_string()
    }
}

/// The int8 integer arrays' `(field, C type, values)`.
fn int8_integer_arrays(p: &Int8Params) -> [(&'static str, &'static str, Vec<i64>); 5] {
    fn wide<T: Copy + Into<i64>>(values: &[T]) -> Vec<i64> {
        values.iter().map(|&v| v.into()).collect()
    }
    [
        ("category_weights", "int8_t", wide(&p.category_weights)),
        ("numeric_weights", "int16_t", wide(&p.numeric_weights)),
        ("dense_weights", "int8_t", wide(&p.dense_weights)),
        ("dense_bias", "int32_t", wide(&p.dense_bias)),
        ("mix_ratios", "uint16_t", wide(&p.mix_ratios)),
    ]
}

fn int8_requant_arrays(p: &Int8Params) -> [(&'static str, &[Requant]); 2] {
    [
        ("numeric_prescale", &p.numeric_prescale),
        ("dense_requant", &p.dense_requant),
    ]
}

/// Every int8 array as a `static const` C array (a zero-length array gets one unused entry:
/// C has no empty arrays; the model struct gives its length as 0).
fn int8_arrays(c: &mut String, name: &str, p: &Int8Params) {
    for (field, ty, values) in int8_integer_arrays(p) {
        let _ = writeln!(
            c,
            "static const {ty} {name}_{field}[{}] = {{",
            values.len().max(1)
        );
        if values.is_empty() {
            c.push_str("    0,\n");
        }
        array_body(c, 16, values.iter().map(|&v| c_int(v)));
        c.push_str("};\n\n");
    }
    for (field, values) in int8_requant_arrays(p) {
        let _ = writeln!(
            c,
            "static const ple_requant {name}_{field}[{}] = {{",
            values.len().max(1)
        );
        if values.is_empty() {
            c.push_str("    {0, 1},\n");
        }
        let items = values
            .iter()
            .map(|r| format!("{{{}, {}u}}", c_int(r.multiplier.into()), r.right_shift));
        array_body(c, 4, items);
        c.push_str("};\n\n");
    }
    let outputs = &p.sparse_outputs;
    let _ = writeln!(
        c,
        "/* Per first-layer output: {{bias, multiplier, right_shift, category_shift}}. */\n\
         static const ple_sparse_output {name}_sparse_outputs[{}] = {{",
        outputs.len().max(1)
    );
    if outputs.is_empty() {
        c.push_str("    {0, 0, 1, 0},\n");
    }
    let items = outputs.iter().map(|o| {
        format!(
            "{{{}, {}, {}u, {}u}}",
            c_int(o.bias.into()),
            c_int(o.multiplier.into()),
            o.right_shift,
            o.category_shift
        )
    });
    array_body(c, 4, items);
    c.push_str("};\n\n");
}

/// The int8 fields of the model struct's initialiser.
fn int8_model_fields(c: &mut String, name: &str, p: &Int8Params) {
    let _ = writeln!(c, "    .numeric_frac_bits = {}u,", p.numeric_frac_bits);
    let mut lengths: Vec<(&str, usize)> = int8_integer_arrays(p)
        .iter()
        .map(|(field, _, values)| (*field, values.len()))
        .collect();
    lengths.extend(
        int8_requant_arrays(p)
            .iter()
            .map(|(field, values)| (*field, values.len())),
    );
    lengths.push(("sparse_outputs", p.sparse_outputs.len()));
    for (field, len) in lengths {
        let _ = writeln!(
            c,
            "    .{field} = {name}_{field},\n    .{field}_len = {len}u,"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_floats_are_exact() {
        assert_eq!(hex_float(1.0), "0x1.000000p+0f");
        assert_eq!(hex_float(-3.0), "-0x1.800000p+1f");
        assert_eq!(hex_float(0.0), "0x0p+0f");
        assert_eq!(hex_float(-0.0), "-0x0p+0f");
        assert_eq!(hex_float(f32::MIN_POSITIVE), "0x1.000000p-126f");
        assert_eq!(hex_float(f32::from_bits(1)), "0x0.000002p-126f");
        assert_eq!(hex_float(f32::MAX), "0x1.fffffep+127f");
    }

    #[test]
    fn identifiers_are_sanitised_and_unique() {
        let words = [" Not in universe", " ?", "Not-in universe", " 50000+.", ""];
        assert_eq!(
            unique_identifiers(words.into_iter()),
            ["NOT_IN_UNIVERSE", "V1", "NOT_IN_UNIVERSE_2", "50000", "V4"]
        );
    }

    #[test]
    fn c_strings_escape_quotes_backslashes_and_control_bytes() {
        assert_eq!(c_string(" a\"b\\c\n"), "\" a\\\"b\\\\c\\012\"");
    }
}
