//! `HooksPanel`: a script's webhooks, on its schedules page: URLs that start a run when something
//! outside (CI, a form, another service) posts to them. Each is listed by name, the first
//! characters of its token, who made it and when it was last used. Editors make one: its full
//! URL shows this once, with a `curl` line built from the script's inputs, ready to paste; and
//! revoke one after confirming. Viewers see the list alone.

use leptos::prelude::*;
use serde_json::{Map, Value};

use crate::api;
use crate::browser;
use crate::components::confirm_dialog::ConfirmChange;
use crate::components::layout::{ErrorBox, SubmitButton, TextField};
use crate::components::loaded::Loaded;
use crate::components::runs::Time;
use crate::hooks::{Change, ChangeState};
use crate::model::{CreatedHook, Hook, InputKind, InputSpec, InputsReport, NewHook};
use crate::session::use_current_user;

#[component]
pub fn HooksPanel(
    script_id: i64,
    /// What the script's saved code takes, for the example request; `None` if unreadable.
    inputs: Option<InputsReport>,
) -> impl IntoView {
    let can_edit = use_current_user().can_edit();
    let create: Change<NewHook, CreatedHook> = Action::new(move |new: &NewHook| api::hooks::create(script_id, new));
    // Gives back the id it revoked: the box of a hook just made closes if that is the one.
    let revoke: Change<i64, i64> = Action::new(move |id: &i64| {
        let (id, asked) = (*id, api::hooks::revoke(script_id, *id));
        async move { asked.await.map(|()| id) }
    });
    // Read again after every change (a refused revoke too: the list shows what is stored), on
    // the server for the first HTML.
    let hooks = Resource::new(move || (create.version().get(), revoke.version().get()), move |_| api::hooks::list(script_id));
    let created = RwSignal::new(None::<CreatedHook>);
    create.on_success(move |hook| created.set(Some(hook)));
    // A revoked hook's URL must not stay on show as if it still worked.
    revoke.on_success(move |gone| {
        if created.with_untracked(|c| c.as_ref().is_some_and(|c| c.hook.id == gone)) {
            created.set(None);
        }
    });
    let revoking = RwSignal::new(None::<Hook>);
    let inputs = StoredValue::new(inputs);

    view! {
        <section class="card hooks-panel" aria-labelledby="hooks-title">
            <div class="section-header">
                <div>
                    <h2 id="hooks-title">"Webhooks"</h2>
                    <p class="section-lead">
                        "Each URL starts a run when something posts to it: the request's JSON object is the run's inputs. "
                        "Whoever has the URL can start this script, and nothing else, until it is revoked."
                    </p>
                </div>
            </div>
            {can_edit.then(|| view! { <NewHookForm create /> })}
            {move || created.get().map(|hook| view! {
                <CreatedBox hook inputs=inputs.get_value() on_done=Callback::new(move |_| created.set(None)) />
            })}
            <Loaded data=hooks loading="Loading webhooks…" show={move |list: Vec<Hook>| {
                if list.is_empty() {
                    let empty = if can_edit {
                        "No webhooks yet. Make one above to start this script from another service."
                    } else {
                        "No webhooks. An editor can make one to start this script from another service."
                    };
                    return view! { <p class="muted empty-runs">{empty}</p> }.into_any();
                }
                view! { <HookTable list can_edit revoking /> }.into_any()
            }} />
            <ConfirmChange asking=revoking change=revoke verb=("Revoke webhook", "Revoking…")
                title={|hook: &Hook| format!("Revoke the webhook “{}”?", hook.name)} input={|hook: &Hook| hook.id}
                body="Its URL stops working at once: whatever posts to it gets 404. Runs it already started stay. This cannot be undone." />
        </section>
    }
}

#[component]
fn NewHookForm(create: Change<NewHook, CreatedHook>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    create.on_success(move |_| name.set(String::new()));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !create.pending().get_untracked() {
            create.dispatch(NewHook { name: name.get_untracked().trim().to_string() });
        }
    };
    view! {
        <form class="hook-add" aria-label="New webhook" on:submit=submit>
            <TextField label="Webhook name" value=name name="hook_name" autocomplete="off" error=create.field_error("name")
                placeholder="e.g. github-push" hint="Says where the calls come from; the URL itself is made for you." />
            <SubmitButton label="Create webhook" busy_label="Creating…" busy=create.pending() />
            <ErrorBox error=create.error() />
        </form>
    }
}

/// The hook just made: its URL (with the token, shown this once) and an example request.
#[component]
fn CreatedBox(hook: CreatedHook, inputs: Option<InputsReport>, on_done: Callback<()>) -> impl IntoView {
    let url = absolute(&hook.url);
    let curl = curl_example(&url, inputs.as_ref());
    let (url_copy, curl_copy) = (url.clone(), curl.clone());
    view! {
        <div class="alert success secret-box hook-created" role="status">
            <strong>{format!("Webhook “{}” created. Copy its URL now: it is not shown again.", hook.hook.name)}</strong>
            <div class="secret-row">
                <input type="text" class="secret" readonly aria-label="Webhook URL" prop:value=url.clone() />
                <button type="button" class="button small" aria-label="Copy the webhook URL"
                    on:click=move |_| browser::copy_to_clipboard(&url_copy)>"Copy"</button>
            </div>
            <p class="hook-try">"Start a run from a terminal:"</p>
            <div class="secret-row">
                <pre class="secret hook-curl" aria-label="Example request"><code>{curl}</code></pre>
                <button type="button" class="button small" aria-label="Copy the example request"
                    on:click=move |_| browser::copy_to_clipboard(&curl_copy)>"Copy"</button>
            </div>
            <p class="muted small">"It answers 202 with the run's id and page. The server keeps only a hash of the token: lost, the URL cannot be shown again; revoke it and make another."</p>
            <button type="button" class="button small ghost" on:click=move |_| on_done.run(())>"I have copied it"</button>
        </div>
    }
}

