//! WebSocket `/ws/voice/{channel_id}`: WebRTC signalling for a voice channel — no media
//! passes through us. A channel is a chat room's (`com_<n>` for a community's active,
//! unbanned members, `dm_<n>` for a conversation's two users), checked at the handshake
//! as the chat room is; one connection per user and at most [`VOICE_PARTICIPANTS_MAX`]
//! participants.
//!
//! The connection starts with `joined` (the participants); every arrival and departure
//! reaches the others as `presence`. A client sends `offer`, `answer` and `ice_candidate`
//! with `data.to` naming one participant; the server relays it to that participant alone,
//! with `data.from` stamped as the sender's own id (whatever the client put there), and
//! answers `signal_sent` — or `error` `not_in_channel` when the target is not connected to
//! the channel. Nothing is relayed outside the channel. A member banned from the community
//! is closed out with 4004.

use super::chat_socket::{CLOSE_NOT_IN_ROOM, ending, room_member};
use super::local::{JoinRefused, Joined, Place};
use super::messages::fetch_room;
use super::messages::room_public;
use crate::api::ws::{
    self, CLOSE_TOKEN_EXPIRED, ClientMessage, IDLE_TIMEOUT, PING_INTERVAL, SocketParams,
};
use crate::config::RouteClass;
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::limits::Client;
use crate::state::{AppState, AuthUser};
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use betbet_protocol::social::RoomRef;
use betbet_protocol::types::UserId;
use serde_json::{Value, json};
use std::time::Instant;

/// Participants of one voice channel (a full mesh of peer connections grows with the
/// square of this).
pub const VOICE_PARTICIPANTS_MAX: usize = 16;

/// A voice channel's signalling over a WebSocket (docs/protocols.md, "Voice channels").
#[utoipa::path(get, path = "/ws/voice/{channel_id}", tag = "websocket", params(
        ("channel_id" = String, Path, description = "the channel: a community's `com_<n>` or a conversation's `dm_<n>`"),
        SocketParams,
    ),
    responses((status = 101, description = "Switching Protocols: the WebSocket of docs/protocols.md"),
        (status = 401, body = crate::error::ErrorBody, description = crate::api::doc::SOCKET_401),
        (status = 403, body = crate::error::ErrorBody, description = "Not a member of the community (or banned there), or the `Origin` is not allowed"),
        (status = 404, body = crate::error::ErrorBody, description = "No such community, or no such conversation of the caller's"),
        (status = 409, body = crate::error::ErrorBody, description = "The channel is full, or the caller is in it from another connection")))]
pub(crate) async fn voice_socket(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    QueryParams(params): QueryParams<SocketParams>,
    headers: HeaderMap,
    slot: ws::Slot,
    upgrade: ws::Upgrade,
) -> Response {
    match accept(&state, &channel_id, params, &headers).await {
        Ok((room, user)) => {
            ws::serve_room(state, slot, upgrade, move |state, mut socket| async move {
                serve(&state, &mut socket, room, user).await;
            })
        }
        Err(error) => error.into_response(),
    }
}

fn refused(why: JoinRefused) -> ApiError {
    match why {
        JoinRefused::Full => ApiError::new(
            StatusCode::CONFLICT,
            "channel_full",
            format!("a voice channel takes at most {VOICE_PARTICIPANTS_MAX} participants"),
        ),
        JoinRefused::AlreadyIn => ApiError::new(
            StatusCode::CONFLICT,
            "already_in_channel",
            "you are in this voice channel from another connection",
        ),
    }
}

async fn accept(
    state: &AppState,
    channel_id: &str,
    params: SocketParams,
    headers: &HeaderMap,
) -> ApiResult<(RoomRef, AuthUser)> {
    let (room, user, view) =
        room_member(state, channel_id, params, headers, "voice channel").await?;
    if view.viewer_blocked {
        return Err(ApiError::from(
            betbet_protocol::result::ResultCode::UserBlocked,
        ));
    }
    // Checked again when the socket joins (another may have come in between).
    let present = state.local_rooms.users(Place::Voice(room));
    if present.contains(&user.user) {
        return Err(refused(JoinRefused::AlreadyIn));
    }
    if present.len() >= VOICE_PARTICIPANTS_MAX {
        return Err(refused(JoinRefused::Full));
    }
    Ok((room, user))
}

fn presence(state: &AppState, room: RoomRef, user: UserId, change: &str) -> Message {
    let participants = state.local_rooms.users(Place::Voice(room));
    ws::envelope(
        "presence",
        None,
        None,
        json!({
            "channel_id": room_public(room),
            "change": change,
            "user_id": user.public(),
            "participants": participants.iter().map(|u| u.public()).collect::<Vec<_>>(),
        }),
    )
}

