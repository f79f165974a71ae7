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
use crate::components::layout::Missing;

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

/// What a page's address (its `:id`) can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Script,
    Run,
}

impl Subject {
    /// The page for an address that names no such thing this user may see (a 404 from the
    /// server), with the way back to the list.
    pub fn missing(self, failure: Failure) -> AnyView {
        let (title, home) = match self {
            Subject::Script => ("This script cannot be opened", ("/", "All scripts")),
            Subject::Run => ("This run cannot be opened", ("/executions", "All runs")),
        };
        view! { <Missing title failure home /> }.into_any()
    }

    fn noun(self) -> &'static str {
        match self {
            Subject::Script => "script",
            Subject::Run => "run",
        }
    }
}

/// A page about what its address names: `fetch` reads what the page needs of it, `show` shows
/// that; an address naming nothing (or nothing this user may see) is `Subject::missing`.
#[component]
pub fn Addressed<T, V, F, G, Fut>(subject: Subject, loading: &'static str, fetch: G, show: F) -> impl IntoView
where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
    G: Fn(i64) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Failure>> + Send + 'static,
{
    let id = use_id();
    let data = Resource::new(
        move || id.get(),
        move |id| async move {
            match id {
                Some(id) => fetch(id).await,
                None => Err(Failure { status: 404, message: format!("there is no {} at this address", subject.noun()), field: None }),
            }
        },
    );
    view! { <Loaded data loading show failed={move |failure| subject.missing(failure)} /> }
}

/// The number in the address's `:id`, if it is one.
pub fn use_id() -> Memo<Option<i64>> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("id").and_then(|id| id.parse::<i64>().ok()))
}