#[component]
fn HookTable(list: Vec<Hook>, can_edit: bool, revoking: RwSignal<Option<Hook>>) -> impl IntoView {
    view! {
        <table class="table hooks-table">
            <thead><tr><th>"Name"</th><th>"Token"</th><th>"Made by"</th><th>"Last used (UTC)"</th><th class="actions"></th></tr></thead>
            <tbody>
                {list.into_iter().map(|hook| {
                    let row = hook.clone();
                    view! {
                        <tr>
                            <td class="strong">{hook.name.clone()}</td>
                            <td><code title="The token's first characters">{format!("{}…", hook.prefix)}</code></td>
                            <td>
                                <span class="set-by">{hook.created_by.clone()}</span>" "
                                <span class="muted small"><Time at=hook.created_at /></span>
                            </td>
                            <td>{match hook.last_used_at {
                                Some(at) => view! { <Time at /> }.into_any(),
                                None => view! { <span class="muted">"never"</span> }.into_any(),
                            }}</td>
                            <td class="actions">
                                {can_edit.then(|| view! {
                                    <button type="button" class="button small danger" aria-label=format!("Revoke webhook {}", hook.name)
                                        on:click=move |_| revoking.set(Some(row.clone()))>"Revoke"</button>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The server gives a path unless it knows its public address (`--public-url`); a path is
/// completed with the address this page came from, which reaches the same server.
fn absolute(url: &str) -> String {
    if !url.starts_with('/') {
        return url.to_string();
    }
    #[cfg(feature = "hydrate")]
    if let Some(origin) = web_sys::window().and_then(|w| w.location().origin().ok()) {
        return format!("{origin}{url}");
    }
    url.to_string()
}

/// A `curl` command that starts a run through `url`, its body built from the script's inputs.
pub fn curl_example(url: &str, inputs: Option<&InputsReport>) -> String {
    let body = Value::Object(example_body(inputs)).to_string();
    format!("curl -X POST -H 'Content-Type: application/json' -d {} {}", shell_quoted(&body), shell_quoted(url))
}

/// A body the script takes: each input's default where it has one, else a value of its kind.
/// A script with a text input named `payload` gets the whole body in it, whatever it is.
fn example_body(inputs: Option<&InputsReport>) -> Map<String, Value> {
    let Some(report) = inputs else { return Map::new() };
    if report.inputs.iter().any(|i| i.name == "payload" && i.kind == InputKind::Text && !i.list) {
        return Map::from_iter([("event".to_string(), Value::from("ping"))]);
    }
    report.inputs.iter().map(|input| (input.name.clone(), example_value(input))).collect()
}

fn example_value(input: &InputSpec) -> Value {
    if let Some(default) = input.default.as_ref().filter(|d| !d.is_null()) {
        return default.clone();
    }
    let one = match input.choices.as_ref().and_then(|c| c.first()) {
        Some(choice) => choice.clone(),
        None => match input.kind {
            InputKind::Text => Value::from("text"),
            InputKind::Integer => Value::from(1),
            InputKind::Number => Value::from(1.5),
            InputKind::Boolean => Value::from(true),
            InputKind::Date => Value::from(crate::components::runs::now().format("%Y-%m-%d").to_string()),
            InputKind::DateTime => Value::from(crate::components::runs::now().format("%Y-%m-%dT%H:%M").to_string()),
            InputKind::Path => Value::from("data/input.csv"),
        },
    };
    if input.list {
        Value::Array(vec![one])
    } else {
        one
    }
}

/// `text` as one word of a POSIX shell: in single quotes, each `'` closed, escaped and reopened.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::InputStyle;
    use serde_json::json;

    fn input(name: &str, kind: InputKind) -> InputSpec {
        InputSpec { required: true, ..InputSpec::new(name, kind) }
    }

    #[test]
    fn the_example_request_is_one_the_script_takes() {
        let report = InputsReport {
            style: InputStyle::Main,
            inputs: vec![
                input("customer", InputKind::Integer),
                InputSpec { choices: Some(vec![json!("fast"), json!("slow")]), ..input("mode", InputKind::Text) },
                InputSpec { default: Some(json!("it's")), required: false, ..input("note", InputKind::Text) },
                InputSpec { list: true, ..input("tags", InputKind::Text) },
            ],
            notices: vec![],
        };
        let body = example_body(Some(&report));
        assert_eq!(Value::Object(body.clone()), json!({"customer": 1, "mode": "fast", "note": "it's", "tags": ["text"]}));
        assert!(report.resolve(&body).is_ok());
        let curl = curl_example("http://h/api/hooks/abc", Some(&report));
        assert!(curl.starts_with("curl -X POST -H 'Content-Type: application/json' -d '{"), "{curl}");
        assert!(curl.contains(r#""note":"it'\''s""#), "{curl}");
        assert!(curl.ends_with(" 'http://h/api/hooks/abc'"), "{curl}");
        assert_eq!(curl_example("/api/hooks/t", None), "curl -X POST -H 'Content-Type: application/json' -d '{}' '/api/hooks/t'");
    }
}
