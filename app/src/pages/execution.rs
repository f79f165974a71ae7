//! One run at a time, live. `/scripts/:id/execute`: run a script and watch it; opening the page
//! shows the script's run in progress, else its latest. A script that takes inputs gets its run
//! form above the run, prefilled from its latest run, or from the run `?rerun=<id>` names.
//! `/executions/:id`: any run with all its facts (its isolation and what it used among them), the
//! inputs it was given, what its `main()` returned, and its full log. Both keep the run current
//! from its WebSocket (status, exit code, error, and every log line once, in order, across
//! reconnects), and say how many secrets' values its output hides.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde_json::{Map, Value};

use crate::api::{self, Failure};
use crate::components::env_panel::LockIcon;
use crate::components::inputs_form::{as_text, refused_input, FormValues, InputsForm, MASK};
use crate::components::layout::ErrorBox;
use crate::components::loaded::{Addressed, Subject};
use crate::components::log_view::{thousands, LogBuffer, LogView};
use crate::components::runs::{cpu_text, exit_text, memory_text, now, span_text, stopwatch_text, Time};
use crate::components::status_badge::StatusBadge;
use crate::hooks::{Change, ChangeState};
use crate::live::use_execution_events;
use crate::model::{Event, ExecuteRequest, Execution, ExecutionStatus, LogLine, Script};
use crate::session::use_current_user;

#[component]
pub fn ScriptExecutePage() -> impl IntoView {
    let query = use_query_map();
    let rerun = Memo::new(move |_| query.read().get("rerun").and_then(|id| id.parse::<i64>().ok()));
    view! {
        <Addressed subject=Subject::Script loading="Loading the script…" fetch={move |id| runner_data(id, rerun.get_untracked())}
            show={|(script, latest, rerun)| view! { <Runner script latest rerun /> }} />
    }
}

/// The script, its latest run, and the run `?rerun=` names (its failure kept: the page still
/// opens, and says why the form is not prefilled from it).
type RunnerData = (Script, Option<Execution>, Option<Result<Execution, Failure>>);

async fn runner_data(id: i64, rerun: Option<i64>) -> Result<RunnerData, Failure> {
    let runs = async move {
        let latest = api::executions::latest(id).await?;
        let rerun = match rerun {
            Some(rerun) => Some(api::executions::get_one(rerun).await),
            None => None,
        };
        Ok((latest, rerun))
    };
    let (script, (latest, rerun)) = api::scripts::with(id, runs).await?;
    Ok((script, latest, rerun))
}

