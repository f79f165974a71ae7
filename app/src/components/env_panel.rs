//! `EnvPanel`: variables and secrets, given to runs as environment variables. On a script's page
//! it lists the script's own entries and, below them, the globals it inherits (those its own
//! replace marked); on `/settings/env`, the globals. Who may change them (editors for a script,
//! admins for the globals) adds one, replaces one (a secret's value is typed anew: the server
//! never gives it back) and deletes one after confirming; everyone else sees the names and the
//! variables' values. Names and values are checked here by the server's own rules before they
//! are sent, and a refusal of the server is said next to the form.

use leptos::html;
use leptos::prelude::*;

use crate::api::{self, env::Owner};
use crate::components::confirm_dialog::ConfirmChange;
use crate::components::layout::{ErrorBox, Field, SubmitButton};
use crate::components::loaded::Loaded;
use crate::components::runs::Time;
use crate::hooks::{Change, ChangeState};
use crate::model::env::{name_problem, value_problem, NAME_MAX};
use crate::model::{EnvScope, EnvValue, EnvVar};
use crate::session::use_current_user;

/// What the panel's parts share.
#[derive(Clone, Copy)]
struct Panel {
    owner: Owner,
    /// Whether this user changes the owner's entries (inherited globals are never changed here).
    can_edit: bool,
    /// The entry whose replace form is open, by name.
    replacing: RwSignal<Option<String>>,
    /// The entry the delete dialog asks about.
    deleting: RwSignal<Option<EnvVar>>,
    /// Moves with each change made by the add and replace forms, so the list is read again.
    changed: RwSignal<u32>,
}

impl Panel {
    fn reload(self) {
        self.changed.update(|n| *n += 1);
    }
}

#[component]
pub fn EnvPanel(owner: Owner) -> impl IntoView {
    let me = use_current_user();
    let can_edit = match owner {
        Owner::Global => me.is_admin(),
        Owner::Script(_) => me.can_edit(),
    };
    let panel = Panel { owner, can_edit, replacing: RwSignal::new(None), deleting: RwSignal::new(None), changed: RwSignal::new(0) };
    let remove: Change<String, ()> = Action::new(move |name: &String| api::env::delete(owner, name));
    // Read again after every change (a refused delete too: the list shows what is stored), on
    // the server for the first HTML.
    let entries = Resource::new(move || (panel.changed.get(), remove.version().get()), move |_| api::env::list(owner));
    let known = Signal::derive(move || entries.get().and_then(Result::ok).unwrap_or_default());
    let (title, lead, delete_body) = match owner {
        Owner::Global => (
            "Global variables",
            "Every script's runs get these. A script's own entry of the same name, set on its page, wins.",
            "Runs of every script started from now on no longer get it. This cannot be undone.",
        ),
        Owner::Script(_) => (
            "Variables & secrets",
            "Environment variables for this script's runs, read with os.environ[\"NAME\"]. Its own win over the globals.",
            "This script's runs started from now on no longer get it; a global of the same name applies again, if there is one. This cannot be undone.",
        ),
    };

    view! {
        <section class="card env-panel" aria-labelledby="env-title">
            <div class="section-header">
                <div>
                    <h2 id="env-title">{title}</h2>
                    <p class="section-lead">{lead}</p>
                </div>
                // A full page load, so unsaved changes of the script get the browser's question.
                {matches!(owner, Owner::Script(_)).then(|| view! {
                    <a class="button ghost small" href="/settings/env" rel="external">"Global variables →"</a>
                })}
            </div>
            {can_edit.then(|| view! { <AddForm panel known /> })}
            <Loaded data=entries loading="Loading variables…" show={move |list: Vec<EnvVar>| {
                if list.is_empty() {
                    return view! { <p class="muted empty-runs">{empty_text(panel)}</p> }.into_any();
                }
                view! { <EnvTable panel list /> }.into_any()
            }} />
            <ConfirmChange asking=panel.deleting change=remove verb=("Delete", "Deleting…") body=delete_body
                title={|entry: &EnvVar| format!("Delete the {} {}?", kind(entry), entry.name)} input={|entry: &EnvVar| entry.name.clone()} />
        </section>
    }
}

