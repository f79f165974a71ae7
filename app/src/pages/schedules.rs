//! `/scripts/:id/schedules`: when a script runs by itself. Each schedule with its expression in
//! words, its zone, its next run (in that zone, and how soon) and the last run it started; a
//! switch pauses or resumes it at once. Editors add one (the form checks the expression as it
//! is typed and shows the next fire times), change one in place, and delete one after
//! confirming; viewers see the same list without the controls. A schedule gives its runs the
//! inputs stored with it; when an edit of the script makes them no longer fit, its row says so
//! (its fires fail until it is edited). Below, the script's webhooks (`HooksPanel`).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

use crate::api::{self, Failure};
use crate::components::confirm_dialog::ConfirmDialog;
use crate::components::hooks_panel::HooksPanel;
use crate::components::layout::ErrorBox;
use crate::components::loaded::{Addressed, Subject};
use crate::components::schedule_form::ScheduleForm;
use crate::components::status_badge::StatusBadge;
use crate::components::zoned_time::{relative_text, use_ticking_clock, ZonedTime};
use crate::hooks::{Change, ChangeState};
use crate::model::{CatchUp, InputsReport, OverlapPolicy, Schedule, ScheduleUpdate, Script};
use crate::session::use_current_user;

/// How often relative times ("in 3 min") move on, and due schedules are read again.
const TICK: std::time::Duration = std::time::Duration::from_secs(15);
/// How long after a due time the list is read again: the run needs a moment to be queued.
const FIRE_GRACE_SECONDS: i64 = 5;

#[component]
pub fn ScriptSchedulesPage() -> impl IntoView {
    view! {
        <Addressed subject=Subject::Script loading="Loading the schedules…" fetch={|id| api::scripts::with(id, api::schedules::list(id))}
            show={|(script, list)| view! { <Schedules script list /> }} />
    }
}

/// What the page's parts share.
#[derive(Clone, Copy)]
struct Page {
    script_id: i64,
    can_edit: bool,
    list: RwSignal<Vec<Schedule>>,
    /// The schedule whose form is open in its row.
    editing: RwSignal<Option<i64>>,
    /// The schedule the delete dialog asks about.
    deleting: RwSignal<Option<Schedule>>,
    /// Pauses or resumes a schedule: (id, active, its expression to name it by if refused). The
    /// forms and the delete dialog have their own.
    toggle: Change<(i64, bool, String), Schedule>,
    /// The schedule just made or changed, marked for a moment.
    fresh: RwSignal<Option<i64>>,
    clock: RwSignal<DateTime<Utc>>,
    zones: Signal<Option<Result<Vec<String>, Failure>>>,
    /// What the script's saved code takes: the forms' inputs; `None` if it could not be read.
    inputs: StoredValue<Option<InputsReport>>,
}

impl Page {
    fn replace(self, saved: Schedule) {
        self.list.update(|list| match list.iter_mut().find(|s| s.id == saved.id) {
            Some(slot) => *slot = saved,
            None => list.push(saved),
        });
    }

    fn reload(self) {
        spawn_local(async move {
            if let Ok(fresh) = api::schedules::list(self.script_id).await {
                self.list.try_set(fresh);
            }
        });
    }
}

