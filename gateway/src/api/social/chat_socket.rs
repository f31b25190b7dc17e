//! WebSocket `/ws/chat/{room_id}` (and `chat` rooms of `/ws/{room_type}/{room_id}`): a
//! chat room — a community's (`com_<n>`, for its active, unbanned members) or a direct
//! conversation (`dm_<n>`, for its two users). A token is required; anyone else is refused
//! at the handshake (403 for a community's non-member, 404 for a conversation one is not
//! in).
//!
//! The connection starts with a `snapshot`: the room's last 50 messages (newest first; older
//! ones through `GET /messages/{conversation_id}?before=`), the caller's read marker and
//! who else is connected, with the room's sequence number as `seq`. Then every message
//! posted, edited or deleted arrives as a `message` whose `seq` is the previous one plus
//! one (a client that sees a gap reconnects), read markers as `read` and typing indicators
//! as `typing` (neither sequenced: they are not messages).
//!
//! Clients send `send` (`{"content", "message_type", "bet_slip"}`; the spec's
//! `chat_message` is the same), `edit` (`{"message_id", "content"}`), `delete`
//! (`{"message_id"}`), `read` (`{"message_id"}`), `typing`, `ping` and `authenticate`, each
//! with a request id, answered `message_sent` / `message_edited` / `message_deleted`
//! (before the `message` it caused), `read_marked`, `typing_sent` or an `error` with REST's
//! code and status. The core checks every message against the room as it is then:
//! a muted member's message is refused (`member_muted`), and a member banned, removed or
//! gone is closed out with 4004. 30 messages a second per user (the spec's chat rate).

use super::local::{JoinRefused, Joined, Place};
use super::messages::{
    BetSlipJson, event_json, fetch_room, message_kind, parse_room, room_public, stored_json,
};
use crate::api::ws::{
    self, CLOSE_SESSION_REVOKED, CLOSE_TOKEN_EXPIRED, ClientMessage, IDLE_TIMEOUT, PING_INTERVAL,
    SocketParams,
};
use crate::config::RouteClass;
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::time;
use crate::limits::Client;
use crate::state::{AppState, AuthUser, authenticate};
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use betbet_persistence::chat::Window;
use betbet_protocol::command::Command;
use betbet_protocol::event::Event;
use betbet_protocol::result::ResultCode;
use betbet_protocol::social::{
    CommunityChange, EditMessage, GroupChange, MessageAction, MessageId, RoomKind, RoomRef,
    RoomView, SendMessage,
};
use betbet_protocol::types::{Timestamp, UserId};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The messages a connection's snapshot holds.
pub const CHAT_HISTORY_ON_JOIN: u32 = 50;
/// Connections to one room through one gateway (typing reaches each of them).
pub const CHAT_ROOM_CONNECTIONS_MAX: usize = 10_000;
/// A connection's typing indicators are relayed at most this often.
pub const TYPING_RELAY_INTERVAL: Duration = Duration::from_secs(2);
/// The close of a connection whose user is no longer in the room (banned, removed, left).
pub const CLOSE_NOT_IN_ROOM: u16 = 4004;

/// A chat room over a WebSocket: its recent history, then every message in one gap-free
/// sequence; members send, edit, delete, mark read and type (docs/protocols.md, "Chat
/// rooms").
#[utoipa::path(get, path = "/ws/chat/{room_id}", tag = "websocket", params(
        ("room_id" = String, Path, description = "the room: a community's `com_<n>` or a conversation's `dm_<n>`"),
        SocketParams,
    ),
    responses((status = 101, description = "Switching Protocols: the WebSocket of docs/protocols.md"),
        (status = 401, body = crate::error::ErrorBody, description = crate::api::doc::SOCKET_401),
        (status = 403, body = crate::error::ErrorBody, description = "Not a member of the community (or banned there), or the `Origin` is not allowed"),
        (status = 404, body = crate::error::ErrorBody, description = "No such community, or no such conversation of the caller's")))]
pub(crate) async fn chat_socket(
    State(state): State<AppState>,
    Path(room_id): Path<String>,
    QueryParams(params): QueryParams<SocketParams>,
    headers: HeaderMap,
    slot: ws::Slot,
    upgrade: ws::Upgrade,
) -> Response {
    match accept(&state, &room_id, params, &headers).await {
        Ok((room, user)) => {
            ws::serve_room(state, slot, upgrade, move |state, mut socket| async move {
                serve(&state, &mut socket, room, user).await;
            })
        }
        Err(error) => error.into_response(),
    }
}