fn empty_text(panel: Panel) -> &'static str {
    match (panel.owner, panel.can_edit) {
        (Owner::Global, true) => "No global variables yet. Add one above and every script's runs get it.",
        (Owner::Global, false) => "No global variables yet.",
        (Owner::Script(_), true) => "No variables or secrets yet. Add one above: settings as variables, passwords and keys as secrets.",
        (Owner::Script(_), false) => "No variables or secrets.",
    }
}

fn kind(entry: &EnvVar) -> &'static str {
    if entry.secret {
        "secret"
    } else {
        "variable"
    }
}

/// The owner's entries; on a script's panel, the inherited globals below them in a group of
/// their own.
#[component]
fn EnvTable(panel: Panel, list: Vec<EnvVar>) -> impl IntoView {
    let scope = panel.owner.scope();
    let (own, inherited): (Vec<_>, Vec<_>) = list.into_iter().partition(|entry| entry.scope == scope);
    let grouped = !inherited.is_empty();
    view! {
        <table class="table env-table">
            <thead><tr><th>"Name"</th><th>"Value"</th><th>"Last set (UTC)"</th><th class="actions"></th></tr></thead>
            <tbody>
                {grouped.then(|| view! { <tr class="group-row"><th colspan="4" scope="rowgroup">"This script's own"</th></tr> })}
                {(grouped && own.is_empty()).then(|| view! {
                    <tr><td colspan="4" class="muted">"None: its runs get the globals below."</td></tr>
                })}
                {own.into_iter().map(|entry| view! { <EnvRow entry panel /> }).collect_view()}
            </tbody>
            {grouped.then(|| view! {
                <tbody class="inherited">
                    <tr class="group-row"><th colspan="4" scope="rowgroup">"Global, for every script"</th></tr>
                    {inherited.into_iter().map(|entry| view! { <EnvRow entry panel /> }).collect_view()}
                </tbody>
            })}
        </table>
    }
}

#[component]
fn EnvRow(entry: EnvVar, panel: Panel) -> impl IntoView {
    let editable = panel.can_edit && entry.scope == panel.owner.scope();
    let name = entry.name.clone();
    let open = {
        let name = name.clone();
        move || panel.replacing.with(|open| open.as_deref() == Some(name.as_str()))
    };
    let actions = editable.then(|| {
        let (name, row, open) = (name.clone(), entry.clone(), open.clone());
        let (replace_label, delete_label) = (format!("Replace {name}"), format!("Delete {name}"));
        let toggle = move |_: leptos::ev::MouseEvent| {
            panel.replacing.update(|now| *now = if now.as_deref() == Some(name.as_str()) { None } else { Some(name.clone()) })
        };
        view! {
            <button type="button" class="button small" aria-expanded=move || open().to_string() aria-label=replace_label on:click=toggle>
                "Replace"
            </button>
            <button type="button" class="button small danger" aria-label=delete_label
                on:click=move |_| panel.deleting.set(Some(row.clone()))>"Delete"</button>
        }
    });
    let replace = editable.then(|| {
        let entry = entry.clone();
        view! {
            <Show when=open.clone()>
                <tr class="edit-row">
                    <td colspan="4"><ReplaceForm entry=entry.clone() panel /></td>
                </tr>
            </Show>
        }
    });
    view! {
        <tr class:overridden=entry.overridden class:editing=open>
            <td class="env-name">
                <span class="mono strong">{name}</span>
                {entry.secret.then(|| view! { <span class="pill secret"><LockIcon />"secret"</span> })}
                {entry.overridden.then(|| view! { <span class="override-note">"overridden by this script's own"</span> })}
            </td>
            <td class="env-value-cell">{value_view(&entry)}</td>
            <td class="env-set">
                <span class="set-by">{entry.set_by.clone()}</span>
                <Time at=entry.set_at />
            </td>
            <td class="actions">{actions}</td>
        </tr>
        {replace}
    }
    // Erased: the row's type nests deep enough to pass the compiler's query depth in the table.
    .into_any()
}

