//! Prometheus metrics: the one place that names them. Call sites record through the typed
//! functions below (one line each); `GET /metrics` renders the process's recorder.
//!
//! The recorder is global to the process (the `metrics` facade has one), so it is installed
//! once, on first use, and every `App` built in the process (tests build several) shares it.
//! Its upkeep (draining histogram samples, so memory stays bounded between scrapes, or when
//! nobody scrapes) runs on a small thread of its own for the same reason: it must outlive any
//! one tokio runtime.

use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};
use app::model::ExecutionStatus;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const RUNS_FINISHED: &str = "pytask_executions_finished_total";
const RUN_DURATION: &str = "pytask_execution_duration_seconds";
const RUNS_CURRENT: &str = "pytask_executions";
const QUEUE_DEPTH: &str = "pytask_queue_depth";
const LOG_LINES: &str = "pytask_log_lines_total";
const LOG_STORE: &str = "pytask_log_batch_store_seconds";
const INSTALLS: &str = "pytask_installs_total";
const FIRE_DELAY: &str = "pytask_schedule_fire_delay_seconds";
const WS_CLIENTS: &str = "pytask_websocket_clients";
const HTTP_REQUESTS: &str = "pytask_http_requests_total";
const HTTP_DURATION: &str = "pytask_http_request_duration_seconds";
const RUNS_PRUNED: &str = "pytask_executions_pruned_total";
const SIGN_INS: &str = "pytask_sign_ins_total";

/// Histogram buckets, in seconds: real buckets rather than the exporter's default summaries,
/// so several instances' histograms can be added up by Prometheus.
const BUCKETS: &[(&str, &[f64])] = &[
    (RUN_DURATION, &[0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0]),
    (FIRE_DELAY, &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0]),
    (LOG_STORE, &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 10.0]),
    (HTTP_DURATION, &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]),
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(install)
}

fn install() -> PrometheusHandle {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in BUCKETS {
        // Only an empty bucket list is refused, and none of ours is.
        builder = builder.set_buckets_for_metric(Matcher::Full((*name).to_string()), buckets).expect("the bucket lists are not empty");
    }
    let handle = match builder.install_recorder() {
        Ok(handle) => handle,
        Err(err) => {
            // Only another global recorder in the process makes this fail: serve an empty one.
            tracing::warn!(%err, "the metrics recorder could not be installed; /metrics stays empty");
            PrometheusBuilder::new().build_recorder().handle()
        }
    };
    describe();
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || loop {
        std::thread::sleep(Duration::from_secs(5));
        upkeep.run_upkeep();
    });
    if let Err(err) = spawned {
        tracing::warn!(%err, "the metrics upkeep thread could not start; histograms are drained at each scrape only");
    }
    handle
}

fn describe() {
    describe_counter!(RUNS_FINISHED, "Executions that reached a final status, by that status.");
    describe_histogram!(RUN_DURATION, Unit::Seconds, "Time from an execution's start to its end, by final status.");
    describe_gauge!(RUNS_CURRENT, "Executions not finished yet (in the database, all instances), by status.");
    describe_gauge!(QUEUE_DEPTH, "Executions waiting for a worker (in the database, all instances).");
    describe_counter!(LOG_LINES, "Log lines stored by this instance's runs.");
    describe_histogram!(
        LOG_STORE,
        Unit::Seconds,
        "Time to write one batch of a run's log lines to the database (a commit), retries included."
    );
    describe_counter!(INSTALLS, "Installations of a script's requirements, by outcome.");
    describe_histogram!(FIRE_DELAY, Unit::Seconds, "How late a schedule fired after its due time.");
    describe_gauge!(WS_CLIENTS, "WebSocket clients connected to this instance, by kind.");
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by method, route template and status.");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "Time to answer an HTTP request, by method and route template.");
    describe_counter!(RUNS_PRUNED, "Finished executions deleted (with their logs) by retention.");
    describe_counter!(SIGN_INS, "Sign-in attempts on this instance, by outcome (succeeded, failed, disabled, throttled, busy).");
}

