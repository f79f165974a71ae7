//! `LogView`: a run's output as a terminal-like pane that stays smooth at 100,000 lines and at
//! thousands of new lines a second.
//!
//! The lines live outside the reactive graph (`LogBuffer`); lines that arrive are held back and
//! moved in once per animation frame, so a burst costs one update, not one per line. Only the rows
//! in view (plus a margin) are in the DOM: every row has the same height, so the row at any scroll
//! position is a division away. The pane follows the newest line until the reader scrolls up, and
//! then offers to jump back.

use leptos::html;
use leptos::prelude::*;

use crate::model::{LogLine, LogStream};

/// Height of one row in pixels; `.log-line` in the stylesheet has the same.
const ROW_HEIGHT: f64 = 20.0;
/// Rows kept in the DOM above and below the visible ones, so a quick scroll shows no gap.
const OVERSCAN: usize = 20;
/// The pane's height until it is measured (the stylesheet's clamp lands near it).
const DEFAULT_VIEWPORT: f64 = 560.0;

/// The lines of one log, shared by whoever receives them and the view that shows them.
#[derive(Debug, Clone, Copy)]
pub struct LogBuffer {
    lines: StoredValue<Vec<LogLine>>,
    /// Received since the last frame, not yet shown.
    pending: StoredValue<Vec<LogLine>>,
    /// The longest line in characters, so the pane's width does not jump while scrolling.
    widest: StoredValue<usize>,
    /// How many lines are shown; changes once per frame at most, and is what views track.
    len: RwSignal<usize>,
}

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer {
            lines: StoredValue::new(Vec::new()),
            pending: StoredValue::new(Vec::new()),
            widest: StoredValue::new(0),
            len: RwSignal::new(0),
        }
    }
}

impl LogBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a line; it is shown with the others that arrive before the next frame.
    pub fn push(self, line: LogLine) {
        let first_of_frame = self.pending.try_update_value(|pending| {
            pending.push(line);
            pending.len() == 1
        });
        if first_of_frame == Some(true) {
            next_frame(move || self.flush());
        }
    }

    /// Lines shown (tracked).
    pub fn len(self) -> usize {
        self.len.get()
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    fn flush(self) {
        let Some(batch) = self.pending.try_update_value(std::mem::take) else { return };
        if batch.is_empty() {
            return;
        }
        let widest = batch.iter().map(|l| l.line.chars().count()).max().unwrap_or(0);
        self.widest.try_update_value(|w| *w = (*w).max(widest));
        if let Some(len) = self.lines.try_update_value(|lines| {
            lines.extend(batch);
            lines.len()
        }) {
            self.len.set(len);
        }
    }

    fn slice(self, range: (usize, usize)) -> Vec<LogLine> {
        self.lines.with_value(|lines| lines.get(range.0..range.1.min(lines.len())).map(<[_]>::to_vec).unwrap_or_default())
    }
}

#[cfg(feature = "hydrate")]
fn next_frame(f: impl FnOnce() + 'static) {
    request_animation_frame(f);
}

/// Without a browser there are no frames (and no live lines): show at once.
#[cfg(not(feature = "hydrate"))]
fn next_frame(f: impl FnOnce() + 'static) {
    f();
}

