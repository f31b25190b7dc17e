//! WebSocket `/ws/game/{session_id}` (and `game` rooms of `/ws/{room_type}/{room_id}`): one
//! game session's room.
//!
//! A room is for the session's players, its spectators (who paid the spectator fee through
//! `POST /sessions/{session_id}/spectate`) and admins, each with a token at the handshake;
//! anyone else is refused (and a private session does not exist for them: 404). The
//! connection starts with a `snapshot` of the session as its user may see it, with the
//! session's version as `seq`; then every change arrives as a `game_update` — the change,
//! who made it, the move, and the session as a spectator sees it (no session code; the
//! server seed only after the end) — and every chat message as a `chat`, all in one
//! sequence: each `seq` is the previous one plus one, so a client sees a gap. The end is a
//! `game_update` whose session is `completed` (with its payouts) or `cancelled`; the
//! server then closes the room with 1000.
//!
//! Players send `game_move` (`{"move": "3"}`), `resign` and `chat` (`{"text": "…"}`) with
//! request ids; each is answered `move_accepted`, `resigned` or `chat_accepted` — before the
//! `game_update` or `chat` it caused — or an `error` with REST's code and status.
//! Spectators are read-only: their moves and messages are refused (`not_in_session`).
//!
//! A player whose last connection to the room drops keeps the seat for the gateway's seat
//! grace (`--game-seat-grace-ms`, 15 s by default, like Colyseus' seat reservation) while
//! the clock keeps running; reconnecting within it resumes from a fresh snapshot. After it
//! the player has abandoned: before the start their seat is given up and the stake refunded
//! (a creator's session is cancelled), while playing they forfeit. The grace is kept by the
//! gateway that held the connection (a client reconnects through the same gateway, as
//! with Colyseus' rooms); if that gateway itself goes away, nobody abandons anybody and the
//! turn clock decides.
//!
//! The market socket's limits apply: message size, a bounded queue from the hub (a client
//! that falls behind is closed with 1008, one that stops reading is dropped after
//! [`WS_WRITE_TIMEOUT`](crate::api::ws::WS_WRITE_TIMEOUT)), the per-user gaming and chat
//! rates, pings, an idle timeout and the token's expiry (`authenticate` with a fresh token
//! moves it).

use super::{Session, fetch_session, parse_session, session_json};
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
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use betbet_protocol::command::Command;
use betbet_protocol::event::Event;
use betbet_protocol::games::{
    GameChatPosted, GameMove, GameSessionAction, GameSessionChanged, GameSessionId,
    GameSessionQuery, GameSessionTicked, PostGameChat,
};
use betbet_protocol::query::{Query, QueryReply};
use betbet_protocol::types::{Timestamp, UserId};
use rustc_hash::FxHashMap;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A game session's room over a WebSocket: a snapshot, then its changes and chat in one
/// gap-free sequence; players move, resign and chat with request ids (docs/protocols.md).
#[utoipa::path(get, path = "/ws/game/{session_id}", tag = "websocket", params(
        ("session_id" = String, Path, description = "the game session's id, `gs_<n>`"),
        SocketParams,
    ),
    responses((status = 101, description = "Switching Protocols: the WebSocket of docs/protocols.md"),
        (status = 401, body = crate::error::ErrorBody, description = crate::api::doc::SOCKET_401),
        (status = 403, body = crate::error::ErrorBody, description = "The caller neither plays nor watches this session, or the `Origin` is not allowed"),
        (status = 404, body = crate::error::ErrorBody, description = "No such session (a private session, to an outsider)")))]
