//! Times ple-core on the Census test split, one thread, and writes what `infer_onnx.py`
//! merges into its table: the probabilities of every test row (little-endian f32
//! `[rows, tasks]`, from the f32 model on sparse input) and a JSON list with one entry per
//! variant (f32 / f16 weights, dense / sparse input).
//!
//! The model file is read with ple-codegen's loader and made as `ple-codegen` bakes it: the
//! f32 and f16 models keep the trained weights and standardise the raw numeric values on the
//! device (`PleModel::with_standardisation`); int8 folds the standardisation into its first
//! layer. Inputs are raw encoded features.
//! Batch 1 is one `predict` call per row, each timed alone; "batched" is the whole split,
//! row after row through `predict` for the plain variants and 1,024 rows per
//! `predict_batch` call for the `batch` variants.

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use half::f16;
use ple_codegen::quantise::{quantise, QuantiseOptions, SparseRows};
use ple_codegen::ModelFile;
use ple_core::int8::{Int8Input, Int8Rows, Q15_ONE};
use ple_core::kernels::{Detected, Kernels};
use ple_core::normalise::Standardisation;
use ple_core::{
    aligned_first_layer_len, batch_scratch_len, pack_f16, pack_f32, packed_len, BatchInput, Input,
    InputLayout, PleModel, Weight, UNKNOWN_CATEGORY,
};
use serde_json::json;

struct Args {
    model: PathBuf,
    prepared: PathBuf,
    out_dir: PathBuf,
    vocab_sizes: Option<Vec<u16>>,
    numeric: u32,
    calls: usize,
    repeats: usize,
    /// `--profile VARIANT`: only run VARIANT over `--profile-rows` rows (for callgrind).
    profile: Option<String>,
    profile_rows: usize,
    /// `--profile-repeats N`: run the profiled variant N times, timed (for A/B timings).
    profile_repeats: usize,
    /// `--aligned no`: the batch variants read the packed first layer, not an aligned copy.
    aligned: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        model: PathBuf::new(),
        prepared: PathBuf::from("/tmp/ple-bench-data"),
        out_dir: PathBuf::from("/tmp/ple-bench-infer"),
        vocab_sizes: None,
        numeric: 11,
        calls: 2000,
        repeats: 5,
        profile: None,
        profile_rows: 1000,
        profile_repeats: 1,
        aligned: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--model" => args.model = value.into(),
            "--prepared" => args.prepared = value.into(),
            "--out-dir" => args.out_dir = value.into(),
            "--numeric" => args.numeric = number(&value)? as u32,
            "--calls" => args.calls = number(&value)?,
            "--repeats" => args.repeats = number(&value)?,
            "--profile" => args.profile = Some(value),
            "--profile-rows" => args.profile_rows = number(&value)?,
            "--profile-repeats" => args.profile_repeats = number(&value)?,
            "--aligned" => {
                args.aligned = match value.as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(format!("--aligned {value}: yes or no")),
                }
            }
            "--vocab-sizes" => {
                let sizes: Result<Vec<u16>, _> = value.split(',').map(str::parse).collect();
                args.vocab_sizes = Some(sizes.map_err(|e| format!("--vocab-sizes: {e}"))?);
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if args.model.as_os_str().is_empty() {
        return Err(
            "usage: ple-core-bench --model M [--prepared P] [--out-dir D] [--vocab-sizes a,b,..]"
                .into(),
        );
    }
    Ok(args)
}

/// The test split as dense rows and as (numeric, categories) sparse rows.
struct Rows {
    width: usize,
    dense: Vec<f32>,
    numeric: Vec<f32>,
    categories: Vec<u16>,
}

