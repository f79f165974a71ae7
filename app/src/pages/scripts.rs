//! `/`: the scripts of the team.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::PageHeader;

#[component]
pub fn ScriptsPage() -> impl IntoView {
    view! {
        <Title text="Scripts" />
        <PageHeader title="Scripts" subtitle="Python scripts with their own dependencies, run by hand or on a schedule." />
        <section class="empty-state">
            <div class="empty-icon" aria-hidden="true">"{ }"</div>
            <h2>"No scripts yet"</h2>
            <p>"Scripts you add appear here with their tags and the status of their last run."</p>
        </section>
    }
}