pub(crate) async fn game_socket(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    QueryParams(params): QueryParams<SocketParams>,
    headers: HeaderMap,
    slot: ws::Slot,
    upgrade: ws::Upgrade,
) -> Response {
    // Who it is first: a request without a valid token is refused as on every user route.
    let member = match accept(&state, &session_id, params, &headers).await {
        Ok(member) => member,
        Err(error) => return error.into_response(),
    };
    match upgrade {
        Ok(upgrade) => ws::bounded(upgrade).on_upgrade({
            let span = tracing::Span::current();
            move |mut socket| {
                tracing::Instrument::instrument(
                    async move {
                        state.metrics.ws_connected(1);
                        serve(&state, &mut socket, member).await;
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

/// Who a room's connection is.
#[derive(Clone, Copy)]
struct Member {
    session: GameSessionId,
    user: AuthUser,
    /// The player's seat; `None` for a spectator or an admin.
    seat: Option<u32>,
}

impl Member {
    fn role(&self) -> &'static str {
        match self.seat {
            Some(_) => "player",
            None if self.user.is_admin() => "admin",
            None => "spectator",
        }
    }
}

async fn accept(
    state: &AppState,
    session_id: &str,
    params: SocketParams,
    headers: &HeaderMap,
) -> ApiResult<Member> {
    ws::check_origin(state, headers)?;
    let session = parse_session(session_id)?;
    let user = ws::token_user(state, params, headers)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "connect with ?token=<access token>: a game room is for its players and spectators",
            )
        })?;
    let view = fetch_session(state, session, user.user).await?;
    let seat = view
        .players
        .iter()
        .find(|p| p.user == user.user)
        .map(|p| p.seat);
    if seat.is_none() && !user.is_admin() && !is_spectator(state, session, user.user).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_a_spectator",
            format!(
                "take a seat (POST /api/v1/sessions/{0}/join) or watch (POST /api/v1/sessions/{0}/spectate) first",
                session.public()
            ),
        ));
    }
    Ok(Member {
        session,
        user,
        seat,
    })
}

async fn is_spectator(state: &AppState, session: GameSessionId, user: UserId) -> ApiResult<bool> {
    let query = Query::GameSpectators(GameSessionQuery {
        session,
        viewer: user,
    });
    Ok(match state.query(query).await? {
        QueryReply::GameSpectators(list) => list.spectators.iter().any(|s| s.user == user),
        _ => false,
    })
}

/// Players' seats held while their connections are away, per session and user: how many of
/// the player's connections to the room are open here, and a count of arrivals, so a grace
/// that started before a reconnection knows it is void. Bounded by the connections: an
/// entry lives while one is open or its grace runs.
#[derive(Default)]
pub struct Seats {
    held: Mutex<FxHashMap<(GameSessionId, UserId), Held>>,
}

#[derive(Default)]
struct Held {
    connections: u32,
    arrivals: u64,
}

/// A player's open connection to their room; when the last one closes, the seat's grace
/// starts (unless the session has ended).
struct Presence {
    state: AppState,
    key: (GameSessionId, UserId),
    ended: bool,
}

impl Presence {
    fn arrive(state: &AppState, session: GameSessionId, user: UserId) -> Presence {
        let key = (session, user);
        let mut held = state.seats.held.lock().expect("seats lock");
        let entry = held.entry(key).or_default();
        entry.connections += 1;
        entry.arrivals += 1;
        Presence {
            state: state.clone(),
            key,
            ended: false,
        }
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        let mut held = self.state.seats.held.lock().expect("seats lock");
        let Some(entry) = held.get_mut(&self.key) else {
            return;
        };
        entry.connections -= 1;
        if entry.connections > 0 {
            return;
        }
        if self.ended {
            held.remove(&self.key);
            return;
        }
        let arrivals = entry.arrivals;
        drop(held);
        // A runtime shutting down takes the grace with it: the turn clock decides.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (state, key) = (self.state.clone(), self.key);
        runtime.spawn(async move {
            tokio::time::sleep(state.config.game_seat_grace).await;
            {
                let mut held = state.seats.held.lock().expect("seats lock");
                match held.get(&key) {
                    Some(entry) if entry.connections == 0 && entry.arrivals == arrivals => {
                        held.remove(&key);
                    }
                    // The player came back (and may have left again: that grace is theirs).
                    _ => return,
                }
            }
            let (session, user) = key;
            let abandon = Command::AbandonGameSession(GameSessionAction {
                actor: user,
                session,
            });
            // Refused when the session ended or the player left meanwhile: nothing to do.
            if state.core.execute(abandon).await.is_ok() {
                tracing::info!(
                    session = %session.public(),
                    user = %user.public(),
                    "a player's seat grace ran out: they abandoned the session"
                );
            }
        });
    }
}

