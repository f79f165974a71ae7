//! The HTTP/1 accept loop. It is `axum::serve`'s, plus the one thing axum 0.8 cannot be told:
//! hyper's header-read timeout. axum gives hyper no timer, and without one that timeout never
//! fires, so a client that sends its headers a byte at a time (or connects and sends nothing)
//! would hold a connection and its task forever; here hyper gets a timer and
//! `--client-timeout-seconds`, covering idle keep-alive connections as well.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// Serves `router` until `shutdown`, then lets open requests finish (as `axum::serve` does with
/// graceful shutdown) before returning. Requests carry `ConnectInfo<SocketAddr>`.
pub async fn serve(listener: TcpListener, router: Router, header_timeout: Duration, shutdown: impl Future<Output = ()>) {
    // Dropping `stop` tells every connection to finish; each holds a `done` receiver, so
    // `finished.closed()` resolves once the last connection has ended.
    let (stop, stopping) = watch::channel(());
    let (finished, done) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = router.clone().map_request(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let mut stopping = stopping.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_end(peer, result),
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    log_end(peer, connection.await);
                }
            }
            drop(done);
        });
    }
    drop(listener);
    drop(stop);
    drop(done);
    finished.closed().await;
}

fn log_end(peer: SocketAddr, result: Result<(), hyper::Error>) {
    if let Err(err) = result {
        // A header timeout, a reset or a malformed request: the client's doing, not ours.
        tracing::debug!(%peer, %err, "connection ended with an error");
    }
}

/// A failed accept that is not about one connection is usually the open-files limit: wait a
/// second for connections to close rather than spin (what hyper 0.14 and axum do).
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(err.kind(), ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset) {
        return;
    }
    tracing::error!(%err, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
