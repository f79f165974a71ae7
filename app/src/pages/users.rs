//! `/users`: admins add users, change roles, reset passwords, disable and delete accounts.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

use crate::client::{self, Failure, Method};
use crate::components::layout::{ErrorBox, Field, PageHeader};
use crate::model::{NewUser, Role, UserInfo, UserUpdate};
use crate::session::use_current_user;

#[component]
pub fn UsersPage() -> impl IntoView {
    let me = use_current_user();
    if !me.is_admin() {
        return view! {
            <Title text="Users" />
            <PageHeader title="Users" />
            <div class="alert">"Only admins manage users. Ask an admin if you need another role."</div>
        }
        .into_any();
    }
    let my_id = me.0.map(|u| u.id).unwrap_or_default();
    let (users, reload) = client::use_loaded::<Vec<UserInfo>>("/api/users");
    let action_error = RwSignal::new(None::<String>);
    let change = move |id: i64, update: UserUpdate| {
        spawn_local(async move {
            match client::call::<_, UserInfo>(Method::Put, &format!("/api/users/{id}"), Some(&update)).await {
                Ok(_) => action_error.set(None),
                Err(err) => action_error.set(Some(err.message)),
            }
            reload();
        })
    };
    let remove = move |user: UserInfo| {
        if !client::confirm(&format!("Delete {}? Their sessions and API tokens stop working.", user.username)) {
            return;
        }
        spawn_local(async move {
            match client::call_empty::<()>(Method::Delete, &format!("/api/users/{}", user.id), None).await {
                Ok(()) => action_error.set(None),
                Err(err) => action_error.set(Some(err.message)),
            }
            reload();
        })
    };

    view! {
        <Title text="Users" />
        <PageHeader title="Users" subtitle="Admins manage users; editors change scripts, runs and schedules; viewers only read." />
        <AddUserForm on_added=Callback::new(move |_| reload()) />
        <ErrorBox error=action_error />
        <div class="card table-card">
            {move || match users.get() {
                None => view! { <p class="loading">"Loading users…"</p> }.into_any(),
                Some(Err(message)) => view! { <div class="alert error">{message}</div> }.into_any(),
                Some(Ok(list)) => view! {
                    <table class="table">
                        <thead><tr><th>"User"</th><th>"Role"</th><th>"Status"</th><th>"Added"</th><th class="actions">"Actions"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|user| {
                                let id = user.id;
                                let active = user.is_active;
                                let reset_open = RwSignal::new(false);
                                let new_password = RwSignal::new(String::new());
                                let row_user = user.clone();
                                view! {
                                    <tr class:inactive=!active>
                                        <td class="strong">{user.username.clone()}{(id == my_id).then(|| view! { <span class="muted">" (you)"</span> })}</td>
                                        <td>
                                            <select aria-label=format!("Role of {}", user.username)
                                                on:change=move |ev| {
                                                    if let Ok(role) = event_target_value(&ev).parse::<Role>() {
                                                        change(id, UserUpdate { role: Some(role), ..Default::default() });
                                                    }
                                                }>
                                                {Role::ALL.iter().map(|role| view! {
                                                    <option value=role.as_str() selected=*role == user.role>{role.as_str()}</option>
                                                }).collect_view()}
                                            </select>
                                        </td>
                                        <td>{if active { view! { <span class="pill ok">"active"</span> } } else { view! { <span class="pill">"disabled"</span> } }}</td>
                                        <td class="muted">{user.created_at.format("%Y-%m-%d").to_string()}</td>
                                        <td class="actions">
                                            <button type="button" class="button small" on:click=move |_| reset_open.update(|open| *open = !*open)>"Reset password"</button>
                                            <button type="button" class="button small"
                                                on:click=move |_| change(id, UserUpdate { is_active: Some(!active), ..Default::default() })>
                                                {if active { "Disable" } else { "Enable" }}
                                            </button>
                                            <button type="button" class="button small danger" on:click=move |_| remove(row_user.clone())>"Delete"</button>
                                            <Show when=move || reset_open.get()>
                                                <form class="inline-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                                                    ev.prevent_default();
                                                    change(id, UserUpdate { password: Some(new_password.get_untracked()), ..Default::default() });
                                                    reset_open.set(false);
                                                    new_password.set(String::new());
                                                }>
                                                    <input type="password" placeholder="New password (8+ characters)" aria-label="New password"
                                                        autocomplete="new-password" bind:value=new_password />
                                                    <button type="submit" class="button small primary">"Set"</button>
                                                </form>
                                            </Show>
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
    .into_any()
}

#[component]
fn AddUserForm(on_added: Callback<()>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Editor);
    let failure = RwSignal::new(None::<Failure>);
    let pending = RwSignal::new(false);
    let field_error = move |field: &'static str| Signal::derive(move || failure.get().and_then(|f| f.for_field(field)));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewUser { username: username.get_untracked(), password: password.get_untracked(), role: role.get_untracked() };
        pending.set(true);
        spawn_local(async move {
            match client::call::<_, UserInfo>(Method::Post, "/api/users", Some(&new)).await {
                Ok(_) => {
                    failure.set(None);
                    username.set(String::new());
                    password.set(String::new());
                    on_added.run(());
                }
                Err(err) => failure.set(Some(err)),
            }
            pending.set(false);
        });
    };
    view! {
        <form class="card form-row" on:submit=submit>
            <Field label="User name" error=field_error("username")>
                <input type="text" autocomplete="off" required bind:value=username />
            </Field>
            <Field label="Password" error=field_error("password")>
                <input type="password" autocomplete="new-password" required bind:value=password />
            </Field>
            <Field label="Role" error=field_error("role")>
                <select on:change=move |ev| { if let Ok(r) = event_target_value(&ev).parse() { role.set(r) } }>
                    {Role::ALL.iter().map(|r| view! { <option value=r.as_str() selected=*r == Role::Editor>{r.as_str()}</option> }).collect_view()}
                </select>
            </Field>
            <button type="submit" class="button primary" disabled=move || pending.get()>"Add user"</button>
            <ErrorBox error=Signal::derive(move || failure.get().filter(|f| f.field.is_none()).map(|f| f.message)) />
        </form>
    }
}
