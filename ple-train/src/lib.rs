//! `ple-train`: reads Census-Income, trains PLE, writes a model file and a report.
pub mod adam;
pub mod census;
pub mod checkpoint;
pub mod config;
pub mod dataset;
pub mod download;
pub mod metrics;
pub mod network;
pub mod report;
pub mod rng;
pub mod run;
pub mod trainer;