/// `game_update`: one change of the session.
#[derive(Serialize)]
struct Update<'a> {
    #[serde(rename = "change")]
    kind: &'static str,
    /// Who made it; null for the clock or a deadline.
    user_id: Option<String>,
    /// The move, for a `moved` change (and an `ended` one a move caused).
    #[serde(rename = "move")]
    mv: Option<&'a str>,
    session: Session,
}

fn update_message(changed: &GameSessionChanged) -> Message {
    let update = Update {
        kind: changed.change.as_str(),
        user_id: (changed.user != UserId::SYSTEM).then(|| changed.user.public()),
        mv: (!changed.mv.is_empty()).then_some(changed.mv.as_str()),
        session: session_json(&changed.view),
    };
    ws::envelope("game_update", None, Some(changed.version), update)
}

/// `game_tick`: a realtime game rose by a tick (the rest of the session is unchanged).
#[derive(Serialize)]
struct TickUpdate {
    tick: u32,
    multiplier: String,
    next_tick_at: Option<String>,
}

fn tick_message(ticked: &GameSessionTicked) -> Message {
    let update = TickUpdate {
        tick: ticked.tick,
        multiplier: super::multiplier(ticked.multiplier),
        next_tick_at: ticked.next_tick_at.map(time),
    };
    ws::envelope("game_tick", None, Some(ticked.version), update)
}

/// `chat`: a player's message to the room.
#[derive(Serialize)]
struct Chat<'a> {
    user_id: String,
    username: &'a str,
    text: &'a str,
    at: String,
}

fn chat_message(posted: &GameChatPosted) -> Message {
    let chat = Chat {
        user_id: posted.user.public(),
        username: &posted.username,
        text: &posted.text,
        at: time(posted.at),
    };
    ws::envelope("chat", None, Some(posted.version), chat)
}

