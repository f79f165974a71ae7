//! `/users`: admins add users, change roles, reset passwords, disable and delete accounts.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api;
use crate::components::confirm_dialog::ConfirmChange;
use crate::components::layout::{ErrorBox, Field, PageHeader, SubmitButton, TextField};
use crate::components::loaded::Loaded;
use crate::hooks::{Change, ChangeState};
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
    let add: Change<NewUser, UserInfo> = Action::new(|new: &NewUser| api::users::create(new));
    let change: Change<(i64, UserUpdate), UserInfo> = Action::new(|(id, update): &(i64, UserUpdate)| api::users::update(*id, update));
    let remove: Change<i64, ()> = Action::new(|id: &i64| api::users::delete(*id));
    // Read again after every change (a refused one too: the row shows what is stored), on the
    // server for the first HTML.
    let users = Resource::new(move || (add.version().get(), change.version().get(), remove.version().get()), |_| api::users::list());
    let removing = RwSignal::new(None::<UserInfo>);

    view! {
        <Title text="Users" />
        <PageHeader title="Users" subtitle="Admins manage users; editors change scripts, runs and schedules; viewers only read." />
        <AddUserForm add />
        <ErrorBox error=change.error() />
        <div class="card table-card">
            <Loaded data=users loading="Loading users…" show={move |list: Vec<UserInfo>| view! {
                <table class="table">
                    <thead><tr><th>"User"</th><th>"Role"</th><th>"Status"</th><th>"Added"</th><th class="actions">"Actions"</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|user| { let is_me = user.id == my_id; view! { <UserRow user is_me change removing /> } }).collect_view()}
                    </tbody>
                </table>
            }} />
        </div>
        <ConfirmChange asking=removing change=remove verb=("Delete user", "Deleting…")
            title={|user: &UserInfo| format!("Delete {}?", user.username)} input={|user: &UserInfo| user.id}
            body="Their sessions and API tokens stop working at once. This cannot be undone." />
    }
    .into_any()
}

#[component]
fn UserRow(
    user: UserInfo,
    is_me: bool,
    change: Change<(i64, UserUpdate), UserInfo>,
    removing: RwSignal<Option<UserInfo>>,
) -> impl IntoView {
    let id = user.id;
    let active = user.is_active;
    let reset_open = RwSignal::new(false);
    let new_password = RwSignal::new(String::new());
    let row_user = user.clone();
    view! {
        <tr class:inactive=!active>
            <td class="strong">{user.username.clone()}{is_me.then(|| view! { <span class="muted">" (you)"</span> })}</td>
            <td>
                <select aria-label=format!("Role of {}", user.username)
                    on:change=move |ev| {
                        if let Ok(role) = event_target_value(&ev).parse::<Role>() {
                            change.dispatch((id, UserUpdate { role: Some(role), ..Default::default() }));
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
                    on:click=move |_| { change.dispatch((id, UserUpdate { is_active: Some(!active), ..Default::default() })); }>
                    {if active { "Disable" } else { "Enable" }}
                </button>
                <button type="button" class="button small danger" on:click=move |_| removing.set(Some(row_user.clone()))>"Delete"</button>
                <Show when=move || reset_open.get()>
                    <form class="inline-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                        ev.prevent_default();
                        change.dispatch((id, UserUpdate { password: Some(new_password.get_untracked()), ..Default::default() }));
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
}

#[component]
fn AddUserForm(add: Change<NewUser, UserInfo>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Editor);
    add.on_success(move |_| {
        username.set(String::new());
        password.set(String::new());
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        add.dispatch(NewUser { username: username.get_untracked(), password: password.get_untracked(), role: role.get_untracked() });
    };
    view! {
        <form class="card form-row" on:submit=submit>
            <TextField label="User name" value=username error=add.field_error("username") autocomplete="off" />
            <TextField label="Password" value=password error=add.field_error("password") kind="password" autocomplete="new-password" />
            <Field label="Role" error=add.field_error("role")>
                <select on:change=move |ev| { if let Ok(r) = event_target_value(&ev).parse() { role.set(r) } }>
                    {Role::ALL.iter().map(|r| view! { <option value=r.as_str() selected=*r == Role::Editor>{r.as_str()}</option> }).collect_view()}
                </select>
            </Field>
            <SubmitButton label="Add user" busy_label="Adding…" busy=add.pending() />
            <ErrorBox error=add.error() />
        </form>
    }
}