/// The execute page of a script: its run form, its run button and the run on show.
#[component]
fn Runner(script: Script, latest: Option<Execution>, rerun: Option<Result<Execution, Failure>>) -> impl IntoView {
    let can_edit = use_current_user().can_edit();
    let script_id = script.id;
    let report = script.inputs.clone();
    let takes_inputs = report.as_ref().is_some_and(|r| !r.inputs.is_empty());
    let (prefill, prefill_note) = prefill(script_id, latest.as_ref(), rerun);
    let form = report.as_ref().map(|report| FormValues::new(report, prefill.as_ref()));
    let report = StoredValue::new(report);
    let current = RwSignal::new(latest);
    let shown = Memo::new(move |_| current.with(|run| run.as_ref().map(|r| r.id)));
    let active = Memo::new(move |_| current.with(|run| run.as_ref().is_some_and(|r| !r.status.is_final())));
    let start: Change<ExecuteRequest, Execution> =
        Action::new(move |request: &ExecuteRequest| api::executions::start_with(script_id, request));
    start.on_success(move |run| current.set(Some(run)));
    let starting = start.pending();
    let blocked = move || {
        if !script.is_active {
            Some("This script is inactive: activate it on its page to run it")
        } else if active.get() {
            Some("A run is in progress: wait for it to end, or stop it")
        } else {
            None
        }
    };
    // A refusal naming one of the form's inputs shows at it; any other above the run.
    let failure = start.failure();
    let at_input = move |f: &Failure| report.with_value(|r| r.as_ref().and_then(|r| refused_input(f, r)).is_some());
    let refused = Signal::derive(move || failure.get().filter(at_input));
    let run_error = Signal::derive(move || failure.get().filter(|f| !at_input(f)).map(|f| f.message));
    let run = move || {
        if starting.get_untracked() || blocked().is_some() {
            return;
        }
        let inputs = match (form, report.get_value()) {
            (Some(form), Some(report)) => match form.checked(&report) {
                Ok(inputs) => inputs,
                // Each error shows at its input.
                Err(_) => return,
            },
            _ => Map::new(),
        };
        start.dispatch(ExecuteRequest { inputs });
    };
    let on_change = Callback::new(move |run: Execution| current.set(Some(run)));

    view! {
        <Title text=format!("Run {}", script.name) />
        <div class="page-header">
            <div>
                <a class="back" href=format!("/scripts/{script_id}")>{format!("← {}", script.name)}</a>
                <h1>{script.name.clone()}</h1>
                <p class="subtitle">
                    {if script.description.is_empty() { "Run it and watch its output as it prints.".to_string() } else { script.description.clone() }}
                </p>
            </div>
            <div class="header-actions">
                <a class="button ghost" href=format!("/scripts/{script_id}/schedules")>"Schedules"</a>
                {move || shown.get().map(|id| view! { <a class="button ghost" href=format!("/executions/{id}")>{format!("Run #{id} details")}</a> })}
                {can_edit.then(|| view! {
                    // With a form, the button submits it (so Enter in a field runs too).
                    <button type=if takes_inputs { "submit" } else { "button" } form=takes_inputs.then_some(RUN_FORM)
                        class="button primary" on:click=move |_| { if !takes_inputs { run() } }
                        disabled=move || starting.get() || blocked().is_some()
                        title=move || blocked().unwrap_or(if takes_inputs { "Run the saved script now with these inputs" } else { "Run the saved script now" })>
                        {move || match (starting.get(), current.with(Option::is_some)) {
                            (true, _) => "Starting…",
                            (false, true) => "▶ Run again",
                            (false, false) => "▶ Run",
                        }}
                    </button>
                })}
            </div>
        </div>
        {(!script.is_active).then(|| view! {
            <div class="alert">"This script is inactive, so it cannot run. Activate it on "<a href=format!("/scripts/{script_id}")>"its page"</a>" or on the dashboard."</div>
        })}
        {match (report.get_value(), form) {
            (Some(report), Some(form)) if takes_inputs => view! {
                <section class="card run-form" aria-labelledby="run-form-title">
                    <div class="section-header">
                        <h2 id="run-form-title">"Inputs"</h2>
                        {prefill_note.map(|note| view! { <span class="muted small">{note}</span> })}
                    </div>
                    <form id=RUN_FORM novalidate on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); if can_edit { run() } }>
                        <InputsForm report form refused read_only=!can_edit />
                    </form>
                </section>
            }.into_any(),
            (None, _) => view! {
                <p class="muted small inputs-unread">"The inputs could not be read from the saved code, so a run gets none. Open the script to see why."</p>
            }.into_any(),
            _ => ().into_any(),
        }}
        <ErrorBox error=run_error />
        {move || {
            shown.track();
            match current.get_untracked() {
                Some(execution) => view! { <RunPanel execution can_edit on_change /> }.into_any(),
                None => view! {
                    <section class="empty-state">
                        <div class="empty-icon" aria-hidden="true">"▶"</div>
                        <h2>"Not run yet"</h2>
                        <p>"Start a run and its output appears here line by line as the script prints it, stderr marked apart."</p>
                    </section>
                }.into_any(),
            }
        }}
    }
}

/// The id of the execute page's run form, which its header's button submits.
const RUN_FORM: &str = "run-inputs";

/// Which inputs the form starts from: the run `?rerun=` names, if it is of this script, else
/// the latest run's; with a line saying which (or why not the one asked for).
fn prefill(
    script_id: i64,
    latest: Option<&Execution>,
    rerun: Option<Result<Execution, Failure>>,
) -> (Option<Map<String, Value>>, Option<String>) {
    let from_latest = |note: Option<String>| {
        let inputs = latest.and_then(|run| run.inputs.clone());
        let note = note.or_else(|| latest.filter(|run| run.inputs.is_some()).map(|run| format!("Prefilled from run #{}", run.id)));
        (inputs, note)
    };
    match rerun {
        None => from_latest(None),
        Some(Ok(run)) if run.script_id == script_id => {
            let note = format!("Prefilled from run #{}", run.id);
            (run.inputs, Some(note))
        }
        Some(Ok(run)) => from_latest(Some(format!("Run #{} is of another script: not prefilled from it", run.id))),
        Some(Err(failure)) => from_latest(Some(format!("The run to repeat could not be opened ({})", failure.message))),
    }
}

