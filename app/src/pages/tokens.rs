//! `/settings/tokens`: your API tokens: create one (its secret shown once), see when each was
//! last used, revoke; and your password.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api;
use crate::browser;
use crate::components::confirm_dialog::ConfirmChange;
use crate::components::layout::{ErrorBox, Field, PageHeader, SubmitButton, TextField};
use crate::components::loaded::Loaded;
use crate::hooks::{Change, ChangeState};
use crate::model::{CreatedToken, NewToken, PasswordChange, TokenInfo, UserInfo};

fn when(at: Option<chrono::DateTime<chrono::Utc>>, none: &'static str) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| none.to_string())
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let create: Change<NewToken, CreatedToken> = Action::new(|new: &NewToken| api::tokens::create(new));
    let revoke: Change<i64, ()> = Action::new(|id: &i64| api::tokens::revoke(*id));
    // Read again after every change, on the server for the first HTML too.
    let change_password: Change<PasswordChange, UserInfo> = Action::new(|change: &PasswordChange| api::auth::change_password(change));
    let tokens =
        Resource::new(move || (create.version().get(), revoke.version().get(), change_password.version().get()), |_| api::tokens::list());
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
        <PasswordForm change=change_password />
    }
}

/// Your password: the current one, the new one twice, and whether your tokens go too. Every
/// other browser signed in as you is signed out; this one stays.
#[component]
fn PasswordForm(change: Change<PasswordChange, UserInfo>) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let revoke_tokens = RwSignal::new(false);
    let mismatch = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<bool>);
    change.on_success(move |_| {
        done.set(Some(revoke_tokens.get_untracked()));
        for field in [current, new, repeat] {
            field.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        done.set(None);
        if new.get_untracked() != repeat.get_untracked() {
            mismatch.set(Some("the two new passwords differ".into()));
            return;
        }
        mismatch.set(None);
        change.dispatch(PasswordChange {
            current_password: current.get_untracked(),
            new_password: new.get_untracked(),
            revoke_tokens: revoke_tokens.get_untracked(),
        });
    };
    let repeat_error = Signal::derive(move || mismatch.get());
    view! {
        <div class="section-header"><h2>"Password"</h2></div>
        <form class="card form password-form" on:submit=submit>
            <ErrorBox error=change.error() />
            {move || done.get().map(|tokens_too| view! {
                <div class="alert success" role="status">
                    {if tokens_too {
                        "Password changed. Every other browser signed in as you has been signed out, and your API tokens revoked."
                    } else {
                        "Password changed. Every other browser signed in as you has been signed out."
                    }}
                </div>
            })}
            <TextField label="Current password" value=current kind="password" name="current_password" autocomplete="current-password"
                error=change.field_error("current_password") />
            <TextField label="New password" value=new kind="password" name="new_password" autocomplete="new-password"
                error=change.field_error("new_password") />
            <TextField label="Repeat the new password" value=repeat kind="password" name="repeat" autocomplete="new-password" error=repeat_error />
            <label class="check">
                <input type="checkbox" name="revoke_tokens" prop:checked=move || revoke_tokens.get()
                    on:change=move |ev| revoke_tokens.set(event_target_checked(&ev)) />
                " Also revoke all my API tokens"
            </label>
            <SubmitButton label="Change password" busy_label="Changing…" busy=change.pending() />
        </form>
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
