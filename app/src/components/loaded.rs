//! How a page loads its data: a `Resource` read while the server renders the page, so a shared
//! link shows the data in the first HTML, and read again in the browser when what it depends on
//! changes. `Loaded` shows it: a line while it comes, then the page's view of it, or the failure
//! in words. Lists only the browser needs (suggestions, the zones of a form) are
//! `LocalResource`s instead, kept out of the page's HTML.

use std::future::Future;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::Failure;

/// `data` once it has come: `show` with it, or its failure (in an error box, or as `failed`
/// shows it). The previous view stays while it is read again.
#[component]
pub fn Loaded<T, V, F>(
    data: Resource<Result<T, Failure>>,
    /// What is being loaded, in words: "Loading runs…".
    loading: &'static str,
    show: F,
    #[prop(optional, into)] failed: Option<Callback<Failure, AnyView>>,
) -> impl IntoView
where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=move || view! { <p class="loading">{loading}</p> }>
            {move || {
                let show = show.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(data) => show(data).into_any(),
                        Err(failure) => match failed {
                            Some(failed) => failed.run(failure),
                            None => view! { <div class="alert error" role="alert">{failure.message}</div> }.into_any(),
                        },
                    }
                })
            }}
        </Transition>
    }
}

/// The number in the address's `:id`, if it is one.
pub fn use_id() -> Memo<Option<i64>> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("id").and_then(|id| id.parse::<i64>().ok()))
}

/// What the address's `:id` names, as `fetch` reads it; a 404 in words (`what` names the kind)
/// when the address holds no number.
pub fn use_addressed<T, Fut>(what: &'static str, fetch: impl Fn(i64) -> Fut + Copy + Send + Sync + 'static) -> Resource<Result<T, Failure>>
where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Failure>> + Send + 'static,
{
    let id = use_id();
    Resource::new(
        move || id.get(),
        move |id| async move {
            match id {
                Some(id) => fetch(id).await,
                None => Err(Failure { status: 404, message: format!("there is no {what} at this address"), field: None }),
            }
        },
    )
}