#[component]
fn Schedules(script: Script, list: Vec<Schedule>) -> impl IntoView {
    let can_edit = use_current_user().can_edit();
    let script_id = script.id;
    // Only editors need the zones (for the form); viewers are spared the download. Browser only:
    // the list is long and the form opens after the page does.
    let zones = if can_edit {
        let zones = LocalResource::new(api::schedules::timezones);
        Signal::derive(move || zones.get())
    } else {
        Signal::stored(None)
    };
    let toggle: Change<(i64, bool, String), Schedule> = Action::new(move |(id, on, expression): &(i64, bool, String)| {
        let (on, expression) = (*on, expression.clone());
        let asked = api::schedules::update(script_id, *id, &ScheduleUpdate { is_active: Some(on), ..Default::default() });
        async move {
            asked.await.map_err(|refused| {
                let verb = if on { "resumed" } else { "paused" };
                Failure { message: format!("“{expression}” could not be {verb}: {}", refused.message), ..refused }
            })
        }
    });
    let page = Page {
        script_id,
        can_edit,
        // An empty list opens the form at once: adding one is the only thing to do here.
        editing: RwSignal::new(None),
        deleting: RwSignal::new(None),
        toggle,
        fresh: RwSignal::new(None),
        clock: use_ticking_clock(TICK),
        zones,
        list: RwSignal::new(list),
        inputs: StoredValue::new(script.inputs.clone()),
    };
    let creating = RwSignal::new(can_edit && page.list.with_untracked(Vec::is_empty));
    toggle.on_success(move |saved| page.replace(saved));

    // A due time passed: the schedule fired, so its next and last runs changed. (An inactive
    // script's schedules never fire: nothing to wait for.)
    let fires = script.is_active;
    Effect::new(move |_| {
        let now = page.clock.get();
        if !fires {
            return;
        }
        let due = page.list.with_untracked(|list| {
            list.iter().any(|s| s.is_active && s.next_run_at.is_some_and(|at| (now - at).num_seconds() >= FIRE_GRACE_SECONDS))
        });
        if due {
            page.reload();
        }
    });

    // Only a change between none and some swaps the table for the empty state: a row's change
    // must not rebuild the table (the switch just clicked would lose focus).
    let empty = Memo::new(move |_| page.list.with(Vec::is_empty));
    let created = Callback::new(move |saved: Schedule| {
        page.fresh.set(Some(saved.id));
        page.replace(saved);
        creating.set(false);
    });

    view! {
        <Title text=format!("Schedules and webhooks · {}", script.name) />
        <div class="page-header">
            <div>
                <a class="back" href=format!("/scripts/{script_id}")>{format!("← {}", script.name)}</a>
                <h1>"Schedules"</h1>
                <p class="subtitle">
                    "When "<a class="strong" href=format!("/scripts/{script_id}")>{script.name.clone()}</a>
                    " runs by itself, each schedule in its own time zone, and the URLs that start it from elsewhere."
                </p>
            </div>
            <div class="header-actions">
                <a class="button ghost" href=format!("/scripts/{script_id}/execute")>"▶ Runner"</a>
                <a class="button ghost" href=format!("/executions?script_id={script_id}")>"All runs"</a>
                {can_edit.then(|| view! {
                    <Show when=move || !creating.get()>
                        <button type="button" class="button primary" on:click=move |_| creating.set(true)>"New schedule"</button>
                    </Show>
                })}
            </div>
        </div>
        {(!script.is_active).then(|| view! {
            <div class="alert">
                "This script is inactive, so none of its schedules fires. Activate it on "
                <a href=format!("/scripts/{script_id}")>"its page"</a>" to let them run."
            </div>
        })}
        {move || empty.get().then(|| view! { <EmptyState page creating /> })}
        <Show when=move || creating.get()>
            <section class="card schedule-card" aria-labelledby="new-schedule-title">
                <div class="section-header"><h2 id="new-schedule-title">"New schedule"</h2></div>
                <ScheduleForm script_id editing=None zones=page.zones inputs=page.inputs.get_value() on_saved=created
                    on_cancel=Callback::new(move |_| creating.set(false)) />
            </section>
        </Show>
        <ErrorBox error=page.toggle.error() />
        {move || (!empty.get()).then(|| view! { <ScheduleTable page /> })}
        {move || page.deleting.get().map(|schedule| view! { <DeleteDialog schedule page /> })}
        <HooksPanel script_id inputs=script.inputs.clone() />
    }
    .into_any()
}

