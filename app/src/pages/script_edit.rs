//! `/scripts/new` and `/scripts/:id`: a script's name, description, tags, active flag, timeout,
//! network access and source in the code editor, saved with the button or Ctrl/Cmd+S. A save based on an old
//! version is refused by the server and said so; leaving with unsaved changes asks first. The
//! source is checked by the server's Python as it is typed, and "Format" runs ruff; the run form
//! its inputs make is shown beside it, read from the code on screen the same way. "Run" starts
//! the saved script (saving unsaved changes first, so the run is of the code on screen) and opens
//! its live page. Below, its dependencies, its variables and secrets, and its recent runs.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{self, env::Owner, Failure};
use crate::browser;
use crate::components::code_editor::CodeEditor;
use crate::components::dependencies::DependencyPanel;
use crate::components::env_panel::EnvPanel;
use crate::components::inputs_form::{FormValues, InputsForm};
use crate::components::layout::{ErrorBox, Field};
use crate::components::loaded::{Loaded, Subject};
use crate::components::runs::{RunsTable, ScriptColumn};
use crate::components::tag_input::TagInput;
use crate::hooks::{use_debounced, Change, ChangeState};
use crate::model::{Execution, ExecutionPage, InputsReport, NewScript, Problem, Script, ScriptUpdate, Severity, Source};
use crate::session::use_current_user;

#[component]
pub fn ScriptEditPage() -> impl IntoView {
    // `/scripts/new` has no `:id`; `/scripts/:id` must name a number.
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").map(|id| id.parse::<i64>().ok()));
    let loaded = Resource::new(
        move || id.get(),
        |id| async move {
            match id {
                None => Ok(None),
                Some(Some(id)) => api::scripts::get_one(id).await.map(Some),
                Some(None) => Err(Failure { status: 404, message: "there is no script at this address".into(), field: None }),
            }
        },
    );
    view! {
        <Loaded data=loaded loading="Loading the script…"
            show={|script| view! { <ScriptForm script /> }}
            failed={|failure| Subject::Script.missing(failure)} />
    }
}

/// What the form holds, to tell saved from unsaved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Draft {
    name: String,
    description: String,
    content: String,
    tags: Vec<String>,
    is_active: bool,
    timeout: String,
    network: bool,
}

impl Draft {
    fn of(script: &Option<Script>) -> Draft {
        match script {
            Some(s) => Draft {
                name: s.name.clone(),
                description: s.description.clone(),
                content: s.content.clone(),
                tags: s.tags.clone(),
                is_active: s.is_active,
                timeout: s.timeout_seconds.map(|t| t.to_string()).unwrap_or_default(),
                network: s.network,
            },
            None => Draft {
                name: String::new(),
                description: String::new(),
                content: "print(\"Hello from PyTask\")\n".into(),
                tags: Vec::new(),
                is_active: true,
                timeout: String::new(),
                network: true,
            },
        }
    }

    fn timeout_seconds(&self) -> Result<Option<u32>, Failure> {
        let text = self.timeout.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| Failure {
            status: 422,
            message: "the timeout is a whole number of seconds".into(),
            field: Some("timeout_seconds".into()),
        })
    }
}

/// What follows a successful save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterSave {
    Stay,
    Run,
}

/// A save: the draft, the version it is based on (none for a new script), and what follows.
#[derive(Debug, Clone)]
struct SaveAsked {
    id: Option<i64>,
    updated_at: Option<DateTime<Utc>>,
    draft: Draft,
    then: AfterSave,
}

/// Stores the draft: a change of the script at the version it was read, or a new script.
async fn store(asked: SaveAsked) -> Result<(Script, AfterSave), Failure> {
    let SaveAsked { id, updated_at, draft, then } = asked;
    let timeout_seconds = draft.timeout_seconds()?;
    let stored = match (id, updated_at) {
        (Some(id), Some(updated_at)) => {
            let change = ScriptUpdate {
                updated_at,
                name: Some(draft.name),
                description: Some(draft.description),
                content: Some(draft.content),
                is_active: Some(draft.is_active),
                tags: Some(draft.tags),
                timeout_seconds: Some(timeout_seconds),
                network: Some(draft.network),
            };
            api::scripts::update(id, &change).await?
        }
        _ => {
            let new = NewScript {
                name: draft.name,
                description: draft.description,
                content: draft.content,
                is_active: draft.is_active,
                tags: draft.tags,
                timeout_seconds,
                network: draft.network,
            };
            api::scripts::create(&new).await?
        }
    };
    Ok((stored, then))
}