#[component]
pub fn ExecutionDetailPage() -> impl IntoView {
    let can_edit = use_current_user().can_edit();
    view! {
        <Addressed subject=Subject::Run loading="Loading the run…" fetch=api::executions::get_one
            show={move |execution: Execution| view! {
                <Title text=format!("Run #{} · {}", execution.id, execution.script_name) />
                <div class="page-header">
                    <div>
                        <a class="back" href="/executions">"← Executions"</a>
                        <h1>{format!("Run #{}", execution.id)}</h1>
                        <p class="subtitle">
                            "Of "<a class="strong" href=format!("/scripts/{}", execution.script_id)>{execution.script_name.clone()}</a>
                        </p>
                    </div>
                    <div class="header-actions">
                        {execution.inputs.is_some().then(|| view! {
                            <a class="button" href=format!("/scripts/{}/execute?rerun={}", execution.script_id, execution.id)>"Run again with these inputs"</a>
                        })}
                        <a class="button" href=format!("/scripts/{}/execute", execution.script_id)>"Open the script's runner"</a>
                    </div>
                </div>
                <RunPanel execution can_edit />
            }} />
    }
}

/// A run's facts, its controls and its log, kept current live. `on_change` hears of every change
/// of the run (its status above all).
#[component]
fn RunPanel(execution: Execution, can_edit: bool, #[prop(optional)] on_change: Option<Callback<Execution>>) -> impl IntoView {
    let id = execution.id;
    let run = RwSignal::new(execution);
    let log = LogBuffer::new();
    let finished = Memo::new(move |_| run.with(|r| r.status.is_final()));
    let refresh = move || {
        spawn_local(async move {
            if let Ok(fresh) = api::executions::get_one(id).await {
                run.try_set(fresh);
            }
        })
    };
    // The network setting is stored as the run starts; only it is taken from this read, which
    // may arrive after the run's end and must not step back from it.
    let read_network = move || {
        spawn_local(async move {
            if let Ok(fresh) = api::executions::get_one(id).await {
                run.try_update(|r| r.network = r.network.or(fresh.network));
            }
        })
    };
    let live = use_execution_events(id, move |event| match event {
        Event::LogOutput { seq, stream, line, at, .. } => log.push(LogLine { seq, stream, line, at }),
        Event::ExecutionStarted { at, .. } => {
            run.update(|r| {
                if !r.status.is_final() {
                    r.status = ExecutionStatus::Running;
                    r.started_at.get_or_insert(at);
                }
            });
            read_network();
        }
        Event::ExecutionFinished { status, exit_code, at, .. } => {
            run.update(|r| {
                r.status = status;
                r.exit_code = exit_code;
                r.finished_at.get_or_insert(at);
            });
            // The error and the exact times come with the stored run.
            refresh();
        }
        Event::ExecutionError { error, .. } => run.update(|r| r.error = Some(error)),
        _ => {}
    });
    if let Some(on_change) = on_change {
        Effect::new(move |_| on_change.run(run.get()));
    }

    let stop: Change<i64, Execution> = Action::new(|id: &i64| api::executions::stop(*id));
    // The socket may already have told the end; never step back from it.
    stop.on_success(move |stopped| {
        run.update(|r| {
            if !r.status.is_final() {
                *r = stopped;
            }
        })
    });
    // Refused (the run ended meanwhile, say): show the run as it is stored.
    Effect::new(move |_| {
        if stop.failure().get().is_some() {
            refresh();
        }
    });
    // Once asked, the button stays "Stopping…" until the run is over.
    let stopping = move || stop.pending().get() || stop.value().with(|v| matches!(v, Some(Ok(_))));

    let clock = use_clock(finished);
    let elapsed = move || {
        run.with(|r| match (r.started_at, r.finished_at) {
            (Some(start), Some(end)) => span_text(end - start),
            (Some(start), None) => stopwatch_text(clock.get() - start),
            (None, None) => format!("queued {}", stopwatch_text(clock.get() - r.queued_at)),
            (None, Some(_)) => "did not start".into(),
        })
    };
    let inputs = Memo::new(move |_| run.with(|r| r.inputs.clone()));
    let result = Memo::new(move |_| run.with(|r| r.result.clone()));
    let empty = Signal::derive(move || {
        run.with(|r| match r.status {
            ExecutionStatus::Queued => "Waiting for a worker to start the run…",
            ExecutionStatus::Running => "No output yet…",
            _ if r.log_lines > 0 => "Loading the log…",
            _ => "The run printed nothing.",
        })
        .to_string()
    });

    view! {
        <section class="card run-summary" aria-label="Run">
            <div class="fact-groups">
            <dl class="facts">
                <div class="fact">
                    <dt>"Status"</dt>
                    <dd>{move || view! { <StatusBadge status=run.with(|r| r.status) /> }}</dd>
                </div>
                <div class="fact">
                    <dt>{move || if finished.get() { "Duration" } else { "Elapsed" }}</dt>
                    <dd class="mono" aria-live="off">{elapsed}</dd>
                </div>
                <div class="fact">
                    <dt>"Exit code"</dt>
                    <dd class="mono" class:bad=move || run.with(|r| r.exit_code.is_some_and(|c| c != 0))>{move || run.with(|r| exit_text(r.exit_code))}</dd>
                </div>
                <div class="fact">
                    <dt>"Trigger"</dt>
                    <dd>{move || run.with(|r| r.trigger.as_str())}</dd>
                </div>
                <div class="fact">
                    <dt>"Queued (UTC)"</dt>
                    <dd>{move || view! { <Time at=run.with(|r| r.queued_at) /> }}</dd>
                </div>
                <div class="fact">
                    <dt>"Started"</dt>
                    <dd>{move || run.with(|r| r.started_at.map(|at| (at, r.queued_at))).map(|(at, day)| view! { <Time at same_day_as=day /> }.into_any()).unwrap_or_else(|| "—".into_any())}</dd>
                </div>
                <div class="fact">
                    <dt>"Finished"</dt>
                    <dd>{move || run.with(|r| r.finished_at.map(|at| (at, r.queued_at))).map(|(at, day)| view! { <Time at same_day_as=day /> }.into_any()).unwrap_or_else(|| "—".into_any())}</dd>
                </div>
            </dl>
            <UsageFacts run />
            </div>
            <div class="run-actions">
                {move || (can_edit && !finished.get()).then(|| view! {
                    <button type="button" class="button danger" on:click=move |_| { stop.dispatch(id); } disabled=stopping>
                        {move || if stopping() { "Stopping…" } else { "■ Stop" }}
                    </button>
                })}
            </div>
        </section>
        <ErrorBox error=stop.error() />
        {move || run.with(|r| r.error.clone()).map(|error| view! {
            <div class="alert error run-error" role="alert">
                <strong>{move || run.with(|r| error_heading(r.status))}</strong>
                <pre>{error}</pre>
            </div>
        })}
        {move || {
            let inputs = inputs.get().filter(|inputs| !inputs.is_empty());
            let result = result.get();
            (inputs.is_some() || result.is_some()).then(|| view! {
                <div class="run-io">
                    {inputs.map(|inputs| view! { <RunInputs inputs /> })}
                    {result.map(|result| view! { <RunResult result /> })}
                </div>
            })
        }}
        <section class="card log-card">
            <div class="log-toolbar">
                <h2>"Output"</h2>
                <span class="muted small">
                    {move || match log.len() { 1 => "1 line".to_string(), n => format!("{} lines", thousands(n)) }}
                </span>
                <span class="legend small"><span class="swatch stdout"></span>"stdout"<span class="swatch stderr"></span>"stderr"</span>
                {move || masked_text(run.with(|r| r.masked)).map(|text| view! {
                    <span class="masked-note small" role="status"
                        title="Wherever a secret's value (or an encoding of it) appeared in the output or the error, *** stands instead">
                        <LockIcon />{text}
                    </span>
                })}
                <span class="live-state small" class:on=move || live.get()>
                    {move || match (finished.get(), live.get()) {
                        (false, true) => "● live",
                        (false, false) => "○ connecting…",
                        (true, _) => "",
                    }}
                </span>
                <a class="button small" href=api::executions::log_text_url(id) download=""
                    title="The whole log as plain text">"Download log"</a>
            </div>
            <LogView log empty />
        </section>
    }
}