/// Who may open the room: a token's user who may read it.
pub(super) async fn room_member(
    state: &AppState,
    room_id: &str,
    params: SocketParams,
    headers: &HeaderMap,
    what: &str,
) -> ApiResult<(RoomRef, AuthUser, RoomView)> {
    ws::check_origin(state, headers)?;
    let user = ws::token_user(state, params, headers)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(format!(
                "connect with ?token=<access token>: a {what} is for its members"
            ))
        })?;
    let room = parse_room(room_id)?;
    let view = fetch_room(state, room, user.user).await?;
    if !view.viewer_may_read {
        return Err(ApiError::from(ResultCode::MembersOnly));
    }
    Ok((room, user, view))
}

async fn accept(
    state: &AppState,
    room_id: &str,
    params: SocketParams,
    headers: &HeaderMap,
) -> ApiResult<(RoomRef, AuthUser)> {
    let (room, user, _) = room_member(state, room_id, params, headers, "chat room").await?;
    Ok((room, user))
}

/// What an event means for `user`'s connection to `room`: its end (a ban, removal or
/// departure from the community; the login session revoked), or a look at the user's
/// status (`Err`), or nothing.
pub(super) fn ending(
    event: &Event,
    room: RoomRef,
    user: &AuthUser,
) -> Result<Option<(u16, &'static str)>, ()> {
    Ok(match event {
        Event::CommunityChanged(changed)
            if room.kind == RoomKind::Community
                && changed.community.0 == room.id
                && changed.user == user.user
                && matches!(
                    changed.change,
                    CommunityChange::Banned | CommunityChange::Removed | CommunityChange::Left
                ) =>
        {
            Some((CLOSE_NOT_IN_ROOM, "no longer a member of the community"))
        }
        Event::GroupChanged(changed)
            if room.kind == RoomKind::Group
                && changed.group.0 == room.id
                && changed.user == user.user
                && matches!(changed.change, GroupChange::Removed | GroupChange::Left) =>
        {
            Some((CLOSE_NOT_IN_ROOM, "no longer a member of the group"))
        }
        Event::SessionRevoked(revoked) if revoked.session == user.session => {
            Some((CLOSE_SESSION_REVOKED, "session revoked: log in again"))
        }
        Event::UserChanged(changed) if changed.user == user.user => return Err(()),
        _ => None,
    })
}

async fn snapshot(
    state: &AppState,
    room: RoomRef,
    user: UserId,
    view: &RoomView,
    online: Vec<UserId>,
) -> ApiResult<Message> {
    let unavailable = super::messages::store_error;
    let up_to = view.last_message.map(|m| m.0);
    // A room without messages needs no history store (a remote core's gateway has none).
    let (messages, has_more, mine, theirs) = match up_to {
        None => (Vec::new(), false, None, None),
        Some(last) => {
            let store = &state.store().await?.store;
            let mut messages = store
                .room_messages(
                    room.kind,
                    room.id,
                    Window::Latest,
                    Some(last),
                    CHAT_HISTORY_ON_JOIN + 1,
                )
                .await
                .map_err(unavailable)?;
            let has_more = messages.len() > CHAT_HISTORY_ON_JOIN as usize;
            messages.truncate(CHAT_HISTORY_ON_JOIN as usize);
            let mine = store
                .read_marker(room.kind, room.id, user.0)
                .await
                .map_err(unavailable)?;
            let other = view.participants.iter().find(|&&u| u != user);
            let theirs = match other {
                Some(other) => store
                    .read_marker(room.kind, room.id, other.0)
                    .await
                    .map_err(unavailable)?,
                None => None,
            };
            (messages, has_more, mine, theirs)
        }
    };
    let messages: Vec<_> = messages
        .iter()
        .map(|m| {
            let read = if m.sender_id == user.0 { theirs } else { mine };
            stored_json(m, room, read)
        })
        .collect();
    let data = json!({
        "room_id": room_public(room),
        "kind": room.kind.as_str(),
        "participants": view.participants.iter().map(|u| u.public()).collect::<Vec<_>>(),
        "you": {
            "user_id": user.public(),
            "role": view.viewer_role.map(|r| r.as_str()),
            "muted_until": view.viewer_muted_until.map(time),
            "read_up_to": mine.map(|m| MessageId(m).public()),
        },
        "online": online.iter().map(|u| u.public()).collect::<Vec<_>>(),
        "messages": messages,
        "has_more": has_more,
    });
    Ok(ws::envelope("snapshot", None, Some(view.seq), data))
}