fn value_view(entry: &EnvVar) -> AnyView {
    match (entry.secret, entry.value.as_deref()) {
        (true, _) => view! { <span class="env-hidden" title="A secret's value is never shown, not even to admins">"set"</span> }.into_any(),
        (false, Some(value)) if !value.is_empty() => {
            view! { <code class="env-value" title=value.to_string()>{value.to_string()}</code> }.into_any()
        }
        (false, _) => view! { <span class="muted">"empty"</span> }.into_any(),
    }
}

/// A new entry: name, value, and whether it is a secret (then typed blind, like a password).
#[component]
fn AddForm(panel: Panel, known: Signal<Vec<EnvVar>>) -> impl IntoView {
    let owner = panel.owner;
    let name = RwSignal::new(String::new());
    let value = RwSignal::new(String::new());
    let secret = RwSignal::new(false);
    // After a try to add, or once the value field is left, every problem shows; before, only a
    // name's as it is typed (a secret's too-short value is not a problem while it is typed).
    let tried = RwSignal::new(false);
    let value_left = RwSignal::new(false);
    let name_input = NodeRef::<html::Input>::new();
    let add: Change<(String, EnvValue), EnvVar> = Action::new(move |(name, value): &(String, EnvValue)| api::env::set(owner, name, value));
    add.on_success(move |_| {
        name.set(String::new());
        value.set(String::new());
        secret.set(false);
        tried.set(false);
        value_left.set(false);
        panel.reload();
        if let Some(input) = name_input.get_untracked() {
            let _ = input.focus();
        }
    });
    let wanted = move || name.with(|n| n.trim().to_string());
    let (refused_name, refused_value, failure) = (add.field_error("name"), add.field_error("value"), add.failure());
    let name_error = Signal::derive(move || {
        let typed = wanted();
        let local = if tried.get() || !typed.is_empty() { name_problem(&typed) } else { None };
        local.or_else(|| refused_name.get())
    });
    let value_error = Signal::derive(move || {
        let local = if tried.get() || value_left.get() { value.with(|v| value_problem(v, secret.get())) } else { None };
        local.or_else(|| refused_value.get())
    });
    let other_error =
        Signal::derive(move || failure.get().filter(|f| !matches!(f.field.as_deref(), Some("name" | "value"))).map(|f| f.message));
    let note = move || {
        let typed = wanted();
        (!typed.is_empty()).then(|| known.with(|known| name_note(&typed, owner, known))).flatten()
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        tried.set(true);
        let (wanted, asked) = (wanted(), EnvValue { value: value.get_untracked(), secret: secret.get_untracked() });
        if add.pending().get_untracked() || name_problem(&wanted).is_some() || value_problem(&asked.value, asked.secret).is_some() {
            return;
        }
        add.dispatch((wanted, asked));
    };

    view! {
        <form class="env-add" aria-label="Add a variable or secret" novalidate on:submit=submit>
            <Field label="Name" error=name_error>
                <input type="text" class="mono" name="env-name" node_ref=name_input placeholder="API_URL" maxlength=NAME_MAX.to_string()
                    autocomplete="off" spellcheck="false" autocapitalize="characters" class:invalid=move || name_error.get().is_some()
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                {move || name_error.get().is_none().then(note).flatten().map(|note| view! { <span class="field-hint">{note}</span> })}
            </Field>
            <Field label="Value" error=value_error>
                <input class="mono" name="env-value" spellcheck="false" class:invalid=move || value_error.get().is_some()
                    type=move || if secret.get() { "password" } else { "text" }
                    autocomplete=move || if secret.get() { "new-password" } else { "off" }
                    placeholder=move || if secret.get() { "typed once, never shown again" } else { "https://example.com/api" }
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) on:change=move |_| value_left.set(true) />
            </Field>
            <div class="env-add-secret">
                <label class="check">
                    <input type="checkbox" name="env-secret" prop:checked=move || secret.get() on:change=move |ev| secret.set(event_target_checked(&ev)) />
                    <LockIcon />"Secret"
                </label>
                <span class="field-hint">"Write-only; *** in run output"</span>
            </div>
            <SubmitButton label="Add" busy_label="Adding…" busy=add.pending() />
            <ErrorBox error=other_error />
        </form>
    }
}

