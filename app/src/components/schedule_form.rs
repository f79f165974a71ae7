//! `ScheduleForm`: a new schedule, or changes to one. The cron expression is checked by the
//! server a moment after typing stops, and the answer shows beside it: the expression in words
//! and its next fire times in the chosen zone, a daylight-saving shift marked where it moves or
//! repeats a time; a refusal shows under the field it is about. Presets fill the expression.
//! A script that takes inputs gets their form too: the values each fire gives the run, checked
//! here as the server will check them.

use leptos::prelude::*;
use serde_json::{Map, Value};

use crate::api::{self, Failure};
use crate::components::inputs_form::{refused_input, FormValues, InputsForm, MASK};
use crate::components::layout::ErrorBox;
use crate::components::runs::now;
use crate::components::zone_picker::ZonePicker;
use crate::components::zoned_time::{browser_zone, local_text, offset_text, relative_text};
use crate::hooks::{use_debounced, Change, ChangeState};
use crate::model::schedule::PREVIEW_COUNT_DEFAULT;
use crate::model::{CatchUp, CronDescription, InputsReport, NewSchedule, OverlapPolicy, Schedule, ScheduleUpdate};

/// Common schedules, one click away: (label, expression).
pub const PRESETS: [(&str, &str); 5] = [
    ("Every 15 minutes", "*/15 * * * *"),
    ("Hourly", "@hourly"),
    ("Daily at 09:00", "0 9 * * *"),
    ("Weekdays at 09:30", "30 9 * * 1-5"),
    ("Weekly on Monday", "0 9 * * MON"),
];

/// How long typing must pause before the server is asked about the expression.
const CHECK_DELAY: std::time::Duration = std::time::Duration::from_millis(250);

/// The server's verdict on what is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Preview {
    /// Nothing typed yet.
    Empty,
    Described(CronDescription),
    Refused(Failure),
}

/// What a save asks for: the schedule as it was (none for a new one) and the form's values.
#[derive(Debug, Clone)]
struct Asked {
    before: Option<Schedule>,
    expression: String,
    timezone: String,
    active: bool,
    /// The inputs to store; `None` keeps those stored.
    inputs: Option<Map<String, Value>>,
    overlap: OverlapPolicy,
    catch_up: CatchUp,
}

/// The overlap policies as the form offers them, the default first.
const OVERLAP_CHOICES: [(OverlapPolicy, &str); 4] = [
    (OverlapPolicy::Skip, "Skip this time"),
    (OverlapPolicy::Queue, "Queue one run after it"),
    (OverlapPolicy::CancelPrevious, "Stop it and start anew"),
    (OverlapPolicy::Allow, "Start another beside it"),
];

const CATCH_UP_CHOICES: [(CatchUp, &str); 3] =
    [(CatchUp::None, "Pass them over"), (CatchUp::Last, "Run once for them all"), (CatchUp::All, "Run once for each (at most 100)")];

/// A schedule's inputs in its form: the values typed, what they started as, and the stored
/// secrets, which the server never shows back.
#[derive(Clone, Copy)]
struct ScheduleInputs {
    report: StoredValue<InputsReport>,
    form: FormValues,
    /// The values the form started with: unchanged, a save leaves the stored inputs (and their
    /// secrets) as they are.
    start: StoredValue<Map<String, Value>>,
    /// The stored secrets (shown as `***`): left empty, each is sent as `***`, which the server
    /// reads as "keep the stored value".
    hidden: StoredValue<Vec<String>>,
    new: bool,
    /// The stored ones no longer fit the script: the form's, cleaned of what it no longer
    /// takes, are worth saving even untouched.
    stale: bool,
}

impl ScheduleInputs {
    fn new(report: InputsReport, schedule: Option<&Schedule>) -> Self {
        let past = schedule.map(|s| &s.inputs);
        let form = FormValues::keeping_secrets(&report, past);
        let hidden = past
            .map(|past| {
                report.secret_names().filter(|name| past.get(*name).and_then(Value::as_str) == Some(MASK)).map(str::to_owned).collect()
            })
            .unwrap_or_default();
        Self {
            report: StoredValue::new(report),
            start: StoredValue::new(form.values.get_untracked()),
            form,
            hidden: StoredValue::new(hidden),
            new: schedule.is_none(),
            stale: schedule.is_some_and(|s| s.inputs_problem.is_some()),
        }
    }

    /// Whether an edit changed them (tracked).
    fn changed(self) -> bool {
        !self.new && (self.stale || self.start.with_value(|start| self.form.values.with(|values| values != start)))
    }