/// Renders every metric in Prometheus' text format.
pub fn render() -> String {
    handle().render()
}

/// A run reached a final status; `ran` is its time from start to end, if it started.
pub fn run_finished(status: ExecutionStatus, ran: Option<Duration>) {
    counter!(RUNS_FINISHED, "status" => status.as_str()).increment(1);
    if let Some(ran) = ran {
        histogram!(RUN_DURATION, "status" => status.as_str()).record(ran.as_secs_f64());
    }
}

/// Unfinished runs in the database, as counted when scraped.
pub fn runs_waiting(queued: u64, running: u64) {
    gauge!(QUEUE_DEPTH).set(queued as f64);
    gauge!(RUNS_CURRENT, "status" => ExecutionStatus::Queued.as_str()).set(queued as f64);
    gauge!(RUNS_CURRENT, "status" => ExecutionStatus::Running.as_str()).set(running as f64);
}

/// A batch of `lines` was written, in `took` (its viewers had it before the write began).
pub fn log_lines_stored(lines: usize, took: Duration) {
    counter!(LOG_LINES).increment(lines as u64);
    histogram!(LOG_STORE).record(took.as_secs_f64());
}

/// An installation ended, well or not.
pub fn install_finished<T, E>(result: &Result<T, E>) {
    let outcome = if result.is_ok() { "succeeded" } else { "failed" };
    counter!(INSTALLS, "outcome" => outcome).increment(1);
}

/// A schedule fired `late` after its due time (negative: a clock moved; counted as on time).
pub fn schedule_fired(late: chrono::Duration) {
    histogram!(FIRE_DELAY).record(late.to_std().unwrap_or_default().as_secs_f64());
}

pub fn runs_pruned(executions: u64) {
    counter!(RUNS_PRUNED).increment(executions);
}

/// How a sign-in attempt ended: every attempt is counted once, whatever stopped it.
#[derive(Debug, Clone, Copy)]
pub enum SignIn {
    Succeeded,
    /// Wrong name or password.
    Failed,
    /// Right password of a disabled account.
    Disabled,
    /// Refused unchecked: the user or address must wait.
    Throttled,
    /// Refused unchecked: every password hasher was busy.
    Busy,
}

pub fn sign_in(outcome: SignIn) {
    let outcome = match outcome {
        SignIn::Succeeded => "succeeded",
        SignIn::Failed => "failed",
        SignIn::Disabled => "disabled",
        SignIn::Throttled => "throttled",
        SignIn::Busy => "busy",
    };
    counter!(SIGN_INS, "outcome" => outcome).increment(1);
}

/// Which WebSocket a client holds.
#[derive(Debug, Clone, Copy)]
pub enum SocketKind {
    Script,
    Execution,
}

impl SocketKind {
    fn as_str(self) -> &'static str {
        match self {
            SocketKind::Script => "script",
            SocketKind::Execution => "execution",
        }
    }
}

/// Counts a connected WebSocket client while held: dropped when the socket's task ends, however
/// it ends (close, error, a panic), so the gauge cannot drift.
pub struct SocketClient(SocketKind);

impl SocketClient {
    pub fn connected(kind: SocketKind) -> SocketClient {
        gauge!(WS_CLIENTS, "kind" => kind.as_str()).increment(1.0);
        SocketClient(kind)
    }
}

impl Drop for SocketClient {
    fn drop(&mut self) {
        gauge!(WS_CLIENTS, "kind" => self.0.as_str()).decrement(1.0);
    }
}

/// An HTTP request answered. `route` is the matched route template (never the raw path, whose
/// ids would make a series per URL); `method` one of the standard ones or `other`, for the same
/// reason.
pub fn http_request(method: &axum::http::Method, route: Option<&str>, status: u16, took: Duration) {
    use axum::http::Method;
    let method = match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let route = route.unwrap_or("unmatched").to_string();
    counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.to_string()).increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(took.as_secs_f64());
}
