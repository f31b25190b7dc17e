//! Assembling and running a gateway: state, event forwarding, the HTTP server and its
//! graceful shutdown.

use crate::auth::{Keys, PasswordHasherPool};
use crate::config::GatewayConfig;
use crate::core::{Core, EVENT_BROADCAST_MAX};
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::state::{AppState, SessionCache};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Builds the shared state and starts forwarding the core's events into it.
pub fn build_state(core: Core, config: GatewayConfig) -> std::io::Result<AppState> {
    let keys = Keys::load(&config.secrets_dir)?;
    let (events, _) = broadcast::channel(EVENT_BROADCAST_MAX);
    core.forward_events(events.clone())
        .map_err(|e| std::io::Error::other(e.message))?;
    let sessions = Arc::new(SessionCache::default());
    // Keep the session cache honest: revocations and user changes evict at once.
    let mut feed = events.subscribe();
    let cache = Arc::clone(&sessions);
    tokio::spawn(async move {
        loop {
            match feed.recv().await {
                Ok(batch) if crate::core::is_gap(&batch) => cache.clear(),
                Ok(batch) => cache.observe(&batch),
                Err(broadcast::error::RecvError::Lagged(_)) => cache.clear(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    // One dispatcher hands each batch to the connections it concerns.
    let hub = Arc::new(crate::hub::Hub::default());
    tokio::spawn(crate::hub::dispatch_events(
        Arc::clone(&hub),
        events.subscribe(),
    ));
    Ok(AppState {
        core,
        hasher: PasswordHasherPool::new(config.password_hash_workers),
        limiter: Arc::new(RateLimiter::new(config.rate_limits.clone())),
        config: Arc::new(config),
        keys: Arc::new(keys),
        sessions,
        metrics: Arc::new(Metrics::default()),
        hub,
        events,
        shapes: Arc::default(),
        history: None,
        seats: Arc::default(),
        local_rooms: Arc::default(),
    })
}

/// Serves HTTP (and WebSocket) on `addr` until `shutdown` completes, then lets requests in
/// flight finish (for up to [`SHUTDOWN_GRACE`]).
///
/// Connections are bounded and timed (see [`HttpLimits`]): a client must send each
/// request's headers within `header_read_timeout` of the connection opening or of the
/// previous response — so a client that trickles a request, or sits idle on a keep-alive
/// connection, is closed — and no more than `connections_max` connections (and
/// `connections_per_ip_max` from one address) are open at once, WebSockets included; one
/// over a cap is answered 503 and closed.
pub async fn serve_http(
    state: AppState,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Files a crash left without a record (or a record without its renamed file) are
    // settled before anyone can upload or read.
    crate::api::users::sweep_kyc_files(&state).await;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "HTTP listening");
    let limits = state.config.http_limits;
    serve_router(listener, crate::api::router(state), limits, shutdown).await
}

/// Serves `/metrics` on its own address (for Prometheus on a private network), with the same
/// connection bounds, until the process ends.
pub async fn serve_metrics(state: AppState, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    let limits = state.config.http_limits;
    let app = crate::api::metrics_router(state);
    tokio::spawn(serve_router(listener, app, limits, std::future::pending()));
    Ok(())
}

async fn serve_router(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let table = Arc::new(ConnectionTable::new(limits));
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small replies must not wait for the peer's delayed ACK (Nagle): without this a
        // WebSocket acknowledgement can sit up to 40 ms in the kernel.
        let _ = tcp.set_nodelay(true);
        let Some(slot) = table.admit(peer.ip()) else {
            tokio::spawn(refuse(tcp));
            continue;
        };
        let slot = Arc::new(slot);
        let service = {
            use tower::Service;
            match make_service.call(peer).await {
                Ok(service) => service,
                Err(never) => match never {},
            }
        };
        let service = hyper::service::service_fn(
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                // A WebSocket takes the slot into its own task, so it counts while it lives.
                request.extensions_mut().insert(Arc::clone(&slot));
                tower::ServiceExt::oneshot(service.clone(), request)
            },
        );
        let connection = builder
            .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
            .with_upgrades();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let stopping = async move {
                // (The guard `wait_for` returns is not `Send`: drop it here.)
                let _ = stopped.wait_for(|stop| *stop).await.is_ok();
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, table.drained()).await;
    Ok(())
}

/// How long a stopping server waits for requests in flight.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The HTTP server's connection bounds (see [`serve_http`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub header_read_timeout: std::time::Duration,
    pub connections_max: usize,
    pub connections_per_ip_max: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: std::time::Duration::from_secs(10),
            connections_max: 10_000,
            connections_per_ip_max: 256,
        }
    }
}

/// Open connections, in all and per address.
#[derive(Debug)]
pub struct ConnectionTable {
    limits: HttpLimits,
    open: std::sync::Mutex<(usize, std::collections::HashMap<std::net::IpAddr, usize>)>,
    closed: tokio::sync::Notify,
}

/// One admitted connection; dropping it (when the connection and any WebSocket it became
/// have ended) frees its place.
#[derive(Debug)]
pub struct ConnectionSlot {
    table: Arc<ConnectionTable>,
    ip: std::net::IpAddr,
}

impl ConnectionTable {
    fn new(limits: HttpLimits) -> Self {
        ConnectionTable {
            limits,
            open: Default::default(),
            closed: tokio::sync::Notify::new(),
        }
    }

    fn admit(self: &Arc<Self>, ip: std::net::IpAddr) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().expect("connection table lock");
        let (total, per_ip) = &mut *open;
        let from_ip = per_ip.get(&ip).copied().unwrap_or(0);
        if *total >= self.limits.connections_max || from_ip >= self.limits.connections_per_ip_max {
            return None;
        }
        *total += 1;
        per_ip.insert(ip, from_ip + 1);
        Some(ConnectionSlot {
            table: Arc::clone(self),
            ip,
        })
    }

    async fn drained(&self) {
        loop {
            let closed = self.closed.notified();
            if self.open.lock().expect("connection table lock").0 == 0 {
                return;
            }
            closed.await;
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().expect("connection table lock");
        let (total, per_ip) = &mut *open;
        *total -= 1;
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
        drop(open);
        self.table.closed.notify_waiters();
    }
}

/// Answers a connection over a cap with a 503 in the error envelope, and closes it.
async fn refuse(mut tcp: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let body = r#"{"error":{"code":"too_many_connections","message":"too many open connections; retry shortly"}}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        tcp.write_all(response.as_bytes()),
    )
    .await;
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down: finishing requests, then draining and snapshotting the core");
}
