//! A script's run form, built from what its code takes (`InputsReport`): one control per input
//! fitting its kind, its default filled in, its help under it, and its error beside it in the
//! words the server would use: each value is checked here by the model's own `resolve`, as the
//! server checks it. What the code declares that the form could not take (its notices) shows
//! quietly under the form. Read-only, it is the editor's preview of the form a run will show.

use std::collections::BTreeSet;

use leptos::prelude::*;
use serde_json::{Map, Value};

use crate::api::Failure;
use crate::components::env_panel::LockIcon;
use crate::model::{InputError, InputKind, InputNotice, InputSpec, InputsReport};

pub use crate::model::inputs::MASK;

/// What a form holds, for the page that sends it: the values typed, and which errors show.
#[derive(Debug, Clone, Copy)]
pub struct FormValues {
    /// By input name; an input left out takes its default.
    pub values: RwSignal<Map<String, Value>>,
    /// Inputs changed by hand: their errors show as they are typed.
    touched: RwSignal<BTreeSet<String>>,
    /// Set once a run is asked for: every input's error shows, typed in or not.
    submitted: RwSignal<bool>,
    /// The secrets a past run had, which the server never gives back: typed again or empty.
    retype: StoredValue<BTreeSet<String>>,
    /// Those left empty keep the stored value (a schedule's), rather than being typed again.
    keeps_secrets: bool,
}

impl FormValues {
    /// A form starting from a past run's inputs (`past`, as the server shows them), else from
    /// each input's default.
    pub fn new(report: &InputsReport, past: Option<&Map<String, Value>>) -> Self {
        let (values, retype) = start_values(report, past);
        Self {
            values: RwSignal::new(values),
            touched: RwSignal::new(BTreeSet::new()),
            submitted: RwSignal::new(false),
            retype: StoredValue::new(retype),
            keeps_secrets: false,
        }
    }

    /// As `new`, for a form whose stored secrets are kept when left empty (a schedule's).
    pub fn keeping_secrets(report: &InputsReport, past: Option<&Map<String, Value>>) -> Self {
        Self { keeps_secrets: true, ..Self::new(report, past) }
    }

    /// The values to send, checked as the server will check them; refused, every input's error
    /// shows beside it.
    pub fn checked(&self, report: &InputsReport) -> Result<Map<String, Value>, InputError> {
        self.submitted.set(true);
        let values = self.values.get_untracked();
        report.resolve(&values).map(|_| values)
    }

    /// As `checked`, for a schedule's form: each of `kept` (its stored secrets) left empty is
    /// sent as `***`, which the server reads as "keep the stored value".
    pub fn checked_keeping(&self, report: &InputsReport, kept: &[String]) -> Result<Map<String, Value>, InputError> {
        self.submitted.set(true);
        let mut values = self.values.get_untracked();
        let keeping: Vec<&String> =
            kept.iter().filter(|name| values.get(*name).is_none_or(|value| value.is_null() || value.as_str() == Some(""))).collect();
        // What is typed is checked; a kept secret, whatever its kind, is the server's to check.
        let mut typed = report.clone();
        typed.inputs.retain(|spec| !keeping.contains(&&spec.name));
        for name in &keeping {
            values.remove(name.as_str());
        }
        typed.resolve(&values)?;
        for name in keeping {
            values.insert(name.clone(), Value::from(MASK));
        }
        Ok(values)
    }
}

/// What a form starts with: a past run's values, else each input's default; and the secrets
/// that past run had, shown as `***` by the server, which start empty to be typed again.
fn start_values(report: &InputsReport, past: Option<&Map<String, Value>>) -> (Map<String, Value>, BTreeSet<String>) {
    let mut values = Map::new();
    let mut retype = BTreeSet::new();
    for spec in &report.inputs {
        let value = match past.and_then(|past| past.get(&spec.name)) {
            Some(value) if spec.secret && value.as_str() == Some(MASK) => {
                retype.insert(spec.name.clone());
                None
            }
            Some(Value::Null) if !spec.nullable => None,
            Some(value) => Some(value.clone()),
            None => spec.default.clone().filter(|default| !default.is_null()),
        };
        // A checkbox always says something: unticked is false.
        let value = value.or_else(|| is_checkbox(spec).then_some(Value::Bool(false)));
        if let Some(value) = value {
            values.insert(spec.name.clone(), value);
        }
    }
    (values, retype)
}

