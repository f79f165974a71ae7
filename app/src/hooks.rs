//! Hooks the pages share: asking the server as the user types, and the state of a change asked
//! of it (Leptos' `Action` over an API call: pending, the failure in words, the result).

use std::future::Future;

use leptos::prelude::*;

use crate::api::Failure;

/// Asks the server about what the user is typing: `ask` runs `delay` after `input` last changed,
/// and only the answer to the newest input reaches `answer` (an older one arriving late is
/// dropped). `input` giving `None` cancels the question pending.
pub fn use_debounced<I, O, Fut>(
    input: impl Fn() -> Option<I> + 'static,
    delay: std::time::Duration,
    ask: impl Fn(I) -> Fut + Copy + 'static,
    answer: impl Fn(O) + Copy + 'static,
) where
    I: 'static,
    O: 'static,
    Fut: Future<Output = O> + 'static,
{
    let round = StoredValue::new(0u64);
    Effect::new(move |_| {
        let wanted = input();
        let mine = round.get_value() + 1;
        round.set_value(mine);
        let Some(wanted) = wanted else { return };
        set_timeout(
            move || {
                if round.try_get_value() != Some(mine) {
                    return;
                }
                leptos::task::spawn_local(async move {
                    let result = ask(wanted).await;
                    if round.try_get_value() == Some(mine) {
                        answer(result);
                    }
                });
            },
            delay,
        );
    });
}

/// A change asked of the server: Leptos' `Action` over an API call. Its `pending()` disables
/// the control; the helpers below give its failure in words for the place it belongs.
pub type Change<I, O> = Action<I, Result<O, Failure>>;

/// What a page shows of a `Change`.
pub trait ChangeState<O> {
    /// The last failure, while no newer attempt is under way.
    fn failure(&self) -> Signal<Option<Failure>>;
    /// The last failure's words when they concern no one field (for an error box).
    fn error(&self) -> Signal<Option<String>>;
    /// The last failure's words when they concern `field` (for under that input).
    fn field_error(&self, field: &'static str) -> Signal<Option<String>>;
    /// Runs `then` with each success, once, outside any reactive tracking.
    fn on_success(&self, then: impl Fn(O) + 'static);
}

impl<I, O> ChangeState<O> for Change<I, O>
where
    I: Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    fn failure(&self) -> Signal<Option<Failure>> {
        let action = *self;
        Signal::derive(move || {
            if action.pending().get() {
                return None;
            }
            action.value().with(|value| match value {
                Some(Err(failure)) => Some(failure.clone()),
                _ => None,
            })
        })
    }

    fn error(&self) -> Signal<Option<String>> {
        let failure = self.failure();
        Signal::derive(move || failure.get().filter(|f| f.field.is_none()).map(|f| f.message))
    }

    fn field_error(&self, field: &'static str) -> Signal<Option<String>> {
        let failure = self.failure();
        Signal::derive(move || failure.get().and_then(|f| f.for_field(field)))
    }

    fn on_success(&self, then: impl Fn(O) + 'static) {
        let action = *self;
        // The version moves once per finished call; the value is read without tracking, so what
        // `then` reads cannot run it again.
        Effect::new(move |seen: Option<usize>| {
            let version = action.version().get();
            if seen.is_some_and(|seen| seen != version) {
                if let Some(Ok(done)) = action.value().get_untracked() {
                    untrack(|| then(done));
                }
            }
            version
        });
    }
}