#[component]
pub fn LogView(
    log: LogBuffer,
    /// What the pane says while it has no line.
    #[prop(into)]
    empty: Signal<String>,
) -> impl IntoView {
    let scroller = NodeRef::<html::Div>::new();
    let canvas = NodeRef::<html::Div>::new();
    let scroll_top = RwSignal::new(0.0f64);
    let viewport = RwSignal::new(DEFAULT_VIEWPORT);
    let follow = RwSignal::new(true);
    // Lines there were when the reader scrolled away: the rest are "new".
    let seen = RwSignal::new(0usize);

    let visible = Memo::new(move |_| {
        let len = log.len.get();
        let first = ((scroll_top.get() / ROW_HEIGHT) as usize).saturating_sub(OVERSCAN).min(len);
        let count = (viewport.get() / ROW_HEIGHT).ceil() as usize + 2 * OVERSCAN;
        (first, (first + count).min(len))
    });

    // Size the canvas for all the lines, then keep the newest in view if following. Done here in
    // one step (not by a style binding) so the scroll always sees the new height.
    Effect::new(move |_| {
        let len = log.len.get();
        let (Some(canvas), Some(scroller)) = (canvas.get_untracked(), scroller.get_untracked()) else { return };
        let size = format!(
            "height: {}px; min-width: calc(var(--log-gutter) + {}ch + 2rem)",
            len as f64 * ROW_HEIGHT,
            log.widest.try_get_value().unwrap_or(0)
        );
        let _ = canvas.set_attribute("style", &size);
        viewport.set(scroller.client_height() as f64);
        if follow.get_untracked() {
            scroller.set_scroll_top(scroller.scroll_height());
            scroll_top.set(scroller.scroll_top() as f64);
        }
    });
    let resize = window_event_listener(leptos::ev::resize, move |_| {
        if let Some(scroller) = scroller.get_untracked() {
            viewport.set(scroller.client_height() as f64);
        }
    });
    on_cleanup(move || resize.remove());

    let on_scroll = move |_| {
        let Some(scroller) = scroller.get_untracked() else { return };
        let top = scroller.scroll_top() as f64;
        let at_bottom = top + scroller.client_height() as f64 >= scroller.scroll_height() as f64 - ROW_HEIGHT;
        // Moving up is the reader's doing (new lines only ever push the bottom down), so that
        // alone stops following; reaching the bottom again resumes it.
        let moved_up = top < scroll_top.get_untracked() - 1.0;
        scroll_top.set(top);
        if at_bottom {
            follow.set(true);
        } else if moved_up && follow.get_untracked() {
            seen.set(log.len.get_untracked());
            follow.set(false);
        }
    };
    let jump = move |_| {
        follow.set(true);
        if let Some(scroller) = scroller.get_untracked() {
            scroller.set_scroll_top(scroller.scroll_height());
        }
    };
    let unseen = move || log.len.get().saturating_sub(seen.get());

    view! {
        <div class="log-view">
            <div class="log-scroll" node_ref=scroller on:scroll=on_scroll tabindex="0" role="log" aria-label="Output">
                <div class="log-canvas" node_ref=canvas>
                    <div class="log-rows" style:transform=move || format!("translateY({}px)", visible.get().0 as f64 * ROW_HEIGHT)>
                        <For each=move || log.slice(visible.get()) key=|line| line.seq children=row />
                    </div>
                </div>
            </div>
            <Show when=move || log.is_empty()>
                <p class="log-empty">{move || empty.get()}</p>
            </Show>
            <Show when=move || !follow.get()>
                <button type="button" class="button small primary log-jump" on:click=jump>
                    {move || match unseen() {
                        0 => "↓ Jump to latest".to_string(),
                        n => format!("↓ Jump to latest ({} new)", thousands(n)),
                    }}
                </button>
            </Show>
        </div>
    }
}

/// The server's own notes in a run's log (making the environment, installing, why a run ended)
/// are shown apart from the script's output. By their stream, never their text: a script that
/// prints `[pytask] run succeeded` wrote stdout.
fn row(line: LogLine) -> impl IntoView {
    let note = line.stream == LogStream::Server;
    let stderr = line.stream == LogStream::Stderr;
    view! {
        <div class="log-line" class:stderr=stderr class:note=note title=line.stream.as_str()>
            <span class="log-gutter">
                <span class="log-seq">{line.seq}</span>
                <span class="log-at">{line.at.format("%H:%M:%S%.3f").to_string()}</span>
            </span>
            <span class="log-text">{line.line}</span>
        </div>
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