/// No schedule yet: what that means and what to do. While the form is open below it, a line.
#[component]
fn EmptyState(page: Page, creating: RwSignal<bool>) -> impl IntoView {
    let icon = || view! { <div class="empty-icon" aria-hidden="true">"*/5"</div> };
    move || {
        if creating.get() {
            return view! {
                <section class="empty-state compact">
                    {icon()}
                    <div>
                        <h2>"No schedules yet"</h2>
                        <p>"Give the script its first one below: it then runs by itself at the times shown."</p>
                    </div>
                </section>
            }
            .into_any();
        }
        let what_to_do = if page.can_edit {
            "This script runs only when someone starts it. Add a schedule to run it by itself: every 15 minutes, each weekday at 09:30, or whenever a cron expression says."
        } else {
            "This script runs only when someone starts it. An editor can add a schedule to run it by itself."
        };
        view! {
            <section class="empty-state">
                {icon()}
                <h2>"No schedules yet"</h2>
                <p>{what_to_do}</p>
                {page.can_edit.then(|| view! {
                    <button type="button" class="button primary" on:click=move |_| creating.set(true)>"Add a schedule"</button>
                })}
            </section>
        }
        .into_any()
    }
}

#[component]
fn ScheduleTable(page: Page) -> impl IntoView {
    view! {
        <div class="card table-card">
            <table class="table schedules">
                <thead><tr>
                    <th>"Schedule"</th><th>"Time zone"</th><th>"Next run"</th><th>"Last run"</th><th>"Active"</th><th class="actions"></th>
                </tr></thead>
                <tbody>
                    <For each=move || page.list.get() key=|schedule| schedule.id let:schedule>
                        <ScheduleRow id=schedule.id page />
                    </For>
                </tbody>
            </table>
        </div>
    }
}