/// The input a refusal of the server names (its `field` is `inputs.<name>`), if `report` has it.
pub fn refused_input<'a>(failure: &'a Failure, report: &InputsReport) -> Option<&'a str> {
    let name = failure.field.as_deref()?.strip_prefix("inputs.")?;
    report.inputs.iter().any(|spec| spec.name == name).then_some(name)
}

#[component]
pub fn InputsForm(
    report: InputsReport,
    form: FormValues,
    /// The server's refusal of the last run asked; shown at the input it names.
    #[prop(optional, into)]
    refused: Signal<Option<Failure>>,
    /// The editor's preview: the form as a run will show it, not to be filled.
    #[prop(optional)]
    read_only: bool,
    /// Starts each control's id: a page with several forms (the schedules page) gives each its own.
    #[prop(optional, into)]
    id_prefix: Option<String>,
) -> impl IntoView {
    let id_prefix = StoredValue::new(id_prefix.unwrap_or_else(|| "run-input".into()));
    // Inputs changed since the server's last refusal: its words there are out of date.
    let changed_since = RwSignal::new(BTreeSet::<String>::new());
    Effect::new(move |_| {
        refused.track();
        changed_since.set(BTreeSet::new());
    });
    let report = StoredValue::new(report);
    let notices = report.with_value(|r| r.notices.clone());
    let fields = report.with_value(|r| r.inputs.clone()).into_iter().map(move |spec| {
        let name = spec.name.clone();
        let server_says = Signal::derive(move || {
            let failure = refused.get()?;
            let named = report.with_value(|r| refused_input(&failure, r).map(str::to_owned))?;
            (named == name && !changed_since.with(|c| c.contains(&name))).then(|| rule_of(&failure.message))
        });
        let id = format!("{}-{}", id_prefix.get_value(), spec.name);
        view! { <InputRow spec id form server_says changed_since read_only /> }
    });
    let empty = report.with_value(|r| r.inputs.is_empty());
    view! {
        <fieldset class="inputs-form" class:preview=read_only disabled=read_only>
            {empty.then(|| view! { <p class="muted small no-inputs">"The script takes no inputs: each run is the same."</p> })}
            <div class="inputs-grid">{fields.collect_view()}</div>
            <Notices notices />
        </fieldset>
    }
}

/// What the code declares that the form could not take, with its line.
#[component]
fn Notices(notices: Vec<InputNotice>) -> impl IntoView {
    (!notices.is_empty()).then(|| {
        view! {
            <ul class="inputs-notices" aria-label="Not in the form">
                {notices.into_iter().map(|notice| view! { <li>{format!("Line {}: {}", notice.line, notice.message)}</li> }).collect_view()}
            </ul>
        }
    })
}

