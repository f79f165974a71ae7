//! The frame of every page: header with the product name, the main navigation, the signed-in
//! user with their menu, the theme switch, and the admins' sandbox warning.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::{self, Failure};
use crate::browser;
use crate::components::sandbox_banner::SandboxBanner;
use crate::session::use_current_user;
use crate::theme::ThemeToggle;

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let user = use_current_user();
    let signed_in = user.0.is_some();
    view! {
        <div class="app">
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"▶"</span>
                    <span class="brand-name">"PyTask"</span>
                </a>
                {signed_in.then(|| view! {
                    <nav class="mainnav" aria-label="Main">
                        <A href="/" exact=true>"Scripts"</A>
                        <A href="/executions">"Executions"</A>
                        <A href="/settings/env" attr:title="Variables and secrets every script's runs get">"Variables"</A>
                        {user.is_admin().then(|| view! { <A href="/users">"Users"</A> })}
                    </nav>
                })}
                <div class="topbar-end">
                    <ThemeToggle />
                    {user.0.clone().map(|me| view! { <UserMenu username=me.username role=me.role.as_str() /> })}
                </div>
            </header>
            <main class="content">
                <SandboxBanner />
                {children()}
            </main>
        </div>
    }
}

#[component]
fn UserMenu(username: String, role: &'static str) -> impl IntoView {
    // Whatever the answer, the session is unusable now: go to the sign-in page.
    let sign_out = Action::new(|_: &()| {
        let signed_out = api::auth::logout();
        async move {
            let _ = signed_out.await;
            browser::go_to("/login");
        }
    });
    let signing_out = move || sign_out.pending().get() || sign_out.version().get() > 0;
    view! {
        <div class="user-menu">
            <A href="/settings/tokens" attr:class="user-chip" attr:title="Your API tokens">
                <span class="avatar" aria-hidden="true">{username.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default()}</span>
                <span class="user-name">{username.clone()}</span>
                <span class="role-badge">{role}</span>
            </A>
            <button type="button" class="button ghost" on:click=move |_| { sign_out.dispatch(()); } disabled=signing_out>
                {move || if signing_out() { "Signing out…" } else { "Sign out" }}
            </button>
        </div>
    }
}

/// A page's title row: heading, optional sub-line, and actions on the right.
#[component]
pub fn PageHeader(title: &'static str, #[prop(optional)] subtitle: Option<&'static str>) -> impl IntoView {
    view! {
        <div class="page-header">
            <div>
                <h1>{title}</h1>
                {subtitle.map(|text| view! { <p class="subtitle">{text}</p> })}
            </div>
        </div>
    }
}

/// A form field: label, control, and the error for it if any.
#[component]
pub fn Field(label: &'static str, #[prop(into, optional)] error: MaybeProp<String>, children: Children) -> impl IntoView {
    view! {
        <label class="field">
            <span class="field-label">{label}</span>
            {children()}
            <Show when=move || error.get().is_some()>
                <span class="field-error" role="alert">{move || error.get()}</span>
            </Show>
        </label>
    }
}

/// A required text (or password) input in a `Field`, bound to `value`.
#[component]
pub fn TextField(
    label: &'static str,
    value: RwSignal<String>,
    #[prop(into, optional)] error: MaybeProp<String>,
    /// The input's type: "text" unless given ("password").
    #[prop(optional)]
    kind: Option<&'static str>,
    #[prop(optional)] name: Option<&'static str>,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] placeholder: Option<&'static str>,
    #[prop(optional)] autofocus: bool,
    /// A line under the input on what to enter.
    #[prop(optional)]
    hint: Option<&'static str>,
) -> impl IntoView {
    view! {
        <Field label error>
            <input type=kind.unwrap_or("text") name=name autocomplete=autocomplete placeholder=placeholder required autofocus=autofocus
                bind:value=value />
            {hint.map(|hint| view! { <span class="field-hint">{hint}</span> })}
        </Field>
    }
}

/// A form's submit button, disabled and saying `busy_label` while the form's change is under way.
#[component]
pub fn SubmitButton(
    label: &'static str,
    busy_label: &'static str,
    #[prop(into)] busy: Signal<bool>,
    /// Classes beside "button primary" ("wide").
    #[prop(optional)]
    class: &'static str,
) -> impl IntoView {
    view! {
        <button type="submit" class=format!("button primary {class}") disabled=move || busy.get()>
            {move || if busy.get() { busy_label } else { label }}
        </button>
    }
}

/// An error box for problems not tied to one field.
#[component]
pub fn ErrorBox(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || error.get().is_some()>
            <div class="alert error" role="alert">{move || error.get()}</div>
        </Show>
    }
}

/// An address that names nothing (or nothing this user may see); a 404 when the server renders
/// it. `home` is where to go instead: (address, label).
#[component]
pub fn Missing(title: &'static str, failure: Failure, home: (&'static str, &'static str)) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(failure.status) {
            response.set_status(status);
        }
    }
    let (href, label) = home;
    view! {
        <Title text=title />
        <section class="empty-state not-found">
            <div class="empty-icon" aria-hidden="true">{if failure.status == 404 { "404" } else { "!" }}</div>
            <h1>{title}</h1>
            <p>{failure.message}</p>
            <a class="button primary" href=href>{label}</a>
        </section>
    }
}