/// One schedule, kept current from the page's list (a toggle or an edit changes it in place, so
/// focus stays where it was).
#[component]
fn ScheduleRow(id: i64, page: Page) -> impl IntoView {
    let current = Memo::new(move |_| page.list.with(|list| list.iter().find(|s| s.id == id).cloned()));
    let field = move |read: fn(&Schedule) -> String| move || current.with(|s| s.as_ref().map(read).unwrap_or_default());
    let expression = field(|s| s.cron_expression.clone());
    let problem = move || current.with(|s| s.as_ref().and_then(|s| s.inputs_problem.clone()));
    let takes_inputs = page.inputs.with_value(|r| r.as_ref().is_some_and(|r| !r.inputs.is_empty()));
    let is_active = move || current.with(|s| s.as_ref().is_some_and(|s| s.is_active));
    let editing = move || page.editing.get() == Some(id);
    // What the switch shows while the server is asked; then the stored state again, so a
    // refusal puts the switch back by itself.
    let asked = move || page.toggle.input().with(|asked| asked.as_ref().filter(|(asked, ..)| *asked == id).map(|(_, on, _)| *on));
    let switching = move || asked().is_some();
    let toggle = move |on: bool| {
        page.toggle.dispatch((id, on, expression()));
    };
    let saved = Callback::new(move |saved: Schedule| {
        page.fresh.set(Some(saved.id));
        page.replace(saved);
        page.editing.set(None);
    });

    view! {
        <tr class:inactive=move || !is_active() class:fresh=move || page.fresh.get() == Some(id) class:editing=editing
            class:has-problem=move || problem().is_some()>
            <td class="schedule-cell">
                <code class="cron">{expression}</code>
                <div class="muted small">{field(|s| s.description.clone())}</div>
                {move || current.with(|s| s.as_ref().and_then(|s| inputs_view(&s.inputs, takes_inputs)))}
                <div class="muted small schedule-policies-line">{move || current.with(|s| s.as_ref().map(policies_text))}</div>
                <SkippedTimes script_id=page.script_id schedule_id=id />
            </td>
            <td class="zone-cell">{field(|s| s.timezone.replace('_', " "))}</td>
            <td>{move || next_run(current.get(), page.clock)}</td>
            <td>{move || last_run(current.get(), page.clock)}</td>
            <td>
                {if page.can_edit {
                    view! {
                        <label class="switch" title=move || if is_active() { "Active: fires at its times. Click to pause." } else { "Paused: never fires. Click to resume." }>
                            <input type="checkbox" role="switch" aria-label=move || format!("Schedule {} is active", expression())
                                prop:checked=move || asked().unwrap_or_else(is_active) disabled=switching
                                on:change=move |ev| toggle(event_target_checked(&ev)) />
                            <span class="slider"></span>
                        </label>
                    }.into_any()
                } else {
                    view! { {move || if is_active() { view! { <span class="pill ok">"active"</span> } } else { view! { <span class="pill">"paused"</span> } }} }.into_any()
                }}
            </td>
            <td class="actions">
                <a class="button small ghost" href=format!("/executions?schedule={id}") title="The runs this schedule started">"Past runs"</a>
                {page.can_edit.then(|| view! {
                    <button type="button" class="button small" aria-expanded=move || editing().to_string()
                        aria-label=move || format!("Edit schedule {}", expression())
                        on:click=move |_| page.editing.update(|open| *open = if *open == Some(id) { None } else { Some(id) })>
                        {move || if editing() { "Close" } else { "Edit" }}
                    </button>
                    <button type="button" class="button small danger" aria-label=move || format!("Delete schedule {}", expression())
                        on:click=move |_| page.deleting.set(current.get_untracked())>"Delete"</button>
                })}
            </td>
        </tr>
        {move || problem().map(|problem| view! {
            <tr class="problem-row">
                <td colspan="6">
                    <p class="inputs-problem">
                        <strong>"⚠ This schedule's inputs no longer fit the script: "</strong>{problem}
                        "; its runs will fail until you edit it"{page.can_edit.then_some(" (Edit, then save its inputs again)")}"."
                    </p>
                </td>
            </tr>
        })}
        <Show when=editing>
            <tr class="edit-row">
                <td colspan="6">
                    {move || current.get_untracked().map(|schedule| {
                        let label = format!("Edit schedule {}", schedule.cron_expression);
                        view! {
                            <div class="edit-panel" role="group" aria-label=label>
                                <ScheduleForm script_id=page.script_id editing=Some(schedule) zones=page.zones inputs=page.inputs.get_value()
                                    on_saved=saved
                                    on_cancel=Callback::new(move |_| page.editing.set(None)) />
                            </div>
                        }
                    })}
                </td>
            </tr>
        </Show>
    }
    // Erased: the row's type nests deep enough to pass the compiler's query depth in the table.
    .into_any()
}

/// What the schedule does when its runs collide and after a down time, in words.
fn policies_text(schedule: &Schedule) -> String {
    let overlap = match schedule.overlap {
        OverlapPolicy::Skip => "skips a time while its last run is still going",
        OverlapPolicy::Queue => "queues one run behind a run still going",
        OverlapPolicy::CancelPrevious => "stops a run still going to start anew",
        OverlapPolicy::Allow => "starts a run at every time, beside any still going",
    };
    let catch_up = match schedule.catch_up {
        CatchUp::None => "passes over times missed while down",
        CatchUp::Last => "runs once for times missed while down",
        CatchUp::All => "runs each time missed while down (at most 100)",
    };
    format!("It {overlap}; it {catch_up}.")
}

