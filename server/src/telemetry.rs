//! Tracing: one subscriber for the process, filtered by `--log` / `PYTASK_LOG`; and the
//! Prometheus metrics (`metrics`).

pub mod metrics;
pub mod quiet;

use tracing_subscriber::EnvFilter;

pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|err| {
        eprintln!("pytask: ignoring the log filter `{filter}` (PYTASK_LOG / --log): {err}");
        EnvFilter::new("info")
    });
    // A second init (tests) keeps the first subscriber; that is the wanted behaviour.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}
