//! `ple-train`: reads Census-Income, trains PLE, writes a model file and a report.
pub mod dataset;