/// One input: its label (the name, marked if required or secret), its control, its help and
/// its error.
#[component]
fn InputRow(
    spec: InputSpec,
    /// The control's id; its label, hint and error ids are made from it.
    id: String,
    form: FormValues,
    server_says: Signal<Option<String>>,
    changed_since: RwSignal<BTreeSet<String>>,
    read_only: bool,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    let retype = form.retype.with_value(|r| r.contains(&spec.name));
    let (name, required, secret, checkbox) = (spec.name.clone(), spec.required && !spec.nullable, spec.secret, is_checkbox(&spec));
    let about = kind_text(&spec);
    let description = spec.description.clone();
    let spec = StoredValue::new(spec);
    let set = Callback::new(move |value: Option<Value>| {
        let name = spec.with_value(|s| s.name.clone());
        form.touched.update(|t| {
            t.insert(name.clone());
        });
        changed_since.update(|c| {
            c.insert(name.clone());
        });
        form.values.update(|v| match value {
            Some(value) => {
                v.insert(name, value);
            }
            None => {
                v.remove(&name);
            }
        });
    });
    let error = Memo::new(move |_| {
        if read_only {
            return None;
        }
        server_says.get().or_else(|| {
            let shown = form.submitted.get() || spec.with_value(|s| form.touched.with(|t| t.contains(&s.name)));
            shown.then(|| spec.with_value(|s| form.values.with(|v| check_one(s, v)))).flatten()
        })
    });
    let control = control(spec, form, &id, &hint_id, set, error);
    let label = view! {
        <span class="input-name">{name.clone()}</span>
        {required.then(|| view! { <span class="required-mark" aria-hidden="true" title="required">"*"</span> })}
        {secret.then(|| view! { <span class="pill secret"><LockIcon />"secret"</span> })}
    };
    view! {
        <div class="input-row" class:is-check=checkbox class:invalid=move || error.with(Option::is_some)>
            {if checkbox {
                view! { <label class="check" for=id.clone()>{control}{label}</label> }.into_any()
            } else {
                view! { <label class="field-label" id=format!("{id}-label") for=id.clone()>{label}</label>{control} }.into_any()
            }}
            <span class="input-about" id=hint_id>
                <span class="input-kind">{about}</span>
                {description.map(|text| view! { <span class="field-hint">{text}</span> })}
                {(retype && !read_only).then(|| view! {
                    <span class="field-hint retype">
                        {if form.keeps_secrets {
                            "A secret is never shown back: leave it empty to keep the stored one, or type a new one."
                        } else {
                            "A secret is never shown back: type it again."
                        }}
                    </span>
                })}
            </span>
            {move || error.get().map(|message| view! { <span class="field-error" role="alert">{message}</span> })}
        </div>
    }
}

/// The control that fits the input: a checkbox, a list of its choices (boxes to tick for a
/// list), a box of one value a line for a list, else an input of its kind.
fn control(
    spec: StoredValue<InputSpec>,
    form: FormValues,
    id: &str,
    hint_id: &str,
    set: Callback<Option<Value>>,
    error: Memo<Option<String>>,
) -> AnyView {
    let (kind, list, secret, nullable) = spec.with_value(|s| (s.kind, s.list, s.secret, s.nullable));
    let current = spec.with_value(|s| form.values.with_untracked(|v| v.get(&s.name).cloned()));
    let text = current.as_ref().map(|v| as_text(v, list)).unwrap_or_default();
    let placeholder = spec.with_value(placeholder);
    let invalid = move || error.with(Option::is_some);
    let (id, hint_id) = (id.to_owned(), hint_id.to_owned());
    if spec.with_value(is_checkbox) {
        let checked = current.and_then(|v| v.as_bool()).unwrap_or(false);
        return view! {
            <input type="checkbox" id=id aria-describedby=hint_id checked=checked
                on:change=move |ev| set.run(Some(Value::Bool(event_target_checked(&ev)))) />
        }
        .into_any();
    }
    let choices =
        spec.with_value(|s| s.choices.clone()).or_else(|| (kind == InputKind::Boolean && !list).then(|| vec![true.into(), false.into()]));
    match (choices, list) {
        (Some(choices), false) => {
            let empty_label = spec.with_value(|s| match (&s.default, s.nullable, s.required) {
                (_, true, _) => "— none —".to_owned(),
                (_, false, true) => "Choose…".to_owned(),
                (Some(default), false, false) if !default.is_null() => format!("default: {}", as_text(default, false)),
                _ => "—".to_owned(),
            });
            let picked = current.as_ref().and_then(|value| choices.iter().position(|c| same(c, value)));
            let options = StoredValue::new(choices.clone());
            view! {
                <select id=id aria-describedby=hint_id aria-invalid=move || invalid().then_some("true")
                    on:change=move |ev| {
                        let picked = event_target_value(&ev);
                        let chosen = options.with_value(|o| o.iter().find(|c| as_text(c, false) == picked).cloned());
                        set.run(chosen.or_else(|| nullable.then_some(Value::Null)));
                    }>
                    <option value="" selected=picked.is_none()>{empty_label}</option>
                    {choices.iter().enumerate().map(|(i, choice)| view! {
                        <option value=as_text(choice, false) selected=picked == Some(i)>{as_text(choice, false)}</option>
                    }).collect_view()}
                </select>
            }
            .into_any()
        }
        (Some(choices), true) => {
            let ticked: Vec<bool> = choices
                .iter()
                .map(|c| current.as_ref().and_then(Value::as_array).is_some_and(|items| items.iter().any(|i| same(i, c))))
                .collect();
            let ticked = RwSignal::new(ticked);
            let options = StoredValue::new(choices.clone());
            let changed = move |i: usize, on: bool| {
                ticked.update(|t| t[i] = on);
                let items: Vec<Value> =
                    options.with_value(|o| o.iter().zip(ticked.get_untracked()).filter(|(_, on)| *on).map(|(c, _)| c.clone()).collect());
                set.run(Some(Value::Array(items)));
            };
            view! {
                // A group is not labelable: named by the input's label instead.
                <div class="choice-boxes" id=id.clone() role="group" aria-labelledby=format!("{id}-label") aria-describedby=hint_id>
                    {choices.iter().enumerate().map(|(i, choice)| view! {
                        <label class="check choice">
                            <input type="checkbox" checked=ticked.get_untracked()[i] on:change=move |ev| changed(i, event_target_checked(&ev)) />
                            {as_text(choice, false)}
                        </label>
                    }).collect_view()}
                </div>
            }
            .into_any()
        }
        (None, true) => {
            let rows = text.lines().count().clamp(3, 8).to_string();
            view! {
                <textarea id=id aria-describedby=hint_id rows=rows placeholder=placeholder.unwrap_or_else(|| "one value a line".into())
                    spellcheck="false" aria-invalid=move || invalid().then_some("true")
                    on:input=move |ev| set.run(spec.with_value(|s| from_text(s, &event_target_value(&ev))))>{text}</textarea>
            }
            .into_any()
        }
        (None, false) => {
            let (kind_attr, step) = match kind {
                InputKind::Integer => ("number", Some("1")),
                InputKind::Number => ("number", Some("any")),
                InputKind::Date => ("date", None),
                InputKind::DateTime => ("datetime-local", None),
                InputKind::Text | InputKind::Path if secret => ("password", None),
                InputKind::Text | InputKind::Path | InputKind::Boolean => ("text", None),
            };
            view! {
                <input type=kind_attr id=id step=step value=text placeholder=placeholder aria-describedby=hint_id
                    autocomplete=secret.then_some("off") spellcheck="false" aria-invalid=move || invalid().then_some("true")
                    on:input=move |ev| set.run(spec.with_value(|s| from_text(s, &event_target_value(&ev)))) />
            }
            .into_any()
        }
    }
}

