//! Live events in the browser: a WebSocket to one of the server's event streams, reopened when it
//! drops, handing each `Event` to the page. Both streams share one opener; they differ in the
//! address (a run's carries the last line seen) and in when a close is the end.

use leptos::prelude::*;

use crate::model::Event;

/// Listens to `/ws/scripts/{id}` while the calling component lives. `connected` tells whether
/// the socket is open (so the page can say when live updates are paused).
pub fn use_script_events(script_id: i64, on_event: impl Fn(Event) + 'static) -> ReadSignal<bool> {
    let (connected, set_connected) = signal(false);
    #[cfg(feature = "hydrate")]
    browser::listen(browser::Stream {
        path: Box::new(move || format!("/ws/scripts/{script_id}")),
        on_event: Box::new(on_event),
        reopen: Box::new(|_| true),
        connected: set_connected,
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (script_id, on_event, set_connected);
    connected
}

/// Listens to `/ws/executions/{id}` while the calling component lives: the run's stored log
/// first, then its live events. Each log line reaches `on_event` once and in order: a reconnect
/// asks for the lines after the last one seen, and a line seen already is dropped. Once the run
/// is over and the server has closed normally, the socket stays closed.
pub fn use_execution_events(execution_id: i64, on_event: impl Fn(Event) + 'static) -> ReadSignal<bool> {
    let (connected, set_connected) = signal(false);
    #[cfg(feature = "hydrate")]
    {
        use std::cell::Cell;
        use std::rc::Rc;

        let last_seq = Rc::new(Cell::new(0i64));
        let finished = Rc::new(Cell::new(false));
        let path = {
            let last_seq = last_seq.clone();
            move || format!("/ws/executions/{execution_id}?after={}", last_seq.get())
        };
        let deliver = {
            let finished = finished.clone();
            move |event: Event| {
                match &event {
                    Event::LogOutput { seq, .. } if *seq <= last_seq.get() => return,
                    Event::LogOutput { seq, .. } => last_seq.set(*seq),
                    Event::ExecutionFinished { .. } => finished.set(true),
                    _ => {}
                }
                on_event(event);
            }
        };
        // 1000 after `execution_finished`: the log is complete. Anything else (a dropped
        // connection, 1013 for a reader that fell behind, a server going away) is a gap to fill.
        let reopen = move |code: u16| !(code == 1000 && finished.get());
        browser::listen(browser::Stream {
            path: Box::new(path),
            on_event: Box::new(deliver),
            reopen: Box::new(reopen),
            connected: set_connected,
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (execution_id, on_event, set_connected);
    connected
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    use crate::model::Event;

    /// What one live stream needs from its caller.
    pub struct Stream {
        /// The address, asked again at each (re)connect so it can carry the latest position.
        pub path: Box<dyn Fn() -> String>,
        pub on_event: Box<dyn Fn(Event)>,
        /// Whether to connect again after the server closed with this code.
        pub reopen: Box<dyn Fn(u16) -> bool>,
        pub connected: WriteSignal<bool>,
    }

    thread_local! {
        /// Whether a socket of this page was closed because its sign-in ended (the page is
        /// reloading).
        static SIGNED_OUT: Cell<bool> = const { Cell::new(false) };
    }

    /// A WebSocket event handler, kept alive while the socket may call it.
    type Handler = Closure<dyn FnMut(JsValue)>;

    struct Connection {
        stream: Stream,
        ws: RefCell<Option<web_sys::WebSocket>>,
        handlers: RefCell<Vec<Handler>>,
        closed_by_us: Cell<bool>,
        attempts: Cell<u32>,
    }

    pub fn listen(stream: Stream) {
        let connection = Rc::new(Connection {
            stream,
            ws: RefCell::new(None),
            handlers: RefCell::new(Vec::new()),
            closed_by_us: Cell::new(false),
            attempts: Cell::new(0),
        });
        open(connection.clone());
        let connection = SendWrapper::new(connection);
        on_cleanup(move || {
            let connection = connection.take();
            connection.closed_by_us.set(true);
            if let Some(ws) = connection.ws.borrow_mut().take() {
                // Unhooked before the handlers are dropped: the browser must not call them.
                detach(&ws);
                let _ = ws.close();
            }
            connection.handlers.borrow_mut().clear();
        });
    }

    fn open(connection: Rc<Connection>) {
        let location = window().location();
        let scheme = if location.protocol().as_deref() == Ok("https:") { "wss" } else { "ws" };
        let host = location.host().unwrap_or_default();
        let path = (connection.stream.path)();
        let Ok(ws) = web_sys::WebSocket::new(&format!("{scheme}://{host}{path}")) else { return };

        let on_open = {
            let connection = connection.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| {
                connection.attempts.set(0);
                connection.stream.connected.set(true);
            })
        };
        let on_message = {
            let connection = connection.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |message: JsValue| {
                let message: web_sys::MessageEvent = message.unchecked_into();
                if let Some(text) = message.data().as_string() {
                    if let Ok(event) = serde_json::from_str::<Event>(&text) {
                        (connection.stream.on_event)(event);
                    }
                }
            })
        };
        let on_close = {
            let connection = connection.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                connection.stream.connected.set(false);
                let code = event.unchecked_into::<web_sys::CloseEvent>().code();
                if connection.closed_by_us.get() {
                    return;
                }
                // 1008: the sign-in no longer holds (signed out, idle, disabled, demoted …).
                // Reconnecting would be refused: the page loaded again (once, however many of
                // its sockets close) sends the person to sign in, or shows what their new role
                // may see.
                if code == 1008 {
                    if !SIGNED_OUT.replace(true) {
                        if let Some(window) = web_sys::window() {
                            let _ = window.location().reload();
                        }
                    }
                    return;
                }
                if !(connection.stream.reopen)(code) {
                    return;
                }
                // Back off: 0.5 s, 1 s, 2 s … up to 10 s between attempts.
                let tries = connection.attempts.get();
                connection.attempts.set(tries + 1);
                let delay = (500u64 << tries.min(5)).min(10_000);
                let connection = connection.clone();
                set_timeout(
                    move || {
                        if !connection.closed_by_us.get() {
                            open(connection);
                        }
                    },
                    std::time::Duration::from_millis(delay),
                );
            })
        };
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        if let Some(old) = connection.ws.borrow_mut().replace(ws) {
            detach(&old);
        }
        *connection.handlers.borrow_mut() = vec![on_open, on_message, on_close];
    }

    fn detach(ws: &web_sys::WebSocket) {
        ws.set_onopen(None);
        ws.set_onmessage(None);
        ws.set_onclose(None);
    }
}
