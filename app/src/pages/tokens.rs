//! `/settings/tokens`: your API tokens: create one (its secret shown once), see when each was
//! last used, revoke.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

use crate::client::{self, Failure, Method};
use crate::components::layout::{ErrorBox, Field, PageHeader};
use crate::model::{CreatedToken, NewToken, TokenInfo};

fn when(at: Option<chrono::DateTime<chrono::Utc>>, none: &'static str) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| none.to_string())
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let (tokens, reload) = client::use_loaded::<Vec<TokenInfo>>("/api/tokens");
    let created = RwSignal::new(None::<CreatedToken>);
    let action_error = RwSignal::new(None::<String>);
    let revoke = move |token: TokenInfo| {
        if !client::confirm(&format!("Revoke the token `{}`? Anything using it stops working at once.", token.name)) {
            return;
        }
        spawn_local(async move {
            match client::call_empty::<()>(Method::Delete, &format!("/api/tokens/{}", token.id), None).await {
                Ok(()) => action_error.set(None),
                Err(err) => action_error.set(Some(err.message)),
            }
            reload();
        })
    };

    view! {
        <Title text="API tokens" />
        <PageHeader title="API tokens" subtitle="Tokens let scripts and CI call the API as you, with the header Authorization: Bearer <token>." />
        <NewTokenForm on_created=Callback::new(move |token: CreatedToken| { created.set(Some(token)); reload(); }) />
        {move || created.get().map(|token| {
            let secret = token.secret.clone();
            view! {
                <div class="alert success secret-box" role="status">
                    <strong>{format!("Token “{}” created. Copy it now: it is not shown again.", token.token.name)}</strong>
                    <div class="secret-row">
                        <code class="secret" data-testid="token-secret">{token.secret.clone()}</code>
                        <button type="button" class="button small" on:click=move |_| client::copy_to_clipboard(&secret)>"Copy"</button>
                    </div>
                </div>
            }
        })}
        <ErrorBox error=action_error />
        <div class="card table-card">
            {move || match tokens.get() {
                None => view! { <p class="loading">"Loading tokens…"</p> }.into_any(),
                Some(Err(message)) => view! { <div class="alert error">{message}</div> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="empty-row">"No tokens yet."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <table class="table">
                        <thead><tr><th>"Name"</th><th>"Token"</th><th>"Created"</th><th>"Last used"</th><th>"Expires"</th><th class="actions"></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|token| {
                                let row = token.clone();
                                view! {
                                    <tr>
                                        <td class="strong">{token.name.clone()}</td>
                                        <td><code>{format!("{}…", token.prefix)}</code></td>
                                        <td class="muted">{when(Some(token.created_at), "")}</td>
                                        <td class="muted">{when(token.last_used_at, "never")}</td>
                                        <td class="muted">{when(token.expires_at, "never")}</td>
                                        <td class="actions">
                                            <button type="button" class="button small danger" on:click=move |_| revoke(row.clone())>"Revoke"</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
        </div>
    }
}

#[component]
fn NewTokenForm(on_created: Callback<CreatedToken>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let days = RwSignal::new(String::from("90"));
    let failure = RwSignal::new(None::<Failure>);
    let pending = RwSignal::new(false);
    let field_error = move |field: &'static str| Signal::derive(move || failure.get().and_then(|f| f.for_field(field)));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewToken { name: name.get_untracked(), expires_in_days: days.get_untracked().parse().ok() };
        pending.set(true);
        spawn_local(async move {
            match client::call::<_, CreatedToken>(Method::Post, "/api/tokens", Some(&new)).await {
                Ok(token) => {
                    failure.set(None);
                    name.set(String::new());
                    on_created.run(token);
                }
                Err(err) => failure.set(Some(err)),
            }
            pending.set(false);
        });
    };
    view! {
        <form class="card form-row" on:submit=submit>
            <Field label="Token name" error=field_error("name")>
                <input type="text" placeholder="e.g. ci-pipeline" required bind:value=name />
            </Field>
            <Field label="Expires" error=field_error("expires_in_days")>
                <select on:change=move |ev| days.set(event_target_value(&ev))>
                    <option value="30">"in 30 days"</option>
                    <option value="90" selected>"in 90 days"</option>
                    <option value="365">"in a year"</option>
                    <option value="">"never"</option>
                </select>
            </Field>
            <button type="submit" class="button primary" disabled=move || pending.get()>"Create token"</button>
            <ErrorBox error=Signal::derive(move || failure.get().filter(|f| f.field.is_none()).map(|f| f.message)) />
        </form>
    }
}