/// A boolean that must be true or false: a checkbox (a nullable one gets a list with "none").
fn is_checkbox(spec: &InputSpec) -> bool {
    spec.kind == InputKind::Boolean && !spec.list && !spec.nullable && spec.choices.is_none()
}

/// What the input takes, in words, with its flag for an argparse option: "--date · a date".
fn kind_text(spec: &InputSpec) -> String {
    let kind = if spec.list { format!("list of {}", spec.kind.plural()) } else { spec.kind.noun().trim_start_matches("a ").to_owned() };
    match spec.argv.as_ref().and_then(|argv| argv.flag.as_deref()) {
        Some(flag) => format!("{flag} · {kind}"),
        None => kind,
    }
}

/// What an empty control says: the default that applies when it is left so.
fn placeholder(spec: &InputSpec) -> Option<String> {
    match &spec.default {
        Some(default) if !default.is_null() => Some(format!("default: {}", as_text(default, false).replace('\n', ", "))),
        _ if spec.nullable => Some("empty: none".into()),
        _ => None,
    }
}

/// This input's error for `values`, from the model's own check: "count must be a whole number".
fn check_one(spec: &InputSpec, values: &Map<String, Value>) -> Option<String> {
    let alone = InputsReport { inputs: vec![spec.clone()], ..InputsReport::default() };
    let given: Map<String, Value> = values.get(&spec.name).map(|value| (spec.name.clone(), value.clone())).into_iter().collect();
    alone.resolve(&given).err().map(|refused| format!("{} {}", refused.input, refused.rule))
}