/// The room's life: the snapshot, then events, typing and requests until either side
/// ends it.
async fn serve(state: &AppState, socket: &mut WebSocket, room: RoomRef, mut user: AuthUser) {
    // Registered before the snapshot: every change after it reaches the queue.
    let mut registration = state.hub.register(Some(user.user));
    registration.follow_room(room);
    let mut joined = match state.local_rooms.join(
        Place::Chat(room),
        user.user,
        CHAT_ROOM_CONNECTIONS_MAX,
        false,
    ) {
        Ok(joined) => joined,
        Err(JoinRefused::Full | JoinRefused::AlreadyIn) => {
            ws::close(
                socket,
                1013,
                "the room has its most connections here; try again later",
            )
            .await;
            return;
        }
    };
    if let Some((code, reason)) = ws::session_ended(state, Some(user)).await {
        ws::close(socket, code, reason).await;
        return;
    }
    let view = match fetch_room(state, room, user.user).await {
        Ok(view) if view.viewer_may_read => view,
        Ok(_) => {
            ws::close(socket, CLOSE_NOT_IN_ROOM, "not a member of the room").await;
            return;
        }
        Err(error) => {
            ws::write(socket, [ws::error_message(None, &error)]).await;
            ws::close(socket, 1011, "snapshot unavailable").await;
            return;
        }
    };
    let online = state.local_rooms.users(Place::Chat(room));
    let first = match snapshot(state, room, user.user, &view, online).await {
        Ok(message) => message,
        Err(error) => {
            ws::write(socket, [ws::error_message(None, &error)]).await;
            ws::close(socket, 1011, "snapshot unavailable").await;
            return;
        }
    };
    if !ws::write(socket, [first]).await {
        return;
    }
    let mut seq = view.seq;
    // When this connection's typing was last relayed.
    let mut typed: Option<Instant> = None;
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
                for (event, slots) in batch.events() {
                    match event {
                        Event::ChatMessage(message) if message.room == room && message.seq > seq => {
                            seq = message.seq;
                            out.push(slots.public.get_or_init(|| {
                                ws::envelope("message", None, Some(message.seq), json!({
                                    "change": message.change.as_str(),
                                    "actor_id": message.actor.public(),
                                    "message": event_json(message),
                                }))
                            }).clone());
                        }
                        Event::ChatRead(read) if read.room == room => {
                            out.push(slots.public.get_or_init(|| {
                                ws::envelope("read", None, None, json!({
                                    "user_id": read.user.public(),
                                    "message_id": read.message.public(),
                                }))
                            }).clone());
                        }
                        other => match ending(other, room, &user) {
                            Ok(None) => {}
                            // Nothing after it reaches a member who is no longer one.
                            Ok(end) => {
                                ending_now = end;
                                break;
                            }
                            Err(()) => recheck = true,
                        },
                    }
                }
                if recheck && let Some(ended) = ws::session_ended(state, Some(user)).await {
                    ending_now = Some(ended);
                }
                if let Some((code, reason)) = ending_now {
                    ws::write(socket, out.drain(..)).await;
                    ws::close(socket, code, reason).await;
                    return;
                }
            }
            local = joined.queue.recv() => {
                // The queue lives as long as `joined`: it does not end while the room runs.
                if let Some(message) = local {
                    out.push(message);
                }
            }
            incoming = socket.recv() => {
                last_seen = Instant::now();
                match ws::Frame::of(incoming) {
                    ws::Frame::Text(text) => {
                        let (answer, fresh) = take(state, room, user, (&joined, &mut typed), &text).await;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendData {
    content: String,
    message_type: Option<String>,
    bet_slip: Option<BetSlipJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditData {
    message_id: String,
    content: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageData {
    message_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenData {
    token: String,
}

fn data<T: serde::de::DeserializeOwned>(value: Value) -> ApiResult<T> {
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("data: {e}")))
}

fn message_id(text: &str) -> ApiResult<MessageId> {
    crate::ids::parse_path(text, "message")
}

/// One client request: its answer, and the user's fresh identity after `authenticate`.
async fn take(
    state: &AppState,
    room: RoomRef,
    user: AuthUser,
    (joined, typed): (&Joined, &mut Option<Instant>),
    text: &str,
) -> (Message, Option<AuthUser>) {
    let read_at = std::time::Instant::now();
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
    let actor = user.user;
    if request.kind != "ping"
        && state
            .limiter
            .check(Client::User(actor.0), RouteClass::Chat, 1)
            .is_err()
    {
        return (ws::error_message(id, &ApiError::rate_limited(1)), None);
    }
    let deadline = Some(read_at + state.config.ws_request_deadline);
    let mut fresh = None;
    let answered: ApiResult<(&str, Value)> = async {
        let reply = |reply: betbet_protocol::message::Reply| match reply {
            betbet_protocol::message::Reply::Message(m) => Ok(json!({
                "message_id": m.message.public(),
                "seq": m.seq,
            })),
            _ => Err(ApiError::internal("unexpected reply")),
        };
        match request.kind.as_str() {
            "ping" => Ok(("pong", json!({}))),
            "authenticate" => {
                let token: TokenData = data(request.data)?;
                let again = authenticate(state, token.token.trim()).await?;
                if again.user != actor {
                    return Err(ApiError::forbidden());
                }
                fresh = Some(again);
                let expires_at = Timestamp::from_secs(again.token_expires_at);
                Ok((
                    "authenticated",
                    json!({ "user_id": actor.public(), "expires_at": time(expires_at) }),
                ))
            }
            // `chat_message` is the spec's name for it.
            "send" | "chat_message" => {
                let body: SendData = data(request.data)?;
                let (message_type, bet_slip) =
                    message_kind(body.message_type.as_deref(), body.bet_slip)?;
                let command = Command::SendMessage(SendMessage {
                    actor,
                    room,
                    recipient: None,
                    message_type,
                    content: body.content,
                    bet_slip,
                });
                Ok(("message_sent", reply(state.core.execute_by(command, deadline).await?)?))
            }
            "edit" => {
                let body: EditData = data(request.data)?;
                let command = Command::EditMessage(EditMessage {
                    actor,
                    room,
                    message: message_id(&body.message_id)?,
                    content: body.content,
                });
                Ok(("message_edited", reply(state.core.execute_by(command, deadline).await?)?))
            }
            "delete" => {
                let body: MessageData = data(request.data)?;
                let command = Command::DeleteMessage(MessageAction {
                    actor,
                    room,
                    message: message_id(&body.message_id)?,
                });
                Ok(("message_deleted", reply(state.core.execute_by(command, deadline).await?)?))
            }
            "read" => {
                let body: MessageData = data(request.data)?;
                let message = message_id(&body.message_id)?;
                let command = Command::MarkRead(MessageAction {
                    actor,
                    room,
                    message,
                });
                state.core.execute_by(command, deadline).await?;
                Ok(("read_marked", json!({ "message_id": message.public() })))
            }
            "typing" => {
                // The room as it is now: no typing to someone who blocked you, nor while
                // muted.
                let view = fetch_room(state, room, actor).await?;
                if !view.viewer_may_read {
                    return Err(ApiError::from(ResultCode::MembersOnly));
                }
                if view.viewer_blocked {
                    return Err(ApiError::from(ResultCode::UserBlocked));
                }
                if view.viewer_muted_until.is_some() {
                    return Err(ApiError::from(ResultCode::MemberMuted));
                }
                // One relayed per connection and TYPING_RELAY_INTERVAL: an indicator lasts
                // a few seconds, and a client that repeats it faster gains nothing.
                let now = Instant::now();
                if typed.is_none_or(|at| now.duration_since(at) >= TYPING_RELAY_INTERVAL) {
                    *typed = Some(now);
                    let typing = ws::envelope("typing", None, None, json!({ "user_id": actor.public() }));
                    joined.to_others(&typing);
                }
                Ok(("typing_sent", json!({})))
            }
            other => Err(ApiError::bad_request(format!(
                "unknown message type `{other}` (a chat room takes send, edit, delete, read, typing, ping and authenticate)"
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
