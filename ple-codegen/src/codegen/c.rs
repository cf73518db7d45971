//! C emission: a header declaring the model for ple-core's C ABI (`ple_core.h`, from the
//! static library `libple_core.a`) and a source file defining its arrays.
//!
//! The header holds the sizes as macros, an enum of the categorical fields and one enum of
//! categories per field (so a C program encodes a record with names, not magic numbers), the
//! vocabularies as strings, `extern` declarations of the arrays and of the model struct
//! (`ple_model_f32` or `ple_model_f16`), and `<name>_predict`, a wrapper of
//! `ple_predict_sparse_*` (or `_dense_*` without a feature spec) with every length filled in.
//! f32 weights are written as C99 hexadecimal floating literals, f16 weights as their
//! `uint16_t` bit patterns: both exact.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::{Baked, BakedWeights, GeneratedFile};

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

/// Writes `items` as the body of a C array initialiser, eight per line.
fn array_body(out: &mut String, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    for chunk in items.chunks(8) {
        let _ = writeln!(out, "    {},", chunk.join(", "));
    }
}

pub(super) fn emit(baked: &Baked, name: &str, header_lines: &[String]) -> Vec<GeneratedFile> {
    let upper = name.to_ascii_uppercase();
    let shape = baked.config.shape();
    let scratch = ple_core::scratch_len(&shape);
    let fields = baked.vocab_sizes.len();
    let (model_type, weight_type, predict_prefix) = match baked.weights {
        BakedWeights::F32(_) => ("ple_model_f32", "float", "f32"),
        BakedWeights::F16(_) => ("ple_model_f16", "uint16_t", "f16"),
        BakedWeights::Int8(_) => return Vec::new(),
    };
    let sparse = baked.feature_spec.is_some();

    let mut h = String::new();
    for line in header_lines {
        let _ = writeln!(h, "/* {line} */");
    }
    let _ = writeln!(h, "#ifndef {upper}_H\n#define {upper}_H\n");
    h.push_str("#include <stddef.h>\n#include <stdint.h>\n\n#include \"ple_core.h\"\n\n");
    let _ = writeln!(h, "#ifdef __cplusplus\nextern \"C\" {{\n#endif\n");
    let _ = writeln!(h, "#define {upper}_INPUT_DIM {}u", shape.input_dim);
    let _ = writeln!(h, "#define {upper}_TASKS {}u", shape.tasks);
    let _ = writeln!(h, "#define {upper}_NUMERIC_LEN {}u", baked.layout_numeric);
    let _ = writeln!(h, "#define {upper}_FIELDS {fields}u");
    let _ = writeln!(h, "#define {upper}_WEIGHTS_LEN {}u", baked.weights.len());
    let _ = writeln!(h, "/* f32 values of scratch memory a prediction needs. */");
    let _ = writeln!(h, "#define {upper}_SCRATCH_LEN {scratch}u\n");
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
    let _ = writeln!(h, "/* The packed weights, normalisation folded in. */");
    let _ = writeln!(
        h,
        "extern const {weight_type} {name}_weights[{upper}_WEIGHTS_LEN];"
    );
    let _ = writeln!(h, "/* The model, for the ple_* functions of ple_core.h. */");
    let _ = writeln!(h, "extern const {model_type} {name};\n");
    let (predict_args, predict_call) = if sparse {
        (
            format!("const float numeric[{upper}_NUMERIC_LEN], const uint16_t categories[{upper}_FIELDS]"),
            format!(
                "ple_predict_sparse_{predict_prefix}(&{name}, numeric, {upper}_NUMERIC_LEN, categories, {upper}_FIELDS,"
            ),
        )
    } else {
        (
            format!("const float input[{upper}_INPUT_DIM]"),
            format!("ple_predict_dense_{predict_prefix}(&{name}, input, {upper}_INPUT_DIM,"),
        )
    };
    let signature = format!(
        "int32_t {name}_predict({predict_args}, float scratch[{upper}_SCRATCH_LEN], float probabilities[{upper}_TASKS])"
    );
    let _ = writeln!(
        h,
        "/* Predicts one row: one probability per task. Returns PLE_OK or a PLE_ERR_* code. */\n{signature};\n"
    );
    let _ = writeln!(
        h,
        "#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {upper}_H */"
    );

    let mut c = String::new();
    for line in header_lines {
        let _ = writeln!(c, "/* {line} */");
    }
    let _ = writeln!(c, "#include \"{name}.h\"\n");
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
            array_body(&mut c, field.vocabulary.iter().map(|w| c_string(w)));
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
    let _ = writeln!(
        c,
        "const {weight_type} {name}_weights[{upper}_WEIGHTS_LEN] = {{"
    );
    match &baked.weights {
        BakedWeights::F32(values) => array_body(&mut c, values.iter().map(|&v| hex_float(v))),
        BakedWeights::F16(values) => array_body(
            &mut c,
            values.iter().map(|v| format!("0x{:04x}u", v.to_bits())),
        ),
        BakedWeights::Int8(_) => {}
    }
    c.push_str("};\n\n");
    let _ = writeln!(
        c,
        "const {model_type} {name} = {{\n    \
         .shape = {{\n        .input_dim = {}u,\n        .tasks = {}u,\n        .experts_per_task = {}u,\n        \
         .shared_experts = {}u,\n        .levels = {}u,\n        .expert_units = {name}_expert_units,\n        \
         .expert_layers = {}u,\n        .tower_units = {tower},\n        .tower_layers = {}u,\n    }},\n    \
         .layout = {{\n        .numeric = {}u,\n        .vocab_sizes = {vocab},\n        .fields = {fields}u,\n    }},\n    \
         .weights = {name}_weights,\n    .weights_len = {upper}_WEIGHTS_LEN,\n}};\n",
        shape.input_dim,
        shape.tasks,
        shape.experts_per_task,
        shape.shared_experts,
        shape.levels,
        shape.expert_units.len(),
        shape.tower_units.len(),
        baked.layout_numeric,
    );
    let _ = writeln!(
        c,
        "{signature} {{\n    return {predict_call}\n        scratch, {upper}_SCRATCH_LEN, probabilities, {upper}_TASKS, NULL, 0);\n}}"
    );
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