/// The server's "input `count`: must be …" as the form says it beside the input: "count must be …".
fn rule_of(message: &str) -> String {
    let Some(rest) = message.strip_prefix("input `") else { return message.to_owned() };
    match rest.split_once("`: ") {
        Some((name, rule)) => format!("{name} {rule}"),
        None => message.to_owned(),
    }
}

/// Equal as JSON values, `1` and `1.0` the same number (as the model compares choices).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A value as its control shows it; a list one value a line.
pub fn as_text(value: &Value, list: bool) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) if list => items.iter().map(|item| as_text(item, false)).collect::<Vec<_>>().join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// What was typed as the input's value. Empty, a nullable input is `null` and any other is left
/// out (its default applies). A number that does not parse stays text, for the check to name.
fn from_text(spec: &InputSpec, typed: &str) -> Option<Value> {
    let one = |text: &str| -> Value {
        let text = text.trim();
        let parsed = match spec.kind {
            InputKind::Integer => text.parse::<i64>().ok().map(Value::from).or_else(|| float(text)),
            InputKind::Number => float(text),
            InputKind::Boolean => text.parse::<bool>().ok().map(Value::from),
            _ => None,
        };
        parsed.unwrap_or_else(|| Value::from(text))
    };
    let empty = || spec.nullable.then_some(Value::Null);
    if spec.list {
        let items: Vec<Value> = typed.lines().filter(|line| !line.trim().is_empty()).map(one).collect();
        return if items.is_empty() { empty() } else { Some(Value::Array(items)) };
    }
    if typed.trim().is_empty() {
        return empty();
    }
    // Text keeps its spaces: they may matter to the script.
    Some(if matches!(spec.kind, InputKind::Text | InputKind::Path) { Value::from(typed) } else { one(typed) })
}

fn float(text: &str) -> Option<Value> {
    text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::InputStyle;
    use serde_json::json;

    fn spec(name: &str, kind: InputKind) -> InputSpec {
        InputSpec::new(name, kind)
    }

    #[test]
    fn typed_text_becomes_the_value_the_check_expects() {
        let count = spec("count", InputKind::Integer);
        assert_eq!(from_text(&count, " 42 "), Some(json!(42)));
        assert_eq!(from_text(&count, "1.5"), Some(json!(1.5)));
        assert_eq!(from_text(&count, ""), None);
        let ids = InputSpec { list: true, nullable: true, ..spec("ids", InputKind::Number) };
        assert_eq!(from_text(&ids, "1\n\n2.5\n"), Some(json!([1.0, 2.5])));
        assert_eq!(from_text(&ids, " \n"), Some(Value::Null));
        let note = spec("note", InputKind::Text);
        assert_eq!(from_text(&note, " two words "), Some(json!(" two words ")));
        assert_eq!(
            check_one(&count, &json!({"count": 1.5}).as_object().unwrap().clone()),
            Some("count must be a whole number, not 1.5".into())
        );
    }

    #[test]
    fn a_past_run_prefills_all_but_its_masked_secrets() {
        let report = InputsReport {
            style: InputStyle::Main,
            inputs: vec![
                InputSpec { default: Some(json!(3)), ..spec("count", InputKind::Integer) },
                InputSpec { secret: true, required: true, ..spec("api_token", InputKind::Text) },
                spec("dry_run", InputKind::Boolean),
                InputSpec { default: Some(json!("a")), ..spec("mode", InputKind::Text) },
            ],
            notices: vec![],
        };
        let past = json!({"count": 7, "api_token": "***", "dry_run": true, "gone": 1});
        let (values, retype) = start_values(&report, past.as_object());
        assert_eq!(Value::Object(values), json!({"count": 7, "dry_run": true, "mode": "a"}));
        assert_eq!(retype.into_iter().collect::<Vec<_>>(), ["api_token"]);
        let (fresh, retype) = start_values(&report, None);
        assert_eq!(Value::Object(fresh), json!({"count": 3, "dry_run": false, "mode": "a"}));
        assert!(retype.is_empty());
        assert_eq!(rule_of("input `count`: must be a whole number, not 1.5"), "count must be a whole number, not 1.5");
        assert_eq!(rule_of("something else"), "something else");
    }
}