/// The room's life: the snapshot, then events and requests until either side ends it.
async fn serve(state: &AppState, socket: &mut WebSocket, mut member: Member) {
    // Registered before the snapshot: every change after it reaches the queue.
    let mut registration = state.hub.register(Some(member.user.user));
    registration.follow_session(member.session);
    if let Some((code, reason)) = ws::session_ended(state, Some(member.user)).await {
        ws::close(socket, code, reason).await;
        return;
    }
    let mut presence = member
        .seat
        .map(|_| Presence::arrive(state, member.session, member.user.user));
    let view = match fetch_session(state, member.session, member.user.user).await {
        Ok(view) => view,
        Err(error) => {
            ws::write(socket, [ws::error_message(None, &error)]).await;
            ws::close(socket, 1011, "snapshot unavailable").await;
            return;
        }
    };
    let mut seq = view.version;
    let snapshot = json!({
        "session": session_json(&view),
        "you": {
            "user_id": member.user.user.public(),
            "role": member.role(),
            "seat": member.seat,
        },
    });
    if !ws::write(
        socket,
        [ws::envelope("snapshot", None, Some(seq), snapshot)],
    )
    .await
    {
        return;
    }
    if view.status.ended() {
        presence.iter_mut().for_each(|p| p.ended = true);
        ws::close(socket, 1000, "the session has ended").await;
        return;
    }
    let token_deadline = |user: &AuthUser| {
        let left = user.token_expires_at - AppState::now_secs();
        tokio::time::Instant::now() + Duration::from_secs(left.max(0) as u64)
    };
    let mut expiry = std::pin::pin!(tokio::time::sleep_until(token_deadline(&member.user)));
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
                let mut ended = false;
                let mut ending = None;
                let mut recheck = false;
                for (event, slots) in batch.events() {
                    match event {
                        Event::GameSessionChanged(changed)
                            if changed.session == member.session && changed.version > seq =>
                        {
                            seq = changed.version;
                            out.push(slots.public.get_or_init(|| update_message(changed)).clone());
                            ended |= changed.status.ended();
                        }
                        Event::GameSessionTicked(ticked)
                            if ticked.session == member.session && ticked.version > seq =>
                        {
                            seq = ticked.version;
                            out.push(slots.public.get_or_init(|| tick_message(ticked)).clone());
                        }
                        Event::GameChatPosted(posted)
                            if posted.session == member.session && posted.version > seq =>
                        {
                            seq = posted.version;
                            out.push(slots.public.get_or_init(|| chat_message(posted)).clone());
                        }
                        Event::SessionRevoked(revoked) if revoked.session == member.user.session => {
                            ending = Some((CLOSE_SESSION_REVOKED, "session revoked: log in again"));
                        }
                        Event::UserChanged(changed) if changed.user == member.user.user => {
                            recheck = true;
                        }
                        _ => {}
                    }
                }
                // A suspension revokes the user's sessions too: the core says which it was.
                if recheck && let Some(ended) = ws::session_ended(state, Some(member.user)).await {
                    ending = Some(ended);
                }
                if ended {
                    presence.iter_mut().for_each(|p| p.ended = true);
                    ending = ending.or(Some((1000, "the session has ended")));
                }
                if let Some((code, reason)) = ending {
                    ws::write(socket, out.drain(..)).await;
                    ws::close(socket, code, reason).await;
                    return;
                }
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                last_seen = Instant::now();
                let text = match message {
                    Message::Text(text) => text,
                    Message::Binary(_) => {
                        out.push(ws::error_message(None, &ApiError::bad_request("send JSON text messages")));
                        if !ws::write(socket, out.drain(..)).await { return; }
                        continue;
                    }
                    Message::Close(_) => return,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                let (answer, fresh) = take(state, &member, &text).await;
                if let Some(user) = fresh {
                    member.user = user;
                    expiry.as_mut().reset(token_deadline(&user));
                }
                out.push(answer);
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

/// Answers one client message (and, for `authenticate`, the connection's fresh user). A
/// request's answer is sent before the change it caused: the core answers a command before
/// it publishes its events, and the room reads its queue only after this returns.
async fn take(state: &AppState, member: &Member, text: &str) -> (Message, Option<AuthUser>) {
    let read_at = Instant::now();
    let request: ClientMessage = match serde_json::from_str(text) {
        Ok(request) => request,
        Err(error) => {
            let refusal = ApiError::bad_request(error.to_string());
            return (ws::error_message(None, &refusal), None);
        }
    };
    let id = request.request_id.as_ref();
    let class = match request.kind.as_str() {
        "chat" | "chat_message" => RouteClass::Chat,
        _ => RouteClass::Gaming,
    };
    let user = member.user.user;
    if state.limiter.check(Client::User(user.0), class, 1).is_err() {
        return (ws::error_message(id, &ApiError::rate_limited(1)), None);
    }
    let text_field = |field: &str| {
        request
            .data
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::bad_request(format!("data.{field} is required")))
    };
    let session = member.session;
    let action = GameSessionAction {
        actor: user,
        session,
    };
    let deadline = Some(read_at + state.config.ws_request_deadline);
    let mut fresh = None;
    let answered: ApiResult<(&str, Value)> = async {
        match request.kind.as_str() {
            "ping" => Ok(("pong", json!({}))),
            "authenticate" => {
                let user = authenticate(state, text_field("token")?.trim()).await?;
                if user.user != member.user.user {
                    return Err(ApiError::forbidden());
                }
                fresh = Some(user);
                let expires_at = Timestamp::from_secs(user.token_expires_at);
                Ok((
                    "authenticated",
                    json!({ "user_id": user.user.public(), "expires_at": time(expires_at) }),
                ))
            }
            "game_move" => {
                let mv = text_field("move")?;
                let command = Command::GameMove(GameMove {
                    actor: user,
                    session,
                    mv: mv.clone(),
                });
                state.core.execute_by(command, deadline).await?;
                Ok((
                    "move_accepted",
                    json!({ "session_id": session.public(), "move": mv }),
                ))
            }
            "resign" => {
                state.core.execute_by(Command::ResignGame(action), deadline).await?;
                Ok(("resigned", json!({ "session_id": session.public() })))
            }
            // `chat_message` is the spec's name for it.
            "chat" | "chat_message" => {
                let command = Command::PostGameChat(PostGameChat {
                    actor: user,
                    session,
                    text: text_field("text")?,
                });
                state.core.execute_by(command, deadline).await?;
                Ok(("chat_accepted", json!({ "session_id": session.public() })))
            }
            other => Err(ApiError::bad_request(format!(
                "unknown message type `{other}` (a game room takes game_move, resign, chat, ping and authenticate)"
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
