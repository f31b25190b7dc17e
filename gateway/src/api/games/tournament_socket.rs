//! WebSocket `/ws/tournament/{tournament_id}` (and `tournament` rooms of
//! `/ws/{room_type}/{room_id}`): one tournament's room, for its players and anyone
//! watching (a token is optional: tournaments are public).
//!
//! The connection starts with a `snapshot` — the bracket as `GET
//! /tournaments/{id}/bracket` answers it — with the tournament's version as `seq`; then
//! every change arrives as a `tournament_update`: what changed (`registered`,
//! `unregistered`, `started`, `match_ready` with the match and its new session — the two
//! players are called to it —, `match_ended`, `completed`, `cancelled`), who caused it,
//! and the bracket after it. Each `seq` is the previous one plus one, so a client sees a
//! gap (and reconnects for a fresh snapshot). The room closes with 1000 after the update
//! that completes or cancels the tournament. It is read-only: the client may send `ping`.
//!
//! The market socket's limits apply: message size, a bounded queue from the hub (a client
//! that falls behind is closed with 1008), the request rate, pings and an idle timeout.

use super::tournaments::{bracket_json, fetch_tournament, parse_tournament};
use crate::api::ws::{self, ClientMessage, IDLE_TIMEOUT, PING_INTERVAL, SocketParams};
use crate::config::RouteClass;
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::limits::Client;
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use betbet_protocol::event::Event;
use betbet_protocol::tournaments::{TournamentChanged, TournamentId, TournamentStatus};
use betbet_protocol::types::UserId;
use serde_json::json;
use std::time::Instant;

/// Messages a connection may send between two of the server's pings (the room takes only
/// `ping`: anything near this is a misbehaving client).
const MESSAGES_PER_PING_MAX: u32 = 100;

/// A tournament's room over a WebSocket: the bracket, then every change in one gap-free
/// sequence (docs/protocols.md, "Tournament rooms").
#[utoipa::path(get, path = "/ws/tournament/{tournament_id}", tag = "websocket", params(
        ("tournament_id" = String, Path, description = "the tournament's id, `trn_<n>`"),
        SocketParams,
    ),
    responses((status = 101, description = "Switching Protocols: the WebSocket of docs/protocols.md"),
        (status = 401, body = crate::error::ErrorBody, description = crate::api::doc::SOCKET_401),
        (status = 403, body = crate::error::ErrorBody, description = crate::api::doc::SOCKET_403),
        (status = 404, body = crate::error::ErrorBody, description = "No such tournament")))]
pub(crate) async fn tournament_socket(
    State(state): State<AppState>,
    Path(tournament_id): Path<String>,
    QueryParams(params): QueryParams<SocketParams>,
    headers: HeaderMap,
    slot: ws::Slot,
    upgrade: ws::Upgrade,
) -> Response {
    let accepted = accept(&state, &tournament_id, params, &headers).await;
    let (tournament, user) = match accepted {
        Ok(accepted) => accepted,
        Err(error) => return error.into_response(),
    };
    match upgrade {
        Ok(upgrade) => ws::bounded(upgrade).on_upgrade({
            let span = tracing::Span::current();
            move |mut socket| {
                tracing::Instrument::instrument(
                    async move {
                        state.metrics.ws_connected(1);
                        serve(&state, &mut socket, tournament, user).await;
                        state.metrics.ws_connected(-1);
                        drop(slot);
                    },
                    span,
                )
            }
        }),
        Err(rejection) => ws::not_a_socket(rejection),
    }
}

async fn accept(
    state: &AppState,
    tournament_id: &str,
    params: SocketParams,
    headers: &HeaderMap,
) -> ApiResult<(TournamentId, Option<UserId>)> {
    ws::check_origin(state, headers)?;
    let tournament = parse_tournament(tournament_id)?;
    // A token, when given, must be valid (it names who is watching in the logs).
    let user = ws::token_user(state, params, headers)
        .await?
        .map(|u| u.user);
    fetch_tournament(state, tournament).await?;
    Ok((tournament, user))
}

