//! The Census-Income (KDD) record layout, as PaddleRec's `data_preparation.py` names it.
//!
//! These tables are the only Census-specific knowledge of the pipeline: which of the 42 raw
//! fields are numeric features, which are one-hot categorical features (and in which order
//! their blocks follow each other), and which fields hold the labels. Everything downstream
//! works from the [`FeatureSpec`](ple_codegen::FeatureSpec) built from them.

/// Names of the 42 fields of a raw UCI record, in file order.
pub const COLUMN_NAMES: [&str; 42] = [
    "age",
    "class_worker",
    "det_ind_code",
    "det_occ_code",
    "education",
    "wage_per_hour",
    "hs_college",
    "marital_stat",
    "major_ind_code",
    "major_occ_code",
    "race",
    "hisp_origin",
    "sex",
    "union_member",
    "unemp_reason",
    "full_or_part_emp",
    "capital_gains",
    "capital_losses",
    "stock_dividends",
    "tax_filer_stat",
    "region_prev_res",
    "state_prev_res",
    "det_hh_fam_stat",
    "det_hh_summ",
    "instance_weight",
    "mig_chg_msa",
    "mig_chg_reg",
    "mig_move_reg",
    "mig_same",
    "mig_prev_sunbelt",
    "num_emp",
    "fam_under_18",
    "country_father",
    "country_mother",
    "country_self",
    "citizenship",
    "own_or_self",
    "vet_question",
    "vet_benefits",
    "weeks_worked",
    "year",
    "income_50k",
];

/// The numeric features, in dense-vector order (which is also file order).
pub const NUMERIC_COLUMNS: [&str; 11] = [
    "age",
    "wage_per_hour",
    "capital_gains",
    "capital_losses",
    "stock_dividends",
    "instance_weight",
    "num_emp",
    "own_or_self",
    "vet_benefits",
    "weeks_worked",
    "year",
];

/// The categorical features, in the order of their one-hot blocks.
pub const CATEGORICAL_COLUMNS: [&str; 29] = [
    "class_worker",
    "det_ind_code",
    "det_occ_code",
    "education",
    "hs_college",
    "major_ind_code",
    "major_occ_code",
    "race",
    "hisp_origin",
    "sex",
    "union_member",
    "unemp_reason",
    "full_or_part_emp",
    "tax_filer_stat",
    "region_prev_res",
    "state_prev_res",
    "det_hh_fam_stat",
    "det_hh_summ",
    "mig_chg_msa",
    "mig_chg_reg",
    "mig_move_reg",
    "mig_same",
    "mig_prev_sunbelt",
    "fam_under_18",
    "country_father",
    "country_mother",
    "country_self",
    "citizenship",
    "vet_question",
];

/// Task names in model order.
pub const TASK_NAMES: [&str; 2] = ["income", "marital"];

/// The income label's field and its two legal values (negative, positive).
pub const INCOME_COLUMN: &str = "income_50k";
/// Value of [`INCOME_COLUMN`] for incomes of at most 50,000 dollars.
pub const INCOME_NEGATIVE: &str = " - 50000.";
/// Value of [`INCOME_COLUMN`] for incomes above 50,000 dollars.
pub const INCOME_POSITIVE: &str = " 50000+.";

/// The marital task's field and the value that makes its label 1.
pub const MARITAL_COLUMN: &str = "marital_stat";
/// Value of [`MARITAL_COLUMN`] that makes the marital label 1.
pub const MARITAL_POSITIVE: &str = " Never married";

/// Raw file names inside the data directory (each may also be gzipped, with `.gz` appended).
pub const TRAIN_FILE: &str = "census-income.data";
/// See [`TRAIN_FILE`].
pub const TEST_FILE: &str = "census-income.test";

/// Where the raw files come from.
pub const UCI_ARCHIVE_URL: &str =
    "https://archive.ics.uci.edu/ml/machine-learning-databases/census-income-mld/";

/// 0-based raw column of a field name from [`COLUMN_NAMES`].
pub fn column_index(name: &str) -> usize {
    COLUMN_NAMES
        .iter()
        .position(|&c| c == name)
        .unwrap_or_else(|| unreachable!("{name} is not a Census column"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_a_feature_a_label_or_named_once() {
        let mut seen = [0usize; 42];
        for name in NUMERIC_COLUMNS.iter().chain(&CATEGORICAL_COLUMNS) {
            seen[column_index(name)] += 1;
        }
        seen[column_index(INCOME_COLUMN)] += 1;
        seen[column_index(MARITAL_COLUMN)] += 1;
        assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    }

    #[test]
    fn numeric_columns_are_in_file_order() {
        let idx: Vec<usize> = NUMERIC_COLUMNS.iter().map(|n| column_index(n)).collect();
        assert!(idx.windows(2).all(|w| w[0] < w[1]));
    }
}
