//! A run's status as a coloured badge, the same everywhere.

use leptos::prelude::*;

use crate::model::ExecutionStatus;

#[component]
pub fn StatusBadge(status: ExecutionStatus) -> impl IntoView {
    let label = status.as_str().replace('_', " ");
    view! { <span class=format!("status status-{}", status.as_str())>{label}</span> }
}
