//! `/scripts/new` and `/scripts/:id`: a script's name, description, tags, active flag, timeout
//! and source, saved with the button or Ctrl/Cmd+S. A save based on an old version is refused by
//! the server and said so; leaving with unsaved changes asks first.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::client::{self, Failure, Method};
use crate::components::layout::{ErrorBox, Field};
use crate::model::{NewScript, Script, ScriptUpdate};
use crate::session::use_current_user;

#[component]
pub fn ScriptEditPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|id| id.parse::<i64>().ok()));
    let loaded = Resource::new(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => client::get::<Script>(&format!("/api/scripts/{id}")).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading the script…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(script) => view! { <ScriptForm script /> }.into_any(),
                    Err(failure) => view! {
                        <Title text="Script not found" />
                        <div class="empty-state">
                            <h1>"This script cannot be opened"</h1>
                            <p>{failure.message}</p>
                            <a class="button primary" href="/">"Back to scripts"</a>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// What the form holds, to tell saved from unsaved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Draft {
    name: String,
    description: String,
    content: String,
    tags: String,
    is_active: bool,
    timeout: String,
}

impl Draft {
    fn of(script: &Option<Script>) -> Draft {
        match script {
            Some(s) => Draft {
                name: s.name.clone(),
                description: s.description.clone(),
                content: s.content.clone(),
                tags: s.tags.join(", "),
                is_active: s.is_active,
                timeout: s.timeout_seconds.map(|t| t.to_string()).unwrap_or_default(),
            },
            None => Draft {
                name: String::new(),
                description: String::new(),
                content: "print(\"Hello from PyTask\")\n".into(),
                tags: String::new(),
                is_active: true,
                timeout: String::new(),
            },
        }
    }

    fn tag_list(&self) -> Vec<String> {
        self.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
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

#[component]
fn ScriptForm(script: Option<Script>) -> impl IntoView {
    let can_edit = use_current_user().can_edit();
    let id = script.as_ref().map(|s| s.id);
    let title = script.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| "New script".into());
    let version = RwSignal::new(script.as_ref().map(|s| s.updated_at));
    let saved = RwSignal::new(Draft::of(&script));
    let draft = RwSignal::new(Draft::of(&script));
    let failure = RwSignal::new(None::<Failure>);
    let notice = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let dirty = Memo::new(move |_| draft.get() != saved.get());
    let field_error = move |field: &'static str| Signal::derive(move || failure.get().and_then(|f| f.for_field(field)));

    let save = move || {
        if pending.get_untracked() || !can_edit {
            return;
        }
        let current = draft.get_untracked();
        let timeout = match current.timeout_seconds() {
            Ok(timeout) => timeout,
            Err(err) => return failure.set(Some(err)),
        };
        pending.set(true);
        notice.set(None);
        spawn_local(async move {
            let result = match (id, version.get_untracked()) {
                (Some(id), Some(updated_at)) => {
                    let change = ScriptUpdate {
                        updated_at,
                        name: Some(current.name.clone()),
                        description: Some(current.description.clone()),
                        content: Some(current.content.clone()),
                        is_active: Some(current.is_active),
                        tags: Some(current.tag_list()),
                        timeout_seconds: Some(timeout),
                    };
                    client::call::<_, Script>(Method::Put, &format!("/api/scripts/{id}"), Some(&change)).await
                }
                _ => {
                    let new = NewScript {
                        name: current.name.clone(),
                        description: current.description.clone(),
                        content: current.content.clone(),
                        is_active: current.is_active,
                        tags: current.tag_list(),
                        timeout_seconds: timeout,
                    };
                    client::call::<_, Script>(Method::Post, "/api/scripts", Some(&new)).await
                }
            };
            pending.set(false);
            match result {
                Ok(stored) => {
                    failure.set(None);
                    let stored_draft = Draft::of(&Some(stored.clone()));
                    saved.set(stored_draft.clone());
                    draft.set(stored_draft);
                    version.set(Some(stored.updated_at));
                    if id.is_none() {
                        client::go_to(&format!("/scripts/{}", stored.id));
                    } else {
                        notice.set(Some("Saved".into()));
                    }
                }
                Err(err) => failure.set(Some(err)),
            }
        });
    };

    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("s") {
            ev.prevent_default();
            save();
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

    let text_input = move |field: fn(&mut Draft) -> &mut String| {
        move |ev: leptos::ev::Event| {
            let value = event_target_value(&ev);
            draft.update(|d| *field(d) = value);
        }
    };

    view! {
        <Title text=title.clone() />
        <form class="script-form" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); save(); }>
            <div class="page-header">
                <div>
                    <a class="back" href="/">"← Scripts"</a>
                    <h1>{title}</h1>
                </div>
                <div class="header-actions">
                    <span class="save-state" aria-live="polite">
                        {move || if dirty.get() { "Unsaved changes".to_string() } else { notice.get().unwrap_or_default() }}
                    </span>
                    {can_edit.then(|| view! {
                        <button type="submit" class="button primary" disabled=move || pending.get()>
                            {move || if pending.get() { "Saving…" } else { "Save" }}
                        </button>
                    })}
                </div>
            </div>
            <ErrorBox error=Signal::derive(move || failure.get().filter(|f| f.field.is_none() || f.field.as_deref() == Some("updated_at")).map(|f| f.message)) />
            <div class="card form-grid">
                <Field label="Name" error=field_error("name")>
                    <input type="text" required maxlength="100" prop:value=move || draft.with(|d| d.name.clone())
                        on:input=text_input(|d| &mut d.name) readonly=!can_edit />
                </Field>
                <Field label="Tags (comma-separated)" error=field_error("tags")>
                    <input type="text" placeholder="e.g. reports, nightly" prop:value=move || draft.with(|d| d.tags.clone())
                        on:input=text_input(|d| &mut d.tags) readonly=!can_edit />
                </Field>
                <Field label="Description" error=field_error("description")>
                    <input type="text" prop:value=move || draft.with(|d| d.description.clone())
                        on:input=text_input(|d| &mut d.description) readonly=!can_edit />
                </Field>
                <Field label="Timeout (seconds)" error=field_error("timeout_seconds")>
                    <input type="text" inputmode="numeric" placeholder="server default" prop:value=move || draft.with(|d| d.timeout.clone())
                        on:input=text_input(|d| &mut d.timeout) readonly=!can_edit />
                </Field>
                <label class="check">
                    <input type="checkbox" prop:checked=move || draft.with(|d| d.is_active) disabled=!can_edit
                        on:change=move |ev| { let on = event_target_checked(&ev); draft.update(|d| d.is_active = on) } />
                    " Active: may run and its schedules fire"
                </label>
            </div>
            <Field label="Code" error=field_error("content")>
                <textarea class="code" spellcheck="false" rows="22" prop:value=move || draft.with(|d| d.content.clone())
                    on:input=text_input(|d| &mut d.content) readonly=!can_edit></textarea>
            </Field>
        </form>
    }
}
