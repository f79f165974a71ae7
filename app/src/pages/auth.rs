//! `/login` and `/setup`: signing in, and creating the first admin on a new install.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::client::{self, Failure, Method};
use crate::components::layout::{ErrorBox, Field};
use crate::model::{Credentials, UserInfo};
use crate::validate;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let failure = RwSignal::new(None::<Failure>);
    let pending = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let next = validate::next_path(&query.read_untracked().get("next").unwrap_or_default());
        let credentials = Credentials { username: username.get_untracked(), password: password.get_untracked() };
        pending.set(true);
        spawn_local(async move {
            match client::call::<_, UserInfo>(Method::Post, "/api/auth/login", Some(&credentials)).await {
                Ok(_) => client::go_to(&next),
                Err(err) => {
                    failure.set(Some(err));
                    pending.set(false);
                }
            }
        });
    };

    view! {
        <Title text="Sign in" />
        <div class="auth-card card">
            <h1>"Sign in"</h1>
            <p class="subtitle">"Sign in to run and schedule your team's scripts."</p>
            <form class="form" on:submit=submit>
                <ErrorBox error=Signal::derive(move || failure.get().map(|f| f.message)) />
                <Field label="User name">
                    <input type="text" name="username" autocomplete="username" required autofocus
                        bind:value=username />
                </Field>
                <Field label="Password">
                    <input type="password" name="password" autocomplete="current-password" required
                        bind:value=password />
                </Field>
                <button type="submit" class="button primary wide" disabled=move || pending.get()>
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </div>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let failure = RwSignal::new(None::<Failure>);
    let pending = RwSignal::new(false);

    let field_error = move |field: &'static str| Signal::derive(move || failure.get().and_then(|f| f.for_field(field)));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let credentials = Credentials { username: username.get_untracked(), password: password.get_untracked() };
        if let Err(invalid) = validate::username(&credentials.username).and_then(|_| validate::password(&credentials.password)) {
            failure.set(Some(Failure { status: 422, message: invalid.message, field: Some(invalid.field.into()) }));
            return;
        }
        if credentials.password != repeat.get_untracked() {
            failure.set(Some(Failure { status: 422, message: "the two passwords differ".into(), field: Some("repeat".into()) }));
            return;
        }
        pending.set(true);
        spawn_local(async move {
            match client::call::<_, UserInfo>(Method::Post, "/api/setup", Some(&credentials)).await {
                Ok(_) => client::go_to("/"),
                Err(err) => {
                    failure.set(Some(err));
                    pending.set(false);
                }
            }
        });
    };

    view! {
        <Title text="Welcome" />
        <div class="auth-card card">
            <h1>"Welcome to PyTask"</h1>
            <p class="subtitle">"Create the first admin account. It can add the rest of your team afterwards."</p>
            <form class="form" on:submit=submit>
                <ErrorBox error=Signal::derive(move || failure.get().filter(|f| f.field.is_none()).map(|f| f.message)) />
                <Field label="User name" error=field_error("username")>
                    <input type="text" name="username" autocomplete="username" required autofocus bind:value=username />
                </Field>
                <Field label="Password" error=field_error("password")>
                    <input type="password" name="password" autocomplete="new-password" required bind:value=password />
                </Field>
                <Field label="Repeat the password" error=field_error("repeat")>
                    <input type="password" name="repeat" autocomplete="new-password" required bind:value=repeat />
                </Field>
                <button type="submit" class="button primary wide" disabled=move || pending.get()>
                    {move || if pending.get() { "Creating…" } else { "Create admin and sign in" }}
                </button>
            </form>
        </div>
    }
}