#[component]
fn ScriptForm(script: Option<Script>) -> impl IntoView {
    let can_edit = use_current_user().can_edit();
    let id = script.as_ref().map(|s| s.id);
    let title = script.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| "New script".into());
    let version = RwSignal::new(script.as_ref().map(|s| s.updated_at));
    let saved = RwSignal::new(Draft::of(&script));
    let draft = RwSignal::new(Draft::of(&script));
    let notice = RwSignal::new(None::<String>);
    let dirty = Memo::new(move |_| draft.get() != saved.get());

    // A full page load, not the router: the editor and its timers end with the page.
    let run: Change<i64, Execution> = Action::new(|id: &i64| api::executions::start(*id));
    run.on_success(move |started| browser::go_to(&format!("/scripts/{}/execute", started.script_id)));
    let save: Change<SaveAsked, (Script, AfterSave)> = Action::new(|asked: &SaveAsked| store(asked.clone()));
    save.on_success(move |(stored, then)| {
        let stored_draft = Draft::of(&Some(stored.clone()));
        saved.set(stored_draft.clone());
        draft.set(stored_draft);
        version.set(Some(stored.updated_at));
        if id.is_none() {
            browser::go_to(&format!("/scripts/{}", stored.id));
        } else if then == AfterSave::Run {
            run.dispatch(stored.id);
        } else {
            notice.set(Some("Saved".into()));
        }
    });
    // Busy from the click until the next page replaces this one, when a run was started.
    let pending = Signal::derive(move || {
        save.pending().get()
            || run.pending().get()
            || run.value().with(|v| matches!(v, Some(Ok(_))))
            || (id.is_none() && save.value().with(|v| matches!(v, Some(Ok(_)))))
    });
    let field_error = move |field: &'static str| save.field_error(field);
    // Not tied to a field: the save's own failure (a conflict with a newer version above all) or
    // the run's.
    let form_error = Signal::derive(move || {
        save.failure()
            .get()
            .filter(|f| f.field.is_none() || f.field.as_deref() == Some("updated_at"))
            .map(|f| f.message)
            .or_else(|| run.failure().get().map(|f| f.message))
    });

    let save = move |then: AfterSave| {
        if pending.get_untracked() || !can_edit {
            return;
        }
        notice.set(None);
        save.dispatch(SaveAsked { id, updated_at: version.get_untracked(), draft: draft.get_untracked(), then });
    };
    let start_run = move || {
        if let Some(id) = id {
            notice.set(None);
            run.dispatch(id);
        }
    };

    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("s") {
            ev.prevent_default();
            save(AfterSave::Stay);
        }
    });
    let leaving = window_event_listener(leptos::ev::beforeunload, move |ev| {
        if dirty.get_untracked() {
            ev.prevent_default();
        }
    });
    on_cleanup(move || {
        keys.remove();
        leaving.remove();
    });

    // A run is of the stored script: unsaved changes are saved first, never silently skipped.
    let run_clicked = move |_| if dirty.get_untracked() { save(AfterSave::Run) } else { start_run() };

    let text_input = move |field: fn(&mut Draft) -> &mut String| {
        move |ev: leptos::ev::Event| {
            let value = event_target_value(&ev);
            draft.update(|d| *field(d) = value);
        }
    };
    let content = Memo::new(move |_| draft.with(|d| d.content.clone()));
    let problems = use_syntax_check(content);
    let format: Change<Source, Source> = Action::new(|source: &Source| api::code::format(source));
    format.on_success(move |formatted| draft.update(|d| d.content = formatted.content));
    let formatting = format.pending();
    let code_error = Signal::derive(move || format.failure().get().map(|f| f.message).or_else(|| field_error("content").get()));

    view! {
        <Title text=title.clone() />
        <form class="script-form" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); save(AfterSave::Stay); }>
            <div class="page-header">
                <div>
                    <a class="back" href="/">"← Scripts"</a>
                    <h1>{title}</h1>
                </div>
                <div class="header-actions">
                    <span class="save-state" aria-live="polite">
                        {move || if dirty.get() { "Unsaved changes".to_string() } else { notice.get().unwrap_or_default() }}
                    </span>
                    // A full page load, so unsaved changes get the browser's "leave the page?".
                    {id.map(|id| view! { <a class="button ghost" href=format!("/scripts/{id}/schedules") rel="external">"Schedules"</a> })}
                    {(can_edit && id.is_some()).then(|| view! {
                        <button type="button" class="button" on:click=run_clicked
                            disabled=move || pending.get() || !draft.with(|d| d.is_active)
                            title=move || if !draft.with(|d| d.is_active) {
                                "Inactive: tick Active and save to run it"
                            } else if dirty.get() {
                                "Save the changes, then run the script as it is on screen"
                            } else {
                                "Run the saved script and watch its output"
                            }>
                            {move || if dirty.get() { "▶ Save & run" } else { "▶ Run" }}
                        </button>
                    })}
                    {can_edit.then(|| view! {
                        <button type="submit" class="button primary" disabled=move || pending.get()
                            title="Save (Ctrl+S)">
                            {move || if pending.get() { "Saving…" } else { "Save" }}
                        </button>
                    })}
                </div>
            </div>
            <ErrorBox error=form_error />
            <div class="card form-grid">
                <Field label="Name" error=field_error("name")>
                    <input type="text" name="name" required maxlength="100" prop:value=move || draft.with(|d| d.name.clone())
                        on:input=text_input(|d| &mut d.name) readonly=!can_edit />
                </Field>
                <Field label="Description" error=field_error("description")>
                    <input type="text" name="description" placeholder="What it does, for the list" prop:value=move || draft.with(|d| d.description.clone())
                        on:input=text_input(|d| &mut d.description) readonly=!can_edit />
                </Field>
                <div class="field">
                    <span class="field-label">"Tags"</span>
                    <TagInput tags=Signal::derive(move || draft.with(|d| d.tags.clone()))
                        on_change=Callback::new(move |tags| draft.update(|d| d.tags = tags))
                        error=field_error("tags") read_only=!can_edit />
                </div>
                <Field label="Timeout (seconds)" error=field_error("timeout_seconds")>
                    <input type="text" name="timeout" inputmode="numeric" placeholder="server default" prop:value=move || draft.with(|d| d.timeout.clone())
                        on:input=text_input(|d| &mut d.timeout) readonly=!can_edit />
                </Field>
                <NetworkField network=Signal::derive(move || draft.with(|d| d.network)) can_edit
                    on_change=Callback::new(move |on| draft.update(|d| d.network = on)) />
                <label class="check">
                    <input type="checkbox" name="active" prop:checked=move || draft.with(|d| d.is_active) disabled=!can_edit
                        on:change=move |ev| { let on = event_target_checked(&ev); draft.update(|d| d.is_active = on) } />
                    " Active: may run and its schedules fire"
                </label>
            </div>
            <section class="card code-card">
                <div class="code-toolbar">
                    <h2>"Code"</h2>
                    <CheckState problems />
                    {can_edit.then(|| view! {
                        <button type="button" class="button small" on:click=move |_| { format.dispatch(Source { content: content.get_untracked() }); } disabled=move || formatting.get()
                            title="Format with ruff">
                            {move || if formatting.get() { "Formatting…" } else { "Format" }}
                        </button>
                    })}
                </div>
                <CodeEditor value=content label="Python source" read_only=!can_edit
                    on_change=Callback::new(move |text| draft.update(|d| d.content = text))
                    problems=Signal::derive(move || problems.get().unwrap_or_default()) />
                <Show when=move || code_error.get().is_some()>
                    <p class="field-error code-error" role="alert">{move || code_error.get()}</p>
                </Show>
            </section>
        </form>
        <RunFormPreview content />
        {match id {
            Some(id) => view! {
                <DependencyPanel script_id=id can_edit content
                    set_content=Callback::new(move |text| draft.update(|d| d.content = text)) />
            }.into_any(),
            None => view! {
                <section class="card deps"><div class="section-header"><h2>"Dependencies"</h2></div>
                    <p class="muted empty-runs">"Save the script first; then add the PyPI packages it needs."</p></section>
            }.into_any(),
        }}
        {match id {
            Some(id) => view! { <EnvPanel owner=Owner::Script(id) /> }.into_any(),
            None => view! {
                <section class="card env-panel"><div class="section-header"><h2>"Variables & secrets"</h2></div>
                    <p class="muted empty-runs">"Save the script first; then give it the settings, passwords and keys it reads from its environment."</p></section>
            }.into_any(),
        }}
        {id.map(|id| view! { <RunHistory script_id=id /> })}
    }
}