fn load_rows(
    args: &Args,
    split: &str,
    max_rows: usize,
    layout: &InputLayout<'_>,
) -> Result<Rows, String> {
    let path = args.prepared.join(format!("{split}.features.f32"));
    let width = layout.dense_width() as usize;
    let mut bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() % (4 * width) != 0 {
        return Err(format!(
            "{}: {} bytes is not a whole number of {width}-wide rows",
            path.display(),
            bytes.len()
        ));
    }
    bytes.truncate(bytes.len().min(max_rows.saturating_mul(4 * width)));
    let dense: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let numeric_width = layout.numeric as usize;
    let mut numeric = Vec::new();
    let mut categories = Vec::new();
    for (r, row) in dense.chunks_exact(width).enumerate() {
        numeric.extend_from_slice(&row[..numeric_width]);
        let mut offset = numeric_width;
        for (field, &size) in layout.vocab_sizes.iter().enumerate() {
            let block = &row[offset..offset + size as usize];
            let hot: Vec<usize> = block
                .iter()
                .enumerate()
                .filter(|(_, &v)| v != 0.0)
                .map(|(i, _)| i)
                .collect();
            match hot.as_slice() {
                [] => categories.push(UNKNOWN_CATEGORY),
                [i] if block[*i] == 1.0 => categories.push(*i as u16),
                _ => {
                    return Err(format!(
                        "{}: row {r}, field {field} is not one-hot",
                        path.display()
                    ))
                }
            }
            offset += size as usize;
        }
    }
    Ok(Rows {
        width,
        dense,
        numeric,
        categories,
    })
}

