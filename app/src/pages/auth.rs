//! `/login` and `/setup`: signing in, and creating the first admin on a new install.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{self, Failure};
use crate::browser;
use crate::components::layout::{ErrorBox, SubmitButton, TextField};
use crate::hooks::{Change, ChangeState};
use crate::model::{Credentials, FirstAdmin, UserInfo};
use crate::validate;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let sign_in: Change<Credentials, UserInfo> = Action::new(|credentials: &Credentials| api::auth::login(credentials));
    // A full page load: the server renders the next page with the new session.
    sign_in.on_success(move |_| browser::go_to(&validate::next_path(&query.read_untracked().get("next").unwrap_or_default())));
    // Still busy once signed in, until the next page replaces this one.
    let busy = move || sign_in.pending().get() || sign_in.value().with(|v| matches!(v, Some(Ok(_))));

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        sign_in.dispatch(Credentials { username: username.get_untracked(), password: password.get_untracked() });
    };

    view! {
        <AuthCard title="Sign in" heading="Sign in" subtitle="Sign in to run and schedule your team's scripts.">
            <form class="form" on:submit=submit>
                <ErrorBox error=Signal::derive(move || sign_in.failure().get().map(|f| f.message)) />
                <TextField label="User name" value=username name="username" autocomplete="username" autofocus=true />
                <TextField label="Password" value=password kind="password" name="password" autocomplete="current-password" />
                <SubmitButton label="Sign in" busy_label="Signing in…" busy=Signal::derive(busy) class="wide" />
            </form>
        </AuthCard>
    }
}

/// The first admin's account, as typed twice, with the setup code when one is asked for.
#[derive(Clone)]
struct NewAdmin {
    first: FirstAdmin,
    repeat: String,
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    // Asked on the server for the first HTML: a browser elsewhere than the server's own
    // machine must give the code the server printed in its log.
    let status = Resource::new(|| (), |_| api::auth::setup_status());
    let needs_code = move || status.get().and_then(Result::ok).is_some_and(|s| s.needs_code);
    // Checked here first, so a mistake is named before anything is sent.
    let create: Change<NewAdmin, UserInfo> = Action::new(|admin: &NewAdmin| {
        let NewAdmin { first, repeat } = admin.clone();
        async move {
            if let Err(invalid) = validate::username(&first.username).and_then(|_| validate::password(&first.password)) {
                return Err(Failure { status: 422, message: invalid.message, field: Some(invalid.field.into()) });
            }
            if first.password != repeat {
                return Err(Failure { status: 422, message: "the two passwords differ".into(), field: Some("repeat".into()) });
            }
            api::auth::setup(&first).await
        }
    });
    create.on_success(|_| browser::go_to("/"));
    let busy = move || create.pending().get() || create.value().with(|v| matches!(v, Some(Ok(_))));

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let setup_code = Some(code.get_untracked()).filter(|code| !code.trim().is_empty());
        let first = FirstAdmin { username: username.get_untracked(), password: password.get_untracked(), setup_code };
        create.dispatch(NewAdmin { first, repeat: repeat.get_untracked() });
    };

    view! {
        <AuthCard title="Welcome" heading="Welcome to PyTask" subtitle="Create the first admin account. It can add the rest of your team afterwards.">
            <form class="form" on:submit=submit>
                <ErrorBox error=create.error() />
                <Suspense fallback=|| ()>
                    <Show when=needs_code>
                        <TextField
                            label="Setup code"
                            value=code
                            name="setup_code"
                            autocomplete="off"
                            hint="The server printed it in its log when it started: the line that says “setup code”."
                        />
                    </Show>
                </Suspense>
                <TextField label="User name" value=username error=create.field_error("username") name="username" autocomplete="username" autofocus=true />
                <TextField label="Password" value=password error=create.field_error("password") kind="password" name="password" autocomplete="new-password" />
                <TextField label="Repeat the password" value=repeat error=create.field_error("repeat") kind="password" name="repeat" autocomplete="new-password" />
                <SubmitButton label="Create admin and sign in" busy_label="Creating…" busy=Signal::derive(busy) class="wide" />
            </form>
        </AuthCard>
    }
}

/// The card both pages are: a title, a line on what it is for, the form.
#[component]
fn AuthCard(title: &'static str, heading: &'static str, subtitle: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=title />
        <div class="auth-card card">
            <h1>{heading}</h1>
            <p class="subtitle">{subtitle}</p>
            {children()}
        </div>
    }
}