/// The script's network access: a switch saved with the other fields. Off, its runs reach no
/// network at all (SPEC "Isolation"), which the hint says plainly.
#[component]
fn NetworkField(network: Signal<bool>, can_edit: bool, on_change: Callback<bool>) -> impl IntoView {
    view! {
        <div class="field">
            <span class="field-label" id="network-label">"Network access"</span>
            <div class="switch-row">
                <span class="switch" title=if can_edit { "" } else { "Only editors change this" }>
                    <input type="checkbox" role="switch" name="network" aria-labelledby="network-label" aria-describedby="network-hint"
                        prop:checked=move || network.get() disabled=!can_edit
                        on:change=move |ev| on_change.run(event_target_checked(&ev)) />
                    <span class="slider"></span>
                </span>
                <span class="switch-state" class:off=move || !network.get()>{move || if network.get() { "On" } else { "Off" }}</span>
            </div>
            <span class="field-hint" id="network-hint">"Off: the run has no network at all"</span>
        </div>
    }
}

/// What the server's Python says of the source, asked a moment after typing stops. `None`
/// until the first answer.
fn use_syntax_check(content: Memo<String>) -> RwSignal<Option<Vec<Problem>>> {
    let problems = RwSignal::new(None);
    use_debounced(
        move || Some(Source { content: content.get() }),
        std::time::Duration::from_millis(400),
        |source| api::code::check(&source),
        // A failed check (offline, too large) says nothing about the code.
        move |report| {
            if let Ok(report) = report {
                problems.set(Some(report.problems));
            }
        },
    );
    problems
}

