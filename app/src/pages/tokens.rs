//! `/settings/tokens`: your API tokens: create one (its secret shown once), see when each was
//! last used, revoke.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api;
use crate::browser;
use crate::components::confirm_dialog::ConfirmChange;
use crate::components::layout::{ErrorBox, Field, PageHeader, SubmitButton, TextField};
use crate::components::loaded::Loaded;
use crate::hooks::{Change, ChangeState};
use crate::model::{CreatedToken, NewToken, TokenInfo};

fn when(at: Option<chrono::DateTime<chrono::Utc>>, none: &'static str) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| none.to_string())
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let create: Change<NewToken, CreatedToken> = Action::new(|new: &NewToken| api::tokens::create(new));
    let revoke: Change<i64, ()> = Action::new(|id: &i64| api::tokens::revoke(*id));
    // Read again after every change, on the server for the first HTML too.
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| api::tokens::list());
    let created = RwSignal::new(None::<CreatedToken>);
    create.on_success(move |token| created.set(Some(token)));
    let revoking = RwSignal::new(None::<TokenInfo>);

    view! {
        <Title text="API tokens" />
        <PageHeader title="API tokens" subtitle="Tokens let scripts and CI call the API as you, with the header Authorization: Bearer <token>." />
        <NewTokenForm create />
        {move || created.get().map(|token| {
            let secret = token.secret.clone();
            view! {
                <div class="alert success secret-box" role="status">
                    <strong>{format!("Token “{}” created. Copy it now: it is not shown again.", token.token.name)}</strong>
                    <div class="secret-row">
                        <code class="secret" data-testid="token-secret">{token.secret.clone()}</code>
                        <button type="button" class="button small" on:click=move |_| browser::copy_to_clipboard(&secret)>"Copy"</button>
                    </div>
                </div>
            }
        })}
        <div class="card table-card">
            <Loaded data=tokens loading="Loading tokens…" show={move |list: Vec<TokenInfo>| {
                if list.is_empty() {
                    return view! { <p class="empty-row">"No tokens yet."</p> }.into_any();
                }
                view! {
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
                                            <button type="button" class="button small danger" aria-label=format!("Revoke {}", token.name)
                                                on:click=move |_| revoking.set(Some(row.clone()))>"Revoke"</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }} />
        </div>
        <ConfirmChange asking=revoking change=revoke verb=("Revoke token", "Revoking…")
            title={|token: &TokenInfo| format!("Revoke the token “{}”?", token.name)} input={|token: &TokenInfo| token.id}
            body="Anything using it stops working at once. This cannot be undone." />
    }
}

#[component]
fn NewTokenForm(create: Change<NewToken, CreatedToken>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let days = RwSignal::new(String::from("90"));
    create.on_success(move |_| name.set(String::new()));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(NewToken { name: name.get_untracked(), expires_in_days: days.get_untracked().parse().ok() });
    };
    view! {
        <form class="card form-row" on:submit=submit>
            <TextField label="Token name" value=name error=create.field_error("name") placeholder="e.g. ci-pipeline" />
            <Field label="Expires" error=create.field_error("expires_in_days")>
                <select on:change=move |ev| days.set(event_target_value(&ev))>
                    <option value="30">"in 30 days"</option>
                    <option value="90" selected>"in 90 days"</option>
                    <option value="365">"in a year"</option>
                    <option value="">"never"</option>
                </select>
            </Field>
            <SubmitButton label="Create token" busy_label="Creating…" busy=create.pending() />
            <ErrorBox error=create.error() />
        </form>
    }
}
