//! The viewer of `bench/runs.py`: reads one run's events from `/ws/executions/{id}?after=0`,
//! checks that every `log_output` arrives once and in order, and stops at
//! `execution_finished`. A client of its own process, in Rust, so that reading a million
//! frames costs the measuring side little CPU (a Python client spends ~5 µs per frame, a core's
//! worth on a 2-core machine, taken from the server and the script it measures).
//!
//! Usage: ws_viewer <ws://host:port/ws/executions/ID?after=0> <cookie>
//! Prints one JSON line: {"lines": N, "status": "...", "seconds": S} (S: connect → finished).

use futures_util::StreamExt;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The fields the viewer checks; the rest of each event is skipped unread.
#[derive(Deserialize)]
struct Seen {
    #[serde(rename = "type")]
    kind: String,
    seq: Option<i64>,
    status: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(cookie)) = (args.next(), args.next()) else {
        eprintln!("usage: ws_viewer <ws url> <cookie>");
        std::process::exit(2);
    };
    let began = std::time::Instant::now();
    let mut request = url.into_client_request().expect("a ws:// URL");
    request.headers_mut().insert("cookie", cookie.parse().expect("a cookie header value"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("the WebSocket opens");
    let mut expected = 1i64;
    let mut status = None;
    while let Some(message) = socket.next().await {
        let text = match message.expect("the WebSocket stays up") {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        let seen: Seen = serde_json::from_str(&text).expect("each frame is an event");
        match seen.kind.as_str() {
            "log_output" => {
                let seq = seen.seq.expect("a log_output has a seq");
                assert_eq!(seq, expected, "lines arrive once and in order");
                expected += 1;
            }
            "execution_finished" => {
                status = seen.status;
                break;
            }
            _ => {}
        }
    }
    let seconds = began.elapsed().as_secs_f64();
    println!("{}", serde_json::json!({ "lines": expected - 1, "status": status, "seconds": seconds }));
}
