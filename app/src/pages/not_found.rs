//! The page for any URL the app does not know; answers HTTP 404 when rendered on the server.

use leptos::prelude::*;

use crate::api::Failure;
use crate::components::layout::Missing;

#[component]
pub fn NotFound() -> impl IntoView {
    let failure = Failure {
        status: 404,
        message: "There is nothing at this address. It may have been deleted, or the link is mistyped.".into(),
        field: None,
    };
    view! { <Missing title="Page not found" failure home=("/", "Back to scripts") /> }
}
