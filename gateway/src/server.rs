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
    })
}

/// Serves HTTP (and WebSocket) on `addr` until `shutdown` completes, then lets requests in
/// flight finish.
pub async fn serve_http(
    state: AppState,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Files a crash left without a record (or a record without its renamed file) are
    // settled before anyone can upload or read.
    crate::api::users::sweep_kyc_files(&state).await;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "HTTP listening");
    // Small replies must not wait for the peer's delayed ACK (Nagle): without this a
    // WebSocket acknowledgement can sit up to 40 ms in the kernel.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = crate::api::router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
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