fn update_message(changed: &TournamentChanged) -> Message {
    let update = json!({
        "change": changed.change.as_str(),
        "user_id": (changed.user != UserId::SYSTEM).then(|| changed.user.public()),
        "match_index": changed.match_index,
        "session_id": changed.session.map(|s| s.public()),
        "bracket": bracket_json(&changed.view),
    });
    ws::envelope("tournament_update", None, Some(changed.version), update)
}

fn ended(status: TournamentStatus) -> bool {
    matches!(
        status,
        TournamentStatus::Completed | TournamentStatus::Cancelled
    )
}

/// The room's life: the snapshot, then the tournament's changes until it ends.
async fn serve(
    state: &AppState,
    socket: &mut WebSocket,
    tournament: TournamentId,
    user: Option<UserId>,
) {
    // Registered before the snapshot: every change after it reaches the queue.
    let mut registration = state.hub.register(None);
    registration.follow_tournament(tournament);
    let view = match fetch_tournament(state, tournament).await {
        Ok(view) => view,
        Err(error) => {
            ws::write(socket, [ws::error_message(None, &error)]).await;
            ws::close(socket, 1011, "snapshot unavailable").await;
            return;
        }
    };
    let mut seq = view.version;
    let snapshot = json!({ "bracket": bracket_json(&view) });
    if !ws::write(
        socket,
        [ws::envelope("snapshot", None, Some(seq), snapshot)],
    )
    .await
    {
        return;
    }
    if ended(view.status) {
        ws::close(socket, 1000, "the tournament has ended").await;
        return;
    }
    // A signed-in watcher's messages count against their gaming rate; an anonymous one's
    // against [`MESSAGES_PER_PING_MAX`] between two pings.
    let mut received = 0u32;
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    let mut last_seen = Instant::now();
    let mut out = Vec::new();
    loop {
        out.clear();
        tokio::select! {
            batch = registration.queue.recv() => {
                let batch = match ws::room_batch(batch, &registration) {
                    Ok(batch) => batch,
                    Err((code, reason)) => {
                        ws::close(socket, code, reason).await;
                        return;
                    }
                };
                let mut over = false;
                for (event, slots) in batch.events() {
                    if let Event::TournamentChanged(changed) = event
                        && changed.tournament == tournament
                        && changed.version > seq
                    {
                        seq = changed.version;
                        out.push(slots.public.get_or_init(|| update_message(changed)).clone());
                        over |= ended(changed.status);
                    }
                }
                if over {
                    ws::write(socket, out.drain(..)).await;
                    ws::close(socket, 1000, "the tournament has ended").await;
                    return;
                }
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                last_seen = Instant::now();
                let text = match message {
                    Message::Text(text) => text,
                    Message::Close(_) => return,
                    Message::Binary(_) | Message::Ping(_) | Message::Pong(_) => continue,
                };
                received += 1;
                if received > MESSAGES_PER_PING_MAX {
                    ws::close(socket, 1008, "too many messages").await;
                    return;
                }
                let limited = user.is_some_and(|u| {
                    state.limiter.check(Client::User(u.0), RouteClass::Gaming, 1).is_err()
                });
                if limited {
                    out.push(ws::error_message(None, &ApiError::rate_limited(1)));
                } else {
                    out.push(answer(&text));
                }
            }
            _ = ping.tick() => {
                received = 0;
                if last_seen.elapsed() > IDLE_TIMEOUT {
                    ws::close(socket, 1001, "idle timeout").await;
                    return;
                }
                out.push(Message::Ping(Vec::new().into()));
            }
        }
        if !out.is_empty() && !ws::write(socket, out.drain(..)).await {
            return;
        }
    }
}

/// The room is read-only: `ping` is answered, anything else refused.
fn answer(text: &str) -> Message {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(request) if request.kind == "ping" => {
            ws::envelope("pong", request.request_id.as_ref(), None, json!({}))
        }
        Ok(request) => ws::error_message(
            request.request_id.as_ref(),
            &ApiError::bad_request(format!(
                "unknown message type `{}` (a tournament room is read-only: it takes ping)",
                request.kind
            )),
        ),
        Err(error) => ws::error_message(None, &ApiError::bad_request(error.to_string())),
    }
}