/// The inputs a run was given, as checked and completed with defaults; a secret as `***`.
#[component]
fn RunInputs(inputs: Map<String, Value>) -> impl IntoView {
    view! {
        <section class="card run-inputs" aria-labelledby="run-inputs-title">
            <div class="section-header"><h2 id="run-inputs-title">"Inputs given"</h2></div>
            <table class="table inputs-table">
                <tbody>
                    {inputs.into_iter().map(|(name, value)| {
                        let masked = value.as_str() == Some(MASK);
                        let shown = match &value {
                            Value::Null => None,
                            Value::String(text) if text.is_empty() => Some("\"\"".to_owned()),
                            other => Some(as_text(other, false)),
                        };
                        view! {
                            <tr>
                                <th scope="row" class="mono">{name}</th>
                                <td>
                                    {match shown {
                                        Some(text) => view! { <code class="input-value" class:masked=masked title=masked.then_some("A secret: never shown back")>{text}</code> }.into_any(),
                                        None => view! { <span class="muted" title="null">"none"</span> }.into_any(),
                                    }}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// What the script's `main()` returned, as JSON.
#[component]
fn RunResult(result: Value) -> impl IntoView {
    let text = serde_json::to_string_pretty(&result).unwrap_or_else(|_| result.to_string());
    view! {
        <section class="card run-result" aria-labelledby="run-result-title">
            <div class="section-header"><h2 id="run-result-title">"Result"</h2><span class="muted small">"what main() returned"</span></div>
            <pre class="result-json">{text}</pre>
        </section>
    }
}

/// What the run ran with and what it used (SPEC "Isolation"): a row of facts of its own, under
/// the run's times.
#[component]
fn UsageFacts(run: RwSignal<Execution>) -> impl IntoView {
    view! {
        <dl class="facts usage" aria-label="Isolation and usage">
            <div class="fact">
                <dt>"Network"</dt>
                <dd>{move || run.with(|r| network_text(r.network))}</dd>
            </div>
            <div class="fact">
                <dt>"Isolation"</dt>
                <dd class:warn=move || run.with(|r| r.sandboxed == Some(false))
                    title=move || run.with(|r| isolation_title(r.sandboxed))>{move || run.with(|r| isolation_text(r.sandboxed))}</dd>
            </div>
            <div class="fact">
                <dt>"Peak memory"</dt>
                <dd class="mono">{move || run.with(|r| memory_text(r.peak_memory_bytes))}</dd>
            </div>
            <div class="fact">
                <dt>"CPU time"</dt>
                <dd class="mono">{move || run.with(|r| cpu_text(r.cpu_seconds))}</dd>
            </div>
        </dl>
    }
}

/// How many secrets' values the output hides, in words; nothing when none.
fn masked_text(masked: i64) -> Option<String> {
    match masked {
        ..=0 => None,
        1 => Some("1 secret value masked in this output".into()),
        n => Some(format!("{} secret values masked in this output", thousands(n as usize))),
    }
}

fn network_text(network: Option<bool>) -> &'static str {
    match network {
        Some(true) => "on",
        Some(false) => "off",
        None => "—",
    }
}

fn isolation_text(sandboxed: Option<bool>) -> &'static str {
    match sandboxed {
        Some(true) => "sandboxed",
        Some(false) => "not isolated",
        None => "—",
    }
}

fn isolation_title(sandboxed: Option<bool>) -> &'static str {
    match sandboxed {
        Some(true) => "Ran in a sandbox of its own: its own processes, files and limits",
        Some(false) => "Ran without a sandbox: as the server's own user, with its files in reach",
        None => "Known once the run is over",
    }
}

fn error_heading(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Stopped => "Stopped",
        ExecutionStatus::TimedOut => "Timed out",
        ExecutionStatus::Lost => "Lost",
        _ => "The run failed",
    }
}

/// Now, ticking every second while `finished` is false, so a running time moves by itself.
fn use_clock(finished: Memo<bool>) -> RwSignal<chrono::DateTime<chrono::Utc>> {
    let clock = RwSignal::new(now());
    Effect::new(move |_| {
        // Read in every build, so the effect follows it; only the browser ticks.
        if !finished.get() {
            #[cfg(feature = "hydrate")]
            if let Ok(ticker) = set_interval_with_handle(move || clock.set(now()), std::time::Duration::from_secs(1)) {
                on_cleanup(move || ticker.clear());
            }
        }
    });
    clock
}