async fn serve(state: &AppState, socket: &mut WebSocket, room: RoomRef, user: AuthUser) {
    // Registered before anything is checked again: a ban or a revoked session after the
    // handshake either shows in the check below or reaches the queue.
    let registration = state.hub.register(Some(user.user));
    registration.follow_room(room);
    if let Some((code, reason)) = ws::session_ended(state, Some(user)).await {
        ws::close(socket, code, reason).await;
        return;
    }
    match fetch_room(state, room, user.user).await {
        Ok(view) if view.viewer_may_read && !view.viewer_blocked => {}
        Ok(_) => {
            ws::close(socket, CLOSE_NOT_IN_ROOM, "not a member of the room").await;
            return;
        }
        Err(error) => {
            ws::write(socket, [ws::error_message(None, &error)]).await;
            ws::close(socket, 1011, "the channel is unavailable").await;
            return;
        }
    }
    let joined =
        match state
            .local_rooms
            .join(Place::Voice(room), user.user, VOICE_PARTICIPANTS_MAX, true)
        {
            Ok(joined) => joined,
            Err(why) => {
                ws::write(socket, [ws::error_message(None, &refused(why))]).await;
                ws::close(socket, 1008, "cannot join the channel").await;
                return;
            }
        };
    joined.to_others(&presence(state, room, user.user, "joined"));
    run(state, socket, room, user, (joined, registration)).await;
    // Gone (the membership was dropped with `run`): the others hear it.
    let left = presence(state, room, user.user, "left");
    state.local_rooms.broadcast(Place::Voice(room), &left);
}

async fn run(
    state: &AppState,
    socket: &mut WebSocket,
    room: RoomRef,
    mut user: AuthUser,
    (mut joined, mut registration): (Joined, crate::hub::Registration),
) {
    let participants = state.local_rooms.users(Place::Voice(room));
    let hello = ws::envelope(
        "joined",
        None,
        None,
        json!({
            "channel_id": room_public(room),
            "user_id": user.user.public(),
            "participants": participants.iter().map(|u| u.public()).collect::<Vec<_>>(),
            "max_participants": VOICE_PARTICIPANTS_MAX,
        }),
    );
    if !ws::write(socket, [hello]).await {
        return;
    }
    let mut expiry = std::pin::pin!(tokio::time::sleep_until(ws::token_deadline(&user)));
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
                let mut ending_now = None;
                let mut recheck = false;
                for (event, _) in batch.events() {
                    match ending(event, room, &user) {
                        Ok(None) => {}
                        Ok(end) => ending_now = end,
                        Err(()) => recheck = true,
                    }
                }
                if recheck && let Some(ended) = ws::session_ended(state, Some(user)).await {
                    ending_now = Some(ended);
                }
                if let Some((code, reason)) = ending_now {
                    ws::close(socket, code, reason).await;
                    return;
                }
            }
            relayed = joined.queue.recv() => {
                if let Some(message) = relayed {
                    out.push(message);
                }
            }
            incoming = socket.recv() => {
                last_seen = Instant::now();
                match ws::Frame::of(incoming) {
                    ws::Frame::Text(text) => {
                        let (answer, fresh) = take(state, user, &joined, &text).await;
                        if let Some(fresh) = fresh {
                            user = fresh;
                            expiry.as_mut().reset(ws::token_deadline(&fresh));
                        }
                        out.push(answer);
                    }
                    ws::Frame::Refuse(refusal) => out.push(refusal),
                    ws::Frame::Skip => continue,
                    ws::Frame::Closed => return,
                }
            }
            () = &mut expiry => {
                ws::close(socket, CLOSE_TOKEN_EXPIRED, "access token expired: reconnect with a fresh token").await;
                return;
            }
            _ = ping.tick() => {
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

/// One client request: its answer (and the fresh identity after `authenticate`).
async fn take(
    state: &AppState,
    user: AuthUser,
    joined: &Joined,
    text: &str,
) -> (Message, Option<AuthUser>) {
    let request = match serde_json::from_str::<ClientMessage>(text) {
        Ok(request) => request,
        Err(error) => {
            return (
                ws::error_message(None, &ApiError::bad_request(error.to_string())),
                None,
            );
        }
    };
    let id = request.request_id.as_ref();
    if request.kind != "ping"
        && state
            .limiter
            .check(Client::User(user.user.0), RouteClass::Chat, 1)
            .is_err()
    {
        return (ws::error_message(id, &ApiError::rate_limited(1)), None);
    }
    let mut fresh = None;
    let answered: ApiResult<(&str, Value)> = async {
        match request.kind.as_str() {
            "ping" => Ok(("pong", json!({}))),
            "authenticate" => {
                let token = request
                    .data
                    .get("token")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::bad_request("data.token is required"))?;
                let again = crate::state::authenticate(state, token.trim()).await?;
                if again.user != user.user {
                    return Err(ApiError::forbidden());
                }
                fresh = Some(again);
                Ok(("authenticated", json!({ "user_id": user.user.public() })))
            }
            kind @ ("offer" | "answer" | "ice_candidate") => {
                let Value::Object(mut data) = request.data else {
                    return Err(ApiError::bad_request("data is an object with `to`"));
                };
                let to = data
                    .remove("to")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .ok_or_else(|| ApiError::bad_request("data.to names the participant"))?;
                let to: UserId = crate::ids::parse_path(&to, "user")?;
                // Whatever the client said, `from` is who sent it.
                data.insert("from".to_owned(), Value::String(user.user.public()));
                let relayed = ws::envelope(kind, None, None, Value::Object(data));
                if to == user.user || !joined.to_user(to, &relayed) {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        "not_in_channel",
                        "that user is not connected to this voice channel",
                    ));
                }
                Ok(("signal_sent", json!({ "to": to.public(), "type": kind })))
            }
            other => Err(ApiError::bad_request(format!(
                "unknown message type `{other}` (a voice channel takes offer, answer, ice_candidate, ping and authenticate)"
            ))),
        }
    }
    .await;
    let message = match answered {
        Ok((kind, data)) => ws::envelope(kind, id, None, data),
        Err(error) => ws::error_message(id, &error),
    };
    (message, fresh)
}
