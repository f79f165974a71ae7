//! The warning admins see on every page while runs are not isolated (SPEC "Isolation": never a
//! silent fallback). The server puts its sandbox status in the render's context; the page
//! carries the problem to the browser only for an admin, so nobody else learns the host's setup.

use leptos::prelude::*;
use leptos::server::SharedValue;

#[component]
pub fn SandboxBanner() -> impl IntoView {
    let problem = SharedValue::new(from_server).into_inner();
    problem.map(|problem| {
        view! {
            <div class="banner warning" role="alert">
                <span class="banner-icon" aria-hidden="true">"!"</span>
                <p>
                    <strong>{sentence(&problem)}</strong>
                    <span class="banner-note">"Only admins see this notice."</span>
                </p>
            </div>
        }
    })
}

/// The problem as a sentence: capitalised, ended with a full stop.
fn sentence(problem: &str) -> String {
    let mut chars = problem.trim().chars();
    let mut text: String = chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default();
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

/// Why runs are not isolated, for an admin; `None` for anyone else or when they are.
#[cfg(feature = "ssr")]
fn from_server() -> Option<String> {
    if !crate::session::use_current_user().is_admin() {
        return None;
    }
    let status = use_context::<crate::model::SandboxStatus>()?;
    (!status.isolated).then(|| status.problem.unwrap_or_else(|| "runs are not isolated".into()))
}

#[cfg(not(feature = "ssr"))]
fn from_server() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::sentence;

    #[test]
    fn the_problem_reads_as_a_sentence() {
        assert_eq!(sentence("runs are not isolated: --sandbox off"), "Runs are not isolated: --sandbox off.");
        assert_eq!(sentence("Already one."), "Already one.");
    }
}