/// The times a schedule passed over, read when opened.
#[component]
fn SkippedTimes(script_id: i64, schedule_id: i64) -> impl IntoView {
    let open = RwSignal::new(false);
    let list = LocalResource::new(move || {
        let wanted = open.get();
        async move {
            if wanted {
                Some(api::schedules::skipped(script_id, schedule_id).await)
            } else {
                None
            }
        }
    });
    view! {
        // A click on the summary (or Enter on it) opens and closes the details: read then.
        <details class="skipped-times">
            <summary class="small" on:click=move |_| open.update(|open| *open = !*open)>"Skipped times"</summary>
            {move || match list.get().flatten() {
                None => view! { <p class="muted small">{move || if open.get() { "Loading…" } else { "" }}</p> }.into_any(),
                Some(Err(failure)) => view! { <p class="field-error" role="alert">{failure.message}</p> }.into_any(),
                Some(Ok(times)) if times.is_empty() => view! { <p class="muted small">"None: every time has started a run."</p> }.into_any(),
                Some(Ok(times)) => view! {
                    <ul class="small">
                        {times.into_iter().map(|time| view! {
                            <li><time datetime=time.due_at.to_rfc3339()>{time.due_at.format("%Y-%m-%d %H:%M UTC").to_string()}</time>": "{time.reason}</li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </details>
    }
}

/// The inputs a schedule gives its runs (secrets as the server shows them, `***`); none given,
/// the script's defaults, when it takes any.
fn inputs_view(inputs: &serde_json::Map<String, serde_json::Value>, takes_inputs: bool) -> Option<AnyView> {
    if inputs.is_empty() {
        return takes_inputs.then(|| view! { <div class="schedule-inputs muted small">"Inputs: the script's defaults"</div> }.into_any());
    }
    let items = inputs
        .iter()
        .map(|(name, value)| {
            let shown = match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            view! { <li><span class="input-name">{name.clone()}</span>"="<code>{shown}</code></li> }
        })
        .collect_view();
    Some(view! { <ul class="schedule-inputs" aria-label="Inputs">{items}</ul> }.into_any())
}

/// The next due time in the schedule's zone, or why there is none.
fn next_run(schedule: Option<Schedule>, clock: RwSignal<DateTime<Utc>>) -> AnyView {
    match schedule {
        Some(Schedule { is_active: false, .. }) => view! { <span class="muted">"paused"</span> }.into_any(),
        Some(Schedule { next_run_at: Some(at), timezone, .. }) => view! { <ZonedTime at zone=timezone now=clock /> }.into_any(),
        _ => view! { <span class="muted">"—"</span> }.into_any(),
    }
}

/// The newest run the schedule started, as a badge that opens it.
fn last_run(schedule: Option<Schedule>, clock: RwSignal<DateTime<Utc>>) -> AnyView {
    match schedule.and_then(|s| s.last_run) {
        Some(run) => view! {
            <a class="last-run" href=format!("/executions/{}", run.id) title=format!("Open run #{}", run.id)>
                <StatusBadge status=run.status />
                <time class="muted small" datetime=run.queued_at.to_rfc3339() title=run.queued_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()>
                    {move || relative_text(run.queued_at, clock.get())}
                </time>
            </a>
        }
        .into_any(),
        None => view! { <span class="muted">"not yet"</span> }.into_any(),
    }
}

#[component]
fn DeleteDialog(schedule: Schedule, page: Page) -> impl IntoView {
    let id = schedule.id;
    let delete: Change<(), ()> = Action::new(move |_: &()| api::schedules::delete(page.script_id, id));
    delete.on_success(move |()| {
        page.list.update(|list| list.retain(|s| s.id != id));
        if page.editing.get_untracked() == Some(id) {
            page.editing.set(None);
        }
        page.deleting.set(None);
    });
    // Once deleted, the dialog stays busy until it is gone.
    let busy = Signal::derive(move || delete.pending().get() || delete.value().with(|v| matches!(v, Some(Ok(_)))));
    view! {
        <ConfirmDialog title="Delete this schedule?".to_string() confirm_label="Delete schedule" busy_label="Deleting…"
            busy error=delete.error() on_confirm=Callback::new(move |_| { delete.dispatch(()); })
            on_cancel=Callback::new(move |_| page.deleting.set(None))>
            <p><code class="cron">{schedule.cron_expression.clone()}</code>" · "{schedule.timezone.clone()}</p>
            <p class="muted">{schedule.description.clone()}</p>
            <p>"It stops firing at once. Runs it already started stay in the run history. This cannot be undone."</p>
        </ConfirmDialog>
    }
}
