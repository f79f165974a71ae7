//! `/settings/env`: the variables and secrets every script's runs get. Admins change them;
//! everyone signed in reads the names and the variables' values (a secret's value is shown to
//! no one).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::env::Owner;
use crate::components::env_panel::EnvPanel;
use crate::components::layout::PageHeader;
use crate::session::use_current_user;

#[component]
pub fn EnvPage() -> impl IntoView {
    let is_admin = use_current_user().is_admin();
    view! {
        <Title text="Variables & secrets" />
        <PageHeader title="Variables & secrets"
            subtitle="Environment variables for every script's runs. Secrets are write-only and show as *** in run output." />
        {(!is_admin).then(|| view! {
            <div class="alert">"Only admins change the global variables. Editors give a script its own on the script's page."</div>
        })}
        <EnvPanel owner=Owner::Global />
    }
}