    /// What a save sends: nothing for an edit that left them alone; else all of them, checked
    /// as the server checks them (a refusal names the input, as the server's does).
    fn to_send(self) -> Result<Option<Map<String, Value>>, Failure> {
        if !self.new && !untrack(|| self.changed()) {
            return Ok(None);
        }
        let refused = |input: &str, message: String| Failure { status: 422, message, field: Some(format!("inputs.{input}")) };
        let values = self.report.with_value(|report| self.hidden.with_value(|hidden| self.form.checked_keeping(report, hidden)));
        values.map(Some).map_err(|err| refused(&err.input, err.to_string()))
    }
}

#[component]
pub fn ScheduleForm(
    script_id: i64,
    /// The schedule to change; `None` makes a new one.
    editing: Option<Schedule>,
    /// Every zone the server knows; `None` while they load.
    #[prop(into)]
    zones: Signal<Option<Result<Vec<String>, Failure>>>,
    /// What the script's saved code takes; `None` if it could not be read.
    inputs: Option<InputsReport>,
    on_saved: Callback<Schedule>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let key = editing.as_ref().map(|s| s.id.to_string()).unwrap_or_else(|| "new".into());
    // None when the script's inputs could not be read: the schedule keeps what it has.
    let inputs = inputs.map(|report| ScheduleInputs::new(report, editing.as_ref()));
    let original = StoredValue::new(editing);
    let is_new = original.with_value(Option::is_none);
    let expr = RwSignal::new(original.with_value(|s| s.as_ref().map(|s| s.cron_expression.clone()).unwrap_or_default()));
    let zone = RwSignal::new(original.with_value(|s| s.as_ref().map(|s| s.timezone.clone()).unwrap_or_else(|| "UTC".into())));
    let active = RwSignal::new(true);
    let overlap = RwSignal::new(original.with_value(|s| s.as_ref().map_or(OverlapPolicy::Skip, |s| s.overlap)));
    let catch_up = RwSignal::new(original.with_value(|s| s.as_ref().map_or(CatchUp::None, |s| s.catch_up)));
    let preview = RwSignal::new(Preview::Empty);
    // The inputs' refusal found here, before asking the server.
    let inputs_refused = RwSignal::new(None::<Failure>);
    let checking = RwSignal::new(false);
    let save: Change<Asked, Schedule> = Action::new(move |asked: &Asked| {
        let Asked { before, expression, timezone, active, inputs, overlap, catch_up } = asked.clone();
        async move {
            if expression.is_empty() {
                let message = "Type a cron expression, or pick one of the presets below.".into();
                return Err(Failure { status: 422, message, field: Some("cron_expression".into()) });
            }
            match before {
                None => {
                    api::schedules::create(
                        script_id,
                        &NewSchedule {
                            cron_expression: expression,
                            timezone: Some(timezone),
                            is_active: active,
                            inputs: inputs.unwrap_or_default(),
                            overlap,
                            catch_up,
                        },
                    )
                    .await
                }
                Some(before) => {
                    let change = ScheduleUpdate {
                        cron_expression: (expression != before.cron_expression).then_some(expression),
                        timezone: (timezone != before.timezone).then_some(timezone),
                        is_active: None,
                        inputs,
                        overlap: (overlap != before.overlap).then_some(overlap),
                        catch_up: (catch_up != before.catch_up).then_some(catch_up),
                    };
                    api::schedules::update(script_id, before.id, &change).await
                }
            }
        }
    });
    save.on_success(move |saved| on_saved.run(saved));
    let failure = save.failure();
    let pending = save.pending();

    // A new schedule starts in the browser's zone when the server knows it (the server renders
    // UTC: it cannot know the visitor's zone). The list arrives once, before any zone can be
    // picked from it, so this never overrides the user's choice.
    Effect::new(move |_| {
        let Some(Ok(known)) = zones.get() else { return };
        if let Some(mine) = browser_zone().filter(|mine| is_new && known.contains(mine)) {
            zone.set(mine);
        }
    });

    use_debounced(
        move || {
            let wanted = (expr.get().trim().to_string(), zone.get());
            let empty = wanted.0.is_empty();
            checking.set(!empty);
            if empty {
                preview.set(Preview::Empty);
            }
            (!empty).then_some(wanted)
        },
        CHECK_DELAY,
        |(expr, zone)| api::schedules::describe(&expr, &zone, PREVIEW_COUNT_DEFAULT),
        move |answer| {
            checking.set(false);
            preview.set(match answer {
                Ok(description) => Preview::Described(description),
                Err(refusal) => Preview::Refused(refusal),
            });
        },
    );

    // A refusal of the save names the stored field; the preview's names the query parameter.
    let refusal = move |saved_as: &'static str, asked_as: &'static str| {
        Signal::derive(move || {
            failure.get().and_then(|f| f.for_field(saved_as)).or_else(|| match preview.get() {
                Preview::Refused(refusal) => refusal.for_field(asked_as),
                _ => None,
            })
        })
    };
    let expr_error = refusal("cron_expression", "expr");
    let inputs_refusal = Signal::derive(move || {
        inputs_refused.get().or_else(|| failure.get().filter(|f| f.field.as_deref().is_some_and(|f| f.starts_with("inputs."))))
    });
    let zone_error = refusal("timezone", "tz");
    let changed = Memo::new(move |_| {
        original.with_value(|s| match s {
            None => true,
            Some(s) => {
                expr.with(|e| e.trim() != s.cron_expression)
                    || zone.with(|z| *z != s.timezone)
                    || overlap.get() != s.overlap
                    || catch_up.get() != s.catch_up
                    || inputs.is_some_and(ScheduleInputs::changed)
            }
        })
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() || !changed.get_untracked() {
            return;
        }
        let inputs = match inputs.map(ScheduleInputs::to_send).transpose() {
            Ok(inputs) => inputs.flatten(),
            Err(refused) => {
                inputs_refused.set(Some(refused));
                return;
            }
        };
        inputs_refused.set(None);
        save.dispatch(Asked {
            before: original.get_value(),
            expression: expr.get_untracked().trim().to_string(),
            timezone: zone.get_untracked(),
            active: active.get_untracked(),
            inputs,
            overlap: overlap.get_untracked(),
            catch_up: catch_up.get_untracked(),
        });
    };

    let expr_id = format!("cron-{key}");
    let zone_id = format!("zone-{key}");
    let hint_id = format!("cron-hint-{key}");
    let overlap_id = format!("overlap-{key}");
    let catch_up_id = format!("catch-up-{key}");
    view! {
        <form class="schedule-form" on:submit=submit novalidate>
            <div class="schedule-fields">
                <div class="field">
                    <label class="field-label" for=expr_id.clone()>"Cron expression"</label>
                    <input type="text" id=expr_id class="mono cron-input" autocomplete="off" spellcheck="false"
                        placeholder="*/15 * * * *" aria-describedby=hint_id.clone()
                        aria-invalid=move || expr_error.get().is_some().to_string()
                        class:invalid=move || expr_error.get().is_some()
                        prop:value=move || expr.get()
                        on:input=move |ev| { expr.set(event_target_value(&ev)); save.clear(); } />
                    {move || expr_error.get().map(|message| view! { <span class="field-error" role="alert">{message}</span> })}
                    <p class="cron-legend muted small" id=hint_id>
                        <span>"minute"</span><span>"hour"</span><span>"day of month"</span><span>"month"</span><span>"day of week"</span>
                    </p>
                    <div class="presets" role="group" aria-label="Presets">
                        {PRESETS.iter().map(|(label, preset)| view! {
                            <button type="button" class="chip" title=*preset
                                class:active=move || expr.with(|e| e.trim() == *preset)
                                on:click=move |_| { expr.set(preset.to_string()); save.clear(); }>
                                {*label}
                            </button>
                        }).collect_view()}
                    </div>
                </div>
                <div class="field">
                    <label class="field-label" for=zone_id.clone()>"Time zone"</label>
                    <ZonePicker value=zone zones id=zone_id error=zone_error />
                </div>
                {is_new.then(|| view! {
                    <label class="check">
                        <input type="checkbox" name="active" prop:checked=move || active.get()
                            on:change=move |ev| active.set(event_target_checked(&ev)) />
                        " Active: fires at these times"
                    </label>
                })}
            </div>
            <CronPreview preview checking />
            <div class="schedule-fields schedule-policies">
                <div class="field">
                    <label class="field-label" for=overlap_id.clone()>"If its last run is still going"</label>
                    <select id=overlap_id on:change=move |ev| {
                        if let Ok(chosen) = event_target_value(&ev).parse() { overlap.set(chosen); save.clear(); }
                    }>
                        {OVERLAP_CHOICES.iter().map(|(policy, label)| view! {
                            <option value=policy.as_str() selected=move || overlap.get() == *policy>{*label}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label class="field-label" for=catch_up_id.clone()>"Times missed while the server was down"</label>
                    <select id=catch_up_id on:change=move |ev| {
                        if let Ok(chosen) = event_target_value(&ev).parse() { catch_up.set(chosen); save.clear(); }
                    }>
                        {CATCH_UP_CHOICES.iter().map(|(policy, label)| view! {
                            <option value=policy.as_str() selected=move || catch_up.get() == *policy>{*label}</option>
                        }).collect_view()}
                    </select>
                </div>
            </div>
            {inputs.map(|inputs| view! { <InputsFields inputs refused=inputs_refusal id_prefix=format!("schedule-{key}-input") /> })}
            <ErrorBox error=Signal::derive(move || {
                failure.get().filter(|f| !f.field.as_deref().is_some_and(|f| matches!(f, "cron_expression" | "timezone") || f.starts_with("inputs."))).map(|f| f.message)
            }) />
            <div class="form-actions">
                <button type="submit" class="button primary" disabled=move || pending.get() || !changed.get()
                    title=move || (!changed.get()).then_some("Nothing changed yet")>
                    {move || match (pending.get(), is_new) {
                        (true, _) => "Saving…",
                        (false, true) => "Create schedule",
                        (false, false) => "Save changes",
                    }}
                </button>
                <button type="button" class="button ghost" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
    .into_any()
}

/// What the server made of the expression: in words, and when it fires next.
#[component]
fn CronPreview(preview: RwSignal<Preview>, checking: RwSignal<bool>) -> impl IntoView {
    view! {
        <section class="cron-preview" class:stale=move || checking.get() aria-label="Preview" aria-live="polite">
            {move || match preview.get() {
                Preview::Empty => view! {
                    <p class="muted">"Type an expression or pick a preset: its meaning and next runs show here."</p>
                }.into_any(),
                Preview::Refused(refusal) if matches!(refusal.field.as_deref(), Some("expr" | "tz")) => view! {
                    <p class="muted">{if refusal.field.as_deref() == Some("tz") { "Choose a time zone from the list to see the next runs." } else { "Fix the expression to see when it runs." }}</p>
                }.into_any(),
                Preview::Refused(refusal) => view! {
                    <p class="field-error" role="alert">{format!("The expression could not be checked: {}", refusal.message)}</p>
                }.into_any(),
                Preview::Described(description) => view! { <FireTimes description /> }.into_any(),
            }}
            <Show when=move || checking.get()>
                <span class="checking muted small"><span class="spinner" aria-hidden="true"></span>"Checking…"</span>
            </Show>
        </section>
    }
}

#[component]
fn FireTimes(description: CronDescription) -> impl IntoView {
    let now = now();
    let heading = format!("Next {} runs · {}", description.next.len(), description.timezone.replace('_', " "));
    view! {
        <p class="cron-description">{description.description.clone()}</p>
        <h3 class="field-label">{heading}</h3>
        {if description.next.is_empty() {
            view! { <p class="muted">"It never fires: no date matches it."</p> }.into_any()
        } else {
            view! {
                <ol class="fire-times">
                    {description.next.into_iter().map(|fire| {
                        let note = fire.dst.map(|shift| shift.note());
                        view! {
                            <li class:dst=note.is_some()>
                                <time class="fire-local" datetime=fire.at.to_rfc3339() title=fire.at.format("%Y-%m-%d %H:%M UTC").to_string()>
                                    {local_text(fire.local, now)}
                                </time>
                                <span class="fire-offset muted small">{offset_text(*fire.local.offset())}</span>
                                <span class="fire-relative muted small">{relative_text(fire.at, now)}</span>
                                {note.map(|note| view! {
                                    <span class="badge dst" title=note>"DST"</span>
                                    <span class="dst-note small">{note}</span>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ol>
            }.into_any()
        }}
    }
}

/// The inputs each fire gives the run, when the script takes any.
#[component]
fn InputsFields(inputs: ScheduleInputs, #[prop(into)] refused: Signal<Option<Failure>>, id_prefix: String) -> impl IntoView {
    let report = inputs.report.get_value();
    if report.inputs.is_empty() {
        return ().into_any();
    }
    let hidden_note = inputs.hidden.with_value(|hidden| {
        (!hidden.is_empty()).then(|| {
            let names = hidden.join(", ");
            format!("Stored secrets ({names}) are kept unless you type new values.")
        })
    });
    // A refusal naming no input of the form (the script changed since): said under it.
    let elsewhere =
        Signal::derive(move || refused.get().filter(|f| inputs.report.with_value(|r| refused_input(f, r).is_none())).map(|f| f.message));
    view! {
        <fieldset class="schedule-inputs-form">
            <legend class="field-label">"Inputs each run gets"</legend>
            <p class="muted small">"Checked against the script's code now, and again at every run."</p>
            {hidden_note.map(|note| view! { <p class="small secret-note">{note}</p> })}
            <InputsForm report form=inputs.form refused id_prefix />
            {move || elsewhere.get().map(|message| view! { <span class="field-error" role="alert">{message}</span> })}
        </fieldset>
    }
    .into_any()
}
