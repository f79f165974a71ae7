//! The page for any URL the app does not know; answers HTTP 404 when rendered on the server.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found" />
        <section class="empty-state not-found">
            <div class="empty-icon" aria-hidden="true">"404"</div>
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have been deleted, or the link is mistyped."</p>
            <a class="button primary" href="/">"Back to scripts"</a>
        </section>
    }
}
