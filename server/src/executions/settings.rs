//! The settings of runs, taken from the configuration once: what every part of the engine reads.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::process::Limits;
use crate::config::Config;
use crate::sandbox::Sandbox;

/// The settings of runs, taken from the configuration.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub workers: usize,
    pub data_dir: PathBuf,
    pub default_timeout: Duration,
    pub grace: Duration,
    pub output_cap: u64,
    pub limits: Limits,
    pub lost_after: Duration,
    pub warm_interpreters: usize,
    /// Runs of one script that may wait in the queue (`--max-queued-per-script`).
    pub max_queued_per_script: u64,
    /// What runs are isolated with here (`sandbox`).
    pub sandbox: Arc<Sandbox>,
}

impl RunSettings {
    pub fn from_config(config: &Config, sandbox: Arc<Sandbox>) -> RunSettings {
        RunSettings {
            workers: usize::from(config.workers),
            data_dir: config.data_dir.clone(),
            default_timeout: Duration::from_secs(config.run_timeout_seconds),
            grace: Duration::from_secs(config.kill_grace_seconds),
            output_cap: config.run_output_mb.saturating_mul(1024 * 1024),
            limits: Limits {
                memory_bytes: config.run_memory_mb.saturating_mul(1024 * 1024),
                cpu_seconds: config.run_cpu_seconds,
                open_files: config.run_open_files,
                processes: config.run_processes,
            },
            lost_after: Duration::from_secs(config.lost_after_seconds),
            warm_interpreters: usize::from(config.warm_interpreters),
            max_queued_per_script: u64::from(config.max_queued_per_script),
            sandbox,
        }
    }
}
