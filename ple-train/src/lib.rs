//! `ple-train`: reads Census-Income, trains PLE, writes a model file and a report.
pub mod census;
pub mod dataset;
pub mod download;