/// CPU time this thread has run, in nanoseconds (Linux `/proc/thread-self/schedstat`): rows
/// per CPU second stay meaningful on a loaded machine, where wall-clock rates measure the
/// share of a core the scheduler gave us.
fn thread_cpu_ns() -> Option<u64> {
    let stat = fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Rows per CPU second between two `thread_cpu_ns` readings (0 when unavailable).
fn cpu_rate(rows: usize, start: Option<u64>, end: Option<u64>) -> f64 {
    match (start, end) {
        (Some(a), Some(b)) if b > a => rows as f64 / ((b - a) as f64 / 1e9),
        _ => 0.0,
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] as f64 + (sorted[hi] as f64 - sorted[lo] as f64) * (rank - lo as f64)
}

/// One variant's prediction of test row `r` into `out` (one probability per task).
type Predict<'m> = dyn FnMut(usize, &mut [f32], &mut [f32]) -> Result<(), String> + 'm;

fn time_variant(
    name: &str,
    rows: usize,
    scratch_len: usize,
    tasks: usize,
    args: &Args,
    predict: &mut Predict<'_>,
) -> Result<(serde_json::Value, Vec<f32>), String> {
    let mut scratch = vec![0.0f32; scratch_len];
    let mut out = vec![0.0f32; tasks];
    let mut all = vec![0.0f32; rows * tasks];
    for r in 0..rows {
        predict(r, &mut scratch, &mut out).map_err(|e| format!("{name}: row {r}: {e}"))?;
        all[r * tasks..(r + 1) * tasks].copy_from_slice(&out);
    }
    let calls = args.calls.min(rows);
    let (mut p50, mut p90, mut p99, mut mean, mut rates) = (vec![], vec![], vec![], vec![], vec![]);
    let mut cpu_rates = vec![];
    for _ in 0..args.repeats {
        let mut ns = Vec::with_capacity(calls);
        for r in 0..calls {
            let start = Instant::now();
            let result = predict(r, &mut scratch, &mut out);
            ns.push(start.elapsed().as_nanos() as u64);
            result.map_err(|e| format!("{name}: {e}"))?;
        }
        mean.push(ns.iter().sum::<u64>() as f64 / calls as f64);
        ns.sort_unstable();
        p50.push(percentile(&ns, 50.0));
        p90.push(percentile(&ns, 90.0));
        p99.push(percentile(&ns, 99.0));
        let (start, cpu) = (Instant::now(), thread_cpu_ns());
        for r in 0..rows {
            predict(r, &mut scratch, &mut out).map_err(|e| format!("{name}: {e}"))?;
        }
        rates.push(rows as f64 / start.elapsed().as_secs_f64());
        cpu_rates.push(cpu_rate(rows, cpu, thread_cpu_ns()));
    }
    let median = |v: &Vec<f64>| {
        let mut s = v.clone();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    println!(
        "{name}: batch 1 p50 {:.2} us, p99 {:.2} us; {:.0} rows/s; {}",
        median(&p50) / 1e3,
        median(&p99) / 1e3,
        median(&rates),
        spread(&cpu_rates)
    );
    let entry = json!({"engine": name, "p50_ns": p50, "p90_ns": p90, "p99_ns": p99, "mean_ns": mean,
                       "batch": "all rows, one predict call per row", "rows_per_second": rates,
                       "rows_per_cpu_second": cpu_rates});
    Ok((entry, all))
}

/// "median (min..max) rows per CPU second" of the repetitions.
fn spread(rates: &[f64]) -> String {
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    match (sorted.first(), sorted.last()) {
        (Some(lo), Some(hi)) => format!(
            "{:.0} ({:.0}..{:.0}) rows per CPU second",
            sorted[sorted.len() / 2],
            lo,
            hi
        ),
        _ => "no CPU time".to_string(),
    }
}

/// Rows per call of the batched variants, as onnxruntime's batched figure.
const BATCH_ROWS: usize = 1024;

/// The whole split through `predict_batch`, `BATCH_ROWS` rows a call: rows per second per
/// repetition, after checking that the probabilities equal the single-row ones bit for bit.
#[allow(clippy::too_many_arguments)]
fn time_batch<W: Weight>(
    name: &str,
    model: &PleModel<'_, W>,
    data: &Rows,
    sparse: bool,
    rows: usize,
    single: &[f32],
    repeats: usize,
) -> Result<serde_json::Value, String>
where
    Detected: Kernels<W>,
{
    let tasks = model.tasks();
    let input = |range: std::ops::Range<usize>| batch_rows(model, data, sparse, range);
    let mut scratch = vec![0.0f32; batch_scratch_len(model.shape(), BATCH_ROWS)];
    let mut all = vec![0.0f32; rows * tasks];
    let mut run = |all: &mut [f32]| -> Result<(), String> {
        for (chunk, out) in all.chunks_mut(BATCH_ROWS * tasks).enumerate() {
            let first = chunk * BATCH_ROWS;
            let range = first..first + out.len() / tasks;
            model
                .predict_batch(input(range), &mut scratch, out)
                .map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(())
    };
    run(&mut all)?;
    let same = all
        .iter()
        .zip(single)
        .all(|(a, b)| a.to_bits() == b.to_bits());
    if !same {
        return Err(format!(
            "{name}: batch probabilities differ from single-row ones"
        ));
    }
    let (mut rates, mut cpu_rates) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        let (start, cpu) = (Instant::now(), thread_cpu_ns());
        run(&mut all)?;
        rates.push(rows as f64 / start.elapsed().as_secs_f64());
        cpu_rates.push(cpu_rate(rows, cpu, thread_cpu_ns()));
    }
    let mut sorted = rates.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{name}: {:.0} rows/s; {} (equal to single rows bit for bit)",
        sorted[sorted.len() / 2],
        spread(&cpu_rates)
    );
    Ok(
        json!({"engine": name, "batch": BATCH_ROWS, "rows_per_second": rates,
              "rows_per_cpu_second": cpu_rates, "max_abs_diff_vs_single_rows": 0.0}),
    )
}

/// Every row once through one variant: the region `valgrind --tool=callgrind
/// --toggle-collect='*profile_loop*'` counts, so that instructions per row exclude loading.
#[inline(never)]
fn profile_loop(
    predict: &mut Predict<'_>,
    rows: usize,
    scratch_len: usize,
    tasks: usize,
) -> Result<f32, String> {
    let mut scratch = vec![0.0f32; scratch_len];
    let mut out = vec![0.0f32; tasks];
    let mut sum = 0.0;
    for r in 0..rows {
        predict(r, &mut scratch, &mut out)?;
        sum += out.iter().sum::<f32>();
    }
    Ok(sum)
}

/// Every row once through the batch API, `BATCH_ROWS` rows a call: the batch twin of
/// [`profile_loop`] (the same `--toggle-collect` pattern matches it).
#[inline(never)]
fn profile_loop_batch<W: Weight>(
    model: &PleModel<'_, W>,
    data: &Rows,
    sparse: bool,
    rows: usize,
    call_ns: &mut Vec<u64>,
) -> Result<f32, String>
where
    Detected: Kernels<W>,
{
    let tasks = model.tasks();
    let mut scratch = vec![0.0f32; batch_scratch_len(model.shape(), BATCH_ROWS)];
    let mut out = vec![0.0f32; rows * tasks];
    for (chunk, part) in out.chunks_mut(BATCH_ROWS * tasks).enumerate() {
        let range = chunk * BATCH_ROWS..chunk * BATCH_ROWS + part.len() / tasks;
        let whole = range.len() == BATCH_ROWS;
        let started = Instant::now();
        model
            .predict_batch(batch_rows(model, data, sparse, range), &mut scratch, part)
            .map_err(|e| format!("{e}"))?;
        if whole {
            call_ns.push(started.elapsed().as_nanos() as u64);
        }
    }
    Ok(out.iter().sum())
}

/// Rows `range` of the split as a batch input.
fn batch_rows<'d, W: Weight>(
    model: &PleModel<'_, W>,
    data: &'d Rows,
    sparse: bool,
    range: std::ops::Range<usize>,
) -> BatchInput<'d> {
    let (nw, f, w) = (
        model.layout().numeric as usize,
        model.layout().fields(),
        data.width,
    );
    if sparse {
        BatchInput::Sparse {
            numeric: &data.numeric[range.start * nw..range.end * nw],
            categories: &data.categories[range.start * f..range.end * f],
        }
    } else {
        BatchInput::Dense(&data.dense[range.start * w..range.end * w])
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    // f32/f16: the trained weights and the standardisation tables; int8: folded.
    let unfolded = ModelFile::load(&args.model).map_err(|e| e.to_string())?;
    let mut file = unfolded.clone();
    file.fold_normalisation().map_err(|e| e.to_string())?;
    let shape = file.config.shape();
    let vocab_sizes: Vec<u16> = match (&args.vocab_sizes, &file.feature_spec) {
        (Some(v), _) => v.clone(),
        (None, Some(spec)) => spec
            .categorical
            .iter()
            .map(|f| f.vocabulary.len() as u16)
            .collect(),
        (None, None) => return Err("the model has no feature spec: give --vocab-sizes".into()),
    };
    let numeric = file
        .feature_spec
        .as_ref()
        .map_or(args.numeric, |s| s.numeric.len() as u32);
    let layout = InputLayout {
        numeric,
        vocab_sizes: &vocab_sizes,
    };
    let mut packed32 = vec![0.0f32; packed_len(&shape)];
    pack_f32(&shape, &unfolded.parameters, &mut packed32).map_err(|e| format!("{e:?}"))?;
    let mut packed16 = vec![f16::ZERO; packed_len(&shape)];
    pack_f16(&shape, &unfolded.parameters, &mut packed16).map_err(|e| format!("{e:?}"))?;
    let mut m32 = PleModel::new(shape, layout, &packed32).map_err(|e| format!("{e:?}"))?;
    let mut m16 = PleModel::new(shape, layout, &packed16).map_err(|e| format!("{e:?}"))?;
    if let Some(norm) = &unfolded.normalisation {
        let st = Standardisation::new(&norm.mean, &norm.std).map_err(|e| format!("{e:?}"))?;
        m32 = m32.with_standardisation(st).map_err(|e| format!("{e:?}"))?;
        m16 = m16.with_standardisation(st).map_err(|e| format!("{e:?}"))?;
    }
    // The batch variants read the first layer from a copy on whole cache lines, made once
    // here as a service would at start-up (`with_aligned_first_layer`).
    let mut aligned32 = vec![0.0f32; aligned_first_layer_len(&shape)];
    let mut aligned16 = vec![0.0f32; aligned_first_layer_len(&shape)];
    let (b32, b16) = if args.aligned {
        (
            m32.with_aligned_first_layer(&mut aligned32)
                .map_err(|e| format!("{e:?}"))?,
            m16.with_aligned_first_layer(&mut aligned16)
                .map_err(|e| format!("{e:?}"))?,
        )
    } else {
        (m32, m16)
    };
    let max_rows = if args.profile.is_some() {
        args.profile_rows
    } else {
        usize::MAX
    };
    let rows = load_rows(&args, "test", max_rows, &layout)?;
    let n = rows.dense.len() / rows.width;
    let (w, nw, f) = (rows.width, numeric as usize, vocab_sizes.len());
    let dense = |r: usize| Input::Dense(&rows.dense[r * w..(r + 1) * w]);
    let sparse = |r: usize| Input::Sparse {
        numeric: &rows.numeric[r * nw..(r + 1) * nw],
        categories: &rows.categories[r * f..(r + 1) * f],
    };
    let tasks = m32.tasks();
    let scratch = m32.scratch_len();

    // int8: quantised by ple-codegen from the folded parameters, calibrated on the first
    // training rows (its default count); the numeric encoding into fixed point is part of
    // every timed call, as on a device that reads raw values.
    let options = QuantiseOptions::default();
    let calibration = load_rows(&args, "train", options.max_calibration_rows, &layout)?;
    let rows_for_calibration = SparseRows {
        numeric: &calibration.numeric,
        categories: &calibration.categories,
    };
    let params = quantise(
        &shape,
        &file.parameters,
        None,
        &layout,
        rows_for_calibration,
        &options,
    )
    .map_err(|e| format!("int8 quantisation: {e}"))?;
    let m8 = params.model().map_err(|e| format!("int8 model: {e}"))?;
    let mut scratch8 = vec![0i32; m8.scratch_words()];
    let mut numeric8 = vec![0i32; nw];
    let mut logits8 = vec![0i32; tasks];
    let mut q15 = vec![0u16; tasks];
    let mut int8 = |r: usize, _: &mut [f32], o: &mut [f32]| -> Result<(), String> {
        params
            .encode_numeric(&rows.numeric[r * nw..(r + 1) * nw], &mut numeric8)
            .map_err(|e| e.to_string())?;
        let input = Int8Input {
            numeric: &numeric8,
            categories: &rows.categories[r * f..(r + 1) * f],
        };
        m8.predict(&input, &mut scratch8, &mut logits8, &mut q15)
            .map_err(|e| e.to_string())?;
        for (p, &q) in o.iter_mut().zip(&q15) {
            *p = f32::from(q) / Q15_ONE as f32;
        }
        Ok(())
    };
    // int8 through `predict_batch`, BATCH_ROWS rows a call, the numeric encoding included as
    // for single rows.
    let mut int8_batch = {
        let (mut numeric, mut scratch) =
            (vec![0i32; BATCH_ROWS * nw], vec![0i32; m8.scratch_words()]);
        let mut logits = vec![0i32; BATCH_ROWS * tasks];
        let mut q15 = vec![0u16; BATCH_ROWS * tasks];
        let (params, m8, rows) = (&params, &m8, &rows);
        move |all: &mut [f32]| -> Result<(), String> {
            for (chunk, out) in all.chunks_mut(BATCH_ROWS * tasks).enumerate() {
                let (first, count) = (chunk * BATCH_ROWS, out.len() / tasks);
                for (r, dst) in (first..first + count).zip(numeric.chunks_mut(nw.max(1))) {
                    let raw = &rows.numeric[r * nw..(r + 1) * nw];
                    params.encode_numeric(raw, dst).map_err(|e| e.to_string())?;
                }
                let batch = Int8Rows {
                    numeric: &numeric[..count * nw],
                    categories: &rows.categories[first * f..(first + count) * f],
                };
                let (l, q) = (&mut logits[..count * tasks], &mut q15[..count * tasks]);
                m8.predict_batch(batch, &mut scratch, l, q)
                    .map_err(|e| e.to_string())?;
                for (p, &q) in out.iter_mut().zip(q.iter()) {
                    *p = f32::from(q) / Q15_ONE as f32;
                }
            }
            Ok(())
        }
    };
    let err = |e: ple_core::PleError| format!("{e:?}");
    let mut variants: Vec<(&str, Box<Predict<'_>>)> = vec![
        (
            "ple-core f32 sparse",
            Box::new(|r, s: &mut [f32], o: &mut [f32]| m32.predict(sparse(r), s, o).map_err(err)),
        ),
        (
            "ple-core f32 dense",
            Box::new(|r, s: &mut [f32], o: &mut [f32]| m32.predict(dense(r), s, o).map_err(err)),
        ),
        (
            "ple-core f16 sparse",
            Box::new(|r, s: &mut [f32], o: &mut [f32]| m16.predict(sparse(r), s, o).map_err(err)),
        ),
        (
            "ple-core f16 dense",
            Box::new(|r, s: &mut [f32], o: &mut [f32]| m16.predict(dense(r), s, o).map_err(err)),
        ),
        ("ple-core int8 sparse", Box::new(&mut int8)),
    ];
    if let Some(wanted) = &args.profile {
        if wanted == "ple-core int8 sparse batch" {
            let sum = profile_loop_int8_batch(&mut int8_batch, n, tasks)?;
            println!("profiled {wanted} over {n} rows (checksum {sum})");
            return Ok(());
        }
        if let Some(of) = wanted.strip_suffix(" batch") {
            let is_sparse = of.ends_with("sparse");
            let f16 = of.contains("f16");
            // `--profile-repeats` above 1: the same rows again and again, timed in CPU time
            // (an A/B of two builds alternates such runs).
            let mut cpu_rates = Vec::new();
            let mut call_ns = Vec::new();
            let mut sum = 0.0;
            // Each timed repetition goes over the rows several times: the CPU clock may
            // tick in milliseconds.
            let passes = if args.profile_repeats > 1 { 20 } else { 1 };
            for _ in 0..args.profile_repeats.max(1) {
                let cpu = thread_cpu_ns();
                for _ in 0..passes {
                    sum = if f16 {
                        profile_loop_batch(&b16, &rows, is_sparse, n, &mut call_ns)?
                    } else {
                        profile_loop_batch(&b32, &rows, is_sparse, n, &mut call_ns)?
                    };
                }
                cpu_rates.push(cpu_rate(n * passes, cpu, thread_cpu_ns()));
            }
            println!("profiled {wanted} over {n} rows (checksum {sum})");
            if args.profile_repeats > 1 {
                println!("{wanted}: {}", spread(&cpu_rates));
            }
            if args.profile_repeats > 1 && !call_ns.is_empty() {
                // Wall time of each whole call of BATCH_ROWS rows: its quantiles are steadier
                // than CPU-time totals on a shared machine (the low ones are the calls no
                // other process interrupted).
                call_ns.sort_unstable();
                let at = |q: f64| call_ns[((call_ns.len() - 1) as f64 * q) as usize] as f64;
                let per_row = |q: f64| at(q) / BATCH_ROWS as f64;
                println!(
                    "{wanted}: ns per row over {} calls of {BATCH_ROWS} rows: p10 {:.1}, p50 {:.1}, p90 {:.1}",
                    call_ns.len(),
                    per_row(0.1),
                    per_row(0.5),
                    per_row(0.9)
                );
            }
            return Ok(());
        }
        let (_, predict) = variants
            .iter_mut()
            .find(|(name, _)| name == wanted)
            .ok_or_else(|| format!("--profile {wanted}: no such variant"))?;
        let sum = profile_loop(predict.as_mut(), n, scratch, tasks)?;
        println!("profiled {wanted} over {n} rows (checksum {sum})");
        return Ok(());
    }
    fs::create_dir_all(&args.out_dir).map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    let mut singles = Vec::new();
    let mut reference: Option<Vec<f32>> = None;
    for (name, predict) in variants.iter_mut() {
        let (mut entry, predictions) =
            time_variant(name, n, scratch, tasks, &args, predict.as_mut())?;
        if let Some(first) = &reference {
            let diff = first
                .iter()
                .zip(&predictions)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            println!("  max |p - p(f32 sparse)| = {diff:.3e}");
            entry["max_abs_diff_vs_f32_sparse"] = json!(diff);
        } else {
            let bytes: Vec<u8> = predictions.iter().flat_map(|v| v.to_le_bytes()).collect();
            let path = args.out_dir.join("ple-core-predictions.f32");
            fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            reference = Some(predictions.clone());
        }
        singles.push((
            name.to_string(),
            predictions,
            entry["max_abs_diff_vs_f32_sparse"].clone(),
        ));
        entries.push(entry);
    }
    drop(variants);
    // The batch API over the same rows, compared with the single-row probabilities above.
    let single = |name: &str| {
        singles
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, p, d)| (p.as_slice(), d.clone()))
            .ok_or_else(|| format!("no single-row run of {name}"))
    };
    let batched: [(&str, &str, bool); 4] = [
        ("ple-core f32 sparse batch", "ple-core f32 sparse", true),
        ("ple-core f32 dense batch", "ple-core f32 dense", false),
        ("ple-core f16 sparse batch", "ple-core f16 sparse", true),
        ("ple-core f16 dense batch", "ple-core f16 dense", false),
    ];
    for (name, of, is_sparse) in batched {
        let (expected, diff) = single(of)?;
        let mut entry = if name.contains("f32") {
            time_batch(name, &b32, &rows, is_sparse, n, expected, args.repeats)?
        } else {
            time_batch(name, &b16, &rows, is_sparse, n, expected, args.repeats)?
        };
        if !diff.is_null() {
            entry["max_abs_diff_vs_f32_sparse"] = diff;
        }
        entries.push(entry);
    }
    // int8 through its batch entry, compared with its single rows.
    let (expected, diff) = single("ple-core int8 sparse")?;
    let mut all = vec![0.0f32; n * tasks];
    int8_batch(&mut all)?;
    if all
        .iter()
        .zip(expected)
        .any(|(a, b)| a.to_bits() != b.to_bits())
    {
        return Err("ple-core int8 sparse batch: probabilities differ from single-row ones".into());
    }
    let (mut rates, mut cpu_rates) = (Vec::new(), Vec::new());
    for _ in 0..args.repeats {
        let (start, cpu) = (Instant::now(), thread_cpu_ns());
        int8_batch(&mut all)?;
        rates.push(n as f64 / start.elapsed().as_secs_f64());
        cpu_rates.push(cpu_rate(n, cpu, thread_cpu_ns()));
    }
    let mut sorted = rates.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "ple-core int8 sparse batch: {:.0} rows/s; {} (equal to single rows bit for bit)",
        sorted[sorted.len() / 2],
        spread(&cpu_rates)
    );
    entries.push(
        json!({"engine": "ple-core int8 sparse batch", "batch": BATCH_ROWS,
        "rows_per_second": rates, "rows_per_cpu_second": cpu_rates,
        "max_abs_diff_vs_single_rows": 0.0, "max_abs_diff_vs_f32_sparse": diff}),
    );
    let path = args.out_dir.join("ple-core-timings.json");
    fs::write(
        &path,
        serde_json::to_string_pretty(&entries).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {} and ple-core-predictions.f32", path.display());
    Ok(())
}

/// Every row once through the int8 batch entry: the int8 twin of [`profile_loop_batch`],
/// with the checksum summed row by row as [`profile_loop`] sums it.
#[inline(never)]
fn profile_loop_int8_batch(
    run: &mut impl FnMut(&mut [f32]) -> Result<(), String>,
    rows: usize,
    tasks: usize,
) -> Result<f32, String> {
    let mut out = vec![0.0f32; rows * tasks];
    run(&mut out)?;
    Ok(out
        .chunks(tasks.max(1))
        .fold(0.0, |sum, row| sum + row.iter().sum::<f32>()))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("ple-core-bench: {e}");
        std::process::exit(1);
    }
}
