//! `/executions`: every run of every script.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::PageHeader;

#[component]
pub fn ExecutionsPage() -> impl IntoView {
    view! {
        <Title text="Executions" />
        <PageHeader title="Executions" subtitle="Every run, manual or scheduled, with its full log." />
        <section class="empty-state">
            <div class="empty-icon" aria-hidden="true">"≡"</div>
            <h2>"No runs yet"</h2>
            <p>"Runs appear here as soon as a script is started."</p>
        </section>
    }
}
