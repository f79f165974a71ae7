//! `ConfirmDialog`: asks before a destructive action, in the page (the browser's own confirm box
//! cannot be styled, blocks the page, and some browsers let users silence it). Focus starts on
//! Cancel, so a stray Enter keeps things as they are; Escape and a click beside it cancel too.
//! A failure of the action shows inside it, so the user can try again or give up. Closed, it
//! gives focus back to the control that opened it.

use leptos::html;
use leptos::prelude::*;

use crate::components::layout::ErrorBox;
use crate::hooks::{Change, ChangeState};

#[component]
pub fn ConfirmDialog(
    title: String,
    /// What will happen, in a sentence or two.
    children: Children,
    confirm_label: &'static str,
    /// The confirm button's label while the action runs.
    busy_label: &'static str,
    #[prop(into)] busy: Signal<bool>,
    #[prop(into)] error: Signal<Option<String>>,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let cancel_button = NodeRef::<html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = cancel_button.get() {
            let _ = button.focus();
        }
    });
    // Closed, the dialog gives focus back to what opened it (when that is still on the page).
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let opener = send_wrapper::SendWrapper::new(document().active_element().and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()));
        on_cleanup(move || {
            if let Some(opener) = opener.take() {
                let _ = opener.focus();
            }
        });
    }
    let cancel = move || {
        if !busy.get_untracked() {
            on_cancel.run(());
        }
    };
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            cancel();
        }
    });
    on_cleanup(move || keys.remove());

    view! {
        <div class="modal-backdrop" on:click=move |_| cancel()>
            <div class="modal card" role="alertdialog" aria-modal="true" aria-labelledby="confirm-title" aria-describedby="confirm-body"
                on:click=|ev| ev.stop_propagation()>
                <h2 id="confirm-title">{title}</h2>
                <div id="confirm-body" class="modal-body">{children()}</div>
                <ErrorBox error />
                <div class="modal-actions">
                    <button type="button" class="button" node_ref=cancel_button on:click=move |_| cancel() disabled=move || busy.get()>"Cancel"</button>
                    <button type="button" class="button danger solid" on:click=move |_| on_confirm.run(()) disabled=move || busy.get()>
                        {move || if busy.get() { busy_label } else { confirm_label }}
                    </button>
                </div>
            </div>
        </div>
    }
}

/// While `asking` holds an item, the dialog that asks before `change` is made to it: `title` asks
/// about the item, `body` says what will happen, `verb` names the button (as "Delete script", and
/// "Deleting…" while it runs), `input` gives the change's input. It closes once the change
/// succeeds; a failure shows in it.
#[component]
pub fn ConfirmChange<T, I, O>(
    asking: RwSignal<Option<T>>,
    change: Change<I, O>,
    title: fn(&T) -> String,
    body: &'static str,
    verb: (&'static str, &'static str),
    input: fn(&T) -> I,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    I: Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    change.on_success(move |_| asking.set(None));
    let (confirm_label, busy_label) = verb;
    move || {
        asking.get().map(|item| {
            let asked = input(&item);
            view! {
                <ConfirmDialog title=title(&item) confirm_label busy_label busy=change.pending() error=change.error()
                    on_confirm=Callback::new(move |_| { change.dispatch(asked.clone()); })
                    on_cancel=Callback::new(move |_| asking.set(None))>
                    <p>{body}</p>
                </ConfirmDialog>
            }
        })
    }
}