/// The form a run of the code on screen will show, read by the server (without running it) a
/// moment after typing stops. The last answer stays while the next is asked.
#[component]
fn RunFormPreview(content: Memo<String>) -> impl IntoView {
    let answer = RwSignal::new(None::<Result<InputsReport, Failure>>);
    let reading = RwSignal::new(true);
    use_debounced(
        move || {
            let source = Source { content: content.get() };
            reading.set(true);
            Some(source)
        },
        std::time::Duration::from_millis(500),
        |source| api::code::inputs(&source),
        move |report| {
            reading.set(false);
            answer.set(Some(report));
        },
    );
    // Drawn again only when the answer differs, so an unchanged form does not blink.
    let report = Memo::new(move |_| answer.get());
    let summary = move || match report.get() {
        None => "reading…".to_string(),
        Some(Err(_)) => "cannot be read now".to_string(),
        Some(Ok(report)) => match (report.inputs.len(), report.style.as_str()) {
            (0, _) => "no inputs".to_string(),
            (1, style) => format!("1 input · {style}"),
            (n, style) => format!("{n} inputs · {style}"),
        },
    };
    view! {
        <section class="card inputs-preview" aria-label="Run form" class:stale=move || reading.get() && report.with(Option::is_some)>
            <details open>
                <summary>
                    <h2>"Run form"</h2>
                    <span class="muted small" aria-live="polite">{summary}</span>
                    <span class="muted small preview-lead">"What the execute page will ask for, read from the code (argparse or main())"</span>
                </summary>
                {move || match report.get() {
                    None => view! { <p class="muted small preview-body">"Reading the inputs from the code…"</p> }.into_any(),
                    Some(Err(failure)) => view! { <p class="muted small preview-body">{format!("The inputs cannot be read now: {}", failure.message)}</p> }.into_any(),
                    Some(Ok(report)) => {
                        let form = FormValues::new(&report, None);
                        view! { <div class="preview-body"><InputsForm report form read_only=true /></div> }.into_any()
                    }
                }}
            </details>
        </section>
    }
}

/// The first syntax problem in words, or that there is none.
#[component]
fn CheckState(problems: RwSignal<Option<Vec<Problem>>>) -> impl IntoView {
    move || match problems.get() {
        None => view! { <span class="check-state muted">"Checking…"</span> }.into_any(),
        Some(found) => match found.iter().find(|p| p.severity == Severity::Error).or(found.first()) {
            None => view! { <span class="check-state ok">"✓ No syntax errors"</span> }.into_any(),
            Some(problem) => {
                let class = match problem.severity {
                    Severity::Error => "check-state error",
                    Severity::Warning => "check-state warning",
                };
                let more = if found.len() > 1 { format!(" (+{} more)", found.len() - 1) } else { String::new() };
                view! {
                    <span class=class role="status">
                        {format!("Line {}, column {}: {}{more}", problem.line, problem.column, problem.message)}
                    </span>
                }
                .into_any()
            }
        },
    }
}

/// The script's latest runs, newest first.
#[component]
fn RunHistory(script_id: i64) -> impl IntoView {
    let runs = Resource::new(
        move || script_id,
        |id| api::executions::list(&api::executions::Filter { script_id: Some(id), per_page: Some(10), ..Default::default() }),
    );
    view! {
        <section class="card run-history" aria-labelledby="runs-title">
            <div class="section-header">
                <h2 id="runs-title">"Run history"</h2>
            </div>
            <Loaded data=runs loading="Loading runs…" show={move |page: ExecutionPage| {
                if page.items.is_empty() {
                    return view! {
                        <p class="muted empty-runs">"No runs yet. Each run of this script, by hand or on a schedule, will be listed here with its status and log."</p>
                    }.into_any();
                }
                let more = (page.total > page.items.len() as u64).then(|| view! {
                    <a class="more" href=format!("/executions?script_id={script_id}")>{format!("All {} runs →", page.total)}</a>
                });
                view! {
                    <RunsTable runs=page.items script=ScriptColumn::Hidden />
                    {more}
                }.into_any()
            }} />
        </section>
    }
}
