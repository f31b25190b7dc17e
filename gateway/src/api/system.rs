//! `/health`, and `/metrics` — the latter served only on the separate metrics address
//! (`--metrics-addr`, loopback by default), never on the public one.

use super::table::{Access::*, BodyKind::*, GET, Routes};
use crate::core::Core;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use betbet_journal::Health;
use betbet_protocol::message::Empty;
use betbet_protocol::query::{Query, QueryReply};
use serde_json::json;

pub fn routes() -> Routes<AppState> {
    Routes::new().route("/health", &[(GET, Public, NoBody)], get(health))
}

pub fn metrics_routes() -> Routes<AppState> {
    Routes::new().route("/metrics", &[(GET, Public, NoBody)], get(metrics))
}

/// 200 when the core answers and its journal accepts writes; 503 otherwise.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let journal = match &state.core {
        Core::Local(handle) => match handle.health() {
            Health::Ok => {
                json!({ "state": "ok", "durable_seq": handle.stats().durable_seq.load(std::sync::atomic::Ordering::Relaxed) })
            }
            Health::Failed { reason } => json!({ "state": "failed", "reason": reason }),
        },
        Core::Remote(remote) => {
            json!({ "state": if remote.is_connected() { "remote" } else { "disconnected" } })
        }
    };
    let core = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        state.query(Query::Status(Empty {})),
    )
    .await;
    let (status, core) = match core {
        Ok(Ok(QueryReply::Status(status))) => (
            StatusCode::OK,
            json!({
                "reachable": true,
                "last_seq": status.last_seq,
                "users": status.users,
                "markets": status.markets,
                "live_orders": status.live_orders,
            }),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "reachable": false }),
        ),
    };
    let failed = journal["state"] == "failed";
    let status = if failed {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        status
    };
    (
        status,
        Json(json!({
            "status": if status == StatusCode::OK { "healthy" } else { "unhealthy" },
            "service": "betbet",
            "version": env!("CARGO_PKG_VERSION"),
            "core": core,
            "journal": journal,
        })),
    )
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let core = match &state.core {
        Core::Local(handle) => Some(handle.stats()),
        Core::Remote(_) => None,
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(core),
    )
}