/// What adding `name` does to an entry already there, if any: replace the owner's own, or
/// override a global for this script.
fn name_note(name: &str, owner: Owner, known: &[EnvVar]) -> Option<String> {
    let own = known.iter().find(|e| e.name == name && e.scope == owner.scope());
    let global = known.iter().find(|e| e.name == name && e.scope == EnvScope::Global);
    match (own, global) {
        (Some(entry), _) => Some(format!("Replaces the {} {name} set by {}", kind(entry), entry.set_by)),
        (None, Some(_)) => Some(format!("Overrides the global {name} in this script's runs")),
        (None, None) => None,
    }
}

/// A new value for an entry. A secret's field starts empty (its value is never sent to the
/// browser); a variable's starts with its value.
#[component]
fn ReplaceForm(entry: EnvVar, panel: Panel) -> impl IntoView {
    let owner = panel.owner;
    let name = entry.name.clone();
    let value = RwSignal::new(entry.value.clone().unwrap_or_default());
    let secret = RwSignal::new(entry.secret);
    let tried = RwSignal::new(false);
    let input = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
        }
    });
    let save: Change<EnvValue, EnvVar> = {
        let name = name.clone();
        Action::new(move |asked: &EnvValue| api::env::set(owner, &name, asked))
    };
    save.on_success(move |_| {
        panel.replacing.set(None);
        panel.reload();
    });
    let failure = save.failure();
    // The name is fixed: whatever the server refuses is about the value.
    let error = Signal::derive(move || {
        let local = if tried.get() { value.with(|v| value_problem(v, secret.get())) } else { None };
        local.or_else(|| failure.get().map(|f| f.message))
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        tried.set(true);
        let asked = EnvValue { value: value.get_untracked(), secret: secret.get_untracked() };
        if !save.pending().get_untracked() && value_problem(&asked.value, asked.secret).is_none() {
            save.dispatch(asked);
        }
    };
    let cancel = move |_: leptos::ev::MouseEvent| panel.replacing.set(None);
    let label = format!("Replace {name}");
    view! {
        <form class="env-replace" role="group" aria-label=label novalidate on:submit=submit
            on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { panel.replacing.set(None) }>
            <div class="env-replace-row">
                <input class="mono" node_ref=input spellcheck="false" aria-label=format!("New value of {name}")
                    class:invalid=move || error.get().is_some()
                    type=move || if secret.get() { "password" } else { "text" }
                    autocomplete=move || if secret.get() { "new-password" } else { "off" }
                    placeholder=move || if secret.get() { "the new value, typed once" } else { "the new value" }
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
                <label class="check">
                    <input type="checkbox" aria-label=format!("{name} is a secret") prop:checked=move || secret.get()
                        on:change=move |ev| secret.set(event_target_checked(&ev)) />
                    <LockIcon />"Secret"
                </label>
                <SubmitButton label="Save" busy_label="Saving…" busy=save.pending() class="small" />
                <button type="button" class="button small ghost" on:click=cancel>"Cancel"</button>
            </div>
            {entry.secret.then(|| view! {
                <p class="field-hint">"The current value is never shown: type the whole new one. Runs started after saving get it."</p>
            })}
            <Show when=move || error.get().is_some()>
                <p class="field-error" role="alert">{move || error.get()}</p>
            </Show>
        </form>
    }
}

/// A small padlock, beside what is secret.
#[component]
pub fn LockIcon() -> impl IntoView {
    view! {
        <svg class="lock-icon" viewBox="0 0 16 16" aria-hidden="true">
            <rect x="3" y="7" width="10" height="7.5" rx="1.6" />
            <path d="M5.4 7V5.1a2.6 2.6 0 0 1 5.2 0V7" />
        </svg>
    }
}
