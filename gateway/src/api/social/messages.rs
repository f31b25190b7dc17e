//! Direct messages: send (opening the two users' conversation on the first message), a
//! user's conversations with their last message and unread count, a conversation's
//! messages newest first with Discord's `before` / `after` paging, read markers, and
//! blocking. Conversation ids are `dm_<n>`, message ids `msg_<n>`; a conversation is its
//! two users' alone — to anyone else, admins included, it does not exist (404).
//!
//! Sending, reading and blocking are journaled commands the core decides; the messages
//! are read from the history store once it holds every change the caller made.

use super::communities::username;
use crate::error::{ApiError, ApiResult};
pub(super) use crate::history::store_error;
use crate::ids::PublicId;
use crate::json::{Body, OptBody, PAGE_MAX, Params, bounded, time};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use betbet_persistence::chat::{StoredMessage, Window};
use betbet_protocol::command::Command;
use betbet_protocol::message::Reply;
use betbet_protocol::query::{PAGE_LIMIT_MAX, Query, QueryReply, UserQuery};
use betbet_protocol::result::ResultCode;
use betbet_protocol::social::{
    BetSlip, BlockUser, ConversationId, MessageAction, MessageId, MessageType, RoomKind, RoomQuery,
    RoomRef, RoomView, SendMessage,
};
use betbet_protocol::types::{MarketId, OutcomeId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A room's public id: a community's `com_<n>`, a conversation's `dm_<n>` or a group's
/// `grp_<n>`.
pub(crate) fn parse_room(text: &str) -> ApiResult<RoomRef> {
    if let Some(community) = betbet_protocol::social::CommunityId::parse(text) {
        return Ok(RoomRef::community(community));
    }
    if let Some(group) = betbet_protocol::social::GroupId::parse(text) {
        return Ok(RoomRef::group(group));
    }
    match ConversationId::parse(text) {
        Some(conversation) => Ok(RoomRef::direct(conversation)),
        None => Err(crate::ids::invalid_id(
            "chat room (a community's com_<n>, a conversation's dm_<n> or a group's grp_<n>)",
            text,
        )),
    }
}

pub(crate) fn room_public(room: RoomRef) -> String {
    match room.kind {
        RoomKind::Community => betbet_protocol::social::CommunityId(room.id).public(),
        RoomKind::Direct => ConversationId(room.id).public(),
        RoomKind::Group => betbet_protocol::social::GroupId(room.id).public(),
    }
}

/// The room as `viewer` may use it; a conversation they are not in is a 404.
pub(crate) async fn fetch_room(
    state: &AppState,
    room: RoomRef,
    viewer: UserId,
) -> ApiResult<RoomView> {
    match state.query(Query::Room(RoomQuery { room, viewer })).await? {
        // A group's room is its members' alone: to anyone else it does not exist, as the
        // group's wallet does not.
        QueryReply::Room(view) if room.kind == RoomKind::Group && !view.viewer_may_read => {
            Err(ApiError::from(ResultCode::GroupNotFound))
        }
        QueryReply::Room(view) => Ok(view),
        _ => Err(ApiError::from(match room.kind {
            RoomKind::Community => ResultCode::CommunityNotFound,
            RoomKind::Group => ResultCode::GroupNotFound,
            RoomKind::Direct => ResultCode::RoomNotFound,
        })),
    }
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct BetSlipJson {
    /// The market the slip shows, `mkt_<n>`.
    market_id: String,
    /// One of its outcomes, `out_<n>` (optional).
    outcome_id: Option<String>,
}

/// A message of a chat room or a conversation.
#[derive(Serialize, ToSchema)]
pub(crate) struct MessageJson {
    message_id: String,
    /// The room: a community's `com_<n>` or a conversation's `dm_<n>`.
    room_id: String,
    /// The room's sequence number of this message's last change (post, edit or delete).
    seq: u64,
    sender_id: String,
    /// A direct message's recipient.
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_id: Option<String>,
    #[schema(pattern = "^(text|image|bet_slip)$")]
    message_type: String,
    /// The text; an image's `https://` URL; a bet slip's caption. Empty once deleted.
    content: String,
    bet_slip: Option<BetSlipSchema>,
    edited: bool,
    deleted: bool,
    /// A direct message: whether its recipient has read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    read: Option<bool>,
    created_at: String,
    updated_at: String,
}

/// What a bet-slip message refers to.
#[derive(Serialize, ToSchema)]
pub(crate) struct BetSlipSchema {
    market_id: String,
    outcome_id: Option<String>,
}

fn slip_json(market: Option<u64>, outcome: Option<u64>) -> Option<BetSlipSchema> {
    market.map(|m| BetSlipSchema {
        market_id: MarketId(m).public(),
        outcome_id: outcome.map(|o| OutcomeId(o).public()),
    })
}

/// A stored message as JSON; `read_by_recipient` is the recipient's read marker.
pub(crate) fn stored_json(
    m: &StoredMessage,
    room: RoomRef,
    recipient_read: Option<u64>,
) -> MessageJson {
    MessageJson {
        message_id: MessageId(m.message_id).public(),
        room_id: room_public(room),
        seq: m.seq,
        sender_id: UserId(m.sender_id).public(),
        recipient_id: m.recipient_id.map(|r| UserId(r).public()),
        message_type: m.message_type.clone(),
        content: m.content.clone(),
        bet_slip: slip_json(m.market_id, m.outcome_id),
        edited: m.edited,
        deleted: m.deleted,
        read: m
            .recipient_id
            .map(|_| recipient_read.is_some_and(|r| r >= m.message_id)),
        created_at: time(m.created_at),
        updated_at: time(m.updated_at),
    }
}

/// A live message event as JSON (the socket's `message`).
pub(crate) fn event_json(e: &betbet_protocol::social::ChatMessage) -> MessageJson {
    let deleted = e.change == betbet_protocol::social::MessageChange::Deleted;
    let slip = e.bet_slip.filter(|_| !deleted);
    MessageJson {
        message_id: e.message.public(),
        room_id: room_public(e.room),
        seq: e.seq,
        sender_id: e.sender.public(),
        recipient_id: e.recipient.map(|r| r.public()),
        message_type: e.message_type.as_str().to_owned(),
        content: e.content.clone(),
        bet_slip: slip_json(
            slip.map(|s| s.market.0),
            slip.and_then(|s| s.outcome).map(|o| o.0),
        ),
        edited: e.change == betbet_protocol::social::MessageChange::Edited,
        deleted,
        read: None,
        created_at: time(e.posted_at),
        updated_at: time(e.changed_at),
    }
}

/// A message's type and slip from the request's fields.
pub(crate) fn message_kind(
    message_type: Option<&str>,
    slip: Option<BetSlipJson>,
) -> ApiResult<(MessageType, Option<BetSlip>)> {
    let kind = match message_type {
        None => MessageType::Text,
        Some(text) => MessageType::parse(text)
            .ok_or_else(|| ApiError::bad_request("message_type is text, image or bet_slip"))?,
    };
    let slip = match slip {
        None => None,
        Some(slip) => Some(BetSlip {
            market: crate::ids::parse_path(&slip.market_id, "market")?,
            outcome: match slip.outcome_id.as_deref() {
                None => None,
                Some(o) => Some(crate::ids::parse_path(o, "outcome")?),
            },
        }),
    };
    Ok((kind, slip))
}

/// A direct message: the spec's `sender_id` (which must be the caller, if given),
/// `recipient_id` and `content`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SendMessageBody {
    sender_id: Option<String>,
    recipient_id: String,
    /// 1 to 4 000 characters of text; for `image`, its `https://` URL; for `bet_slip`,
    /// an optional caption.
    #[schema(max_length = 4000)]
    content: String,
    /// `text` (default), `image` or `bet_slip`.
    #[schema(pattern = "^(text|image|bet_slip)$")]
    message_type: Option<String>,
    /// For `bet_slip` (and only there): the market and outcome it shows.
    bet_slip: Option<BetSlipJson>,
}

/// The message sent, with its conversation.
#[derive(Serialize, ToSchema)]
pub(super) struct SentMessage {
    conversation_id: String,
    message: MessageJson,
}

/// Sends a direct message (opening your conversation with the recipient if you have
/// none). Refused while either of you blocks the other.
#[utoipa::path(post, path = "/messages/send", tag = "social",
    request_body = SendMessageBody,
    responses((status = 201, description = "The message sent", body = SentMessage)))]
pub(super) async fn send_message(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<SendMessageBody>,
) -> ApiResult<(StatusCode, Json<SentMessage>)> {
    caller.require_self(
        "sender_id",
        body.sender_id.as_deref(),
        "a user sends their own messages",
    )?;
    let recipient: UserId = crate::ids::parse_path(&body.recipient_id, "user")?;
    let (message_type, bet_slip) = message_kind(body.message_type.as_deref(), body.bet_slip)?;
    let command = SendMessage {
        actor: caller.user,
        room: RoomRef {
            kind: RoomKind::Direct,
            id: 0,
        },
        recipient: Some(recipient),
        message_type,
        content: body.content.clone(),
        bet_slip,
    };
    let Reply::Message(sent) = state.core.execute(Command::SendMessage(command)).await? else {
        return Err(ApiError::internal("unexpected reply"));
    };
    let now = sent.posted_at;
    let stored = StoredMessage {
        room_id: sent.room.id,
        message_id: sent.message.0,
        seq: sent.seq,
        sender_id: caller.user.0,
        recipient_id: Some(recipient.0),
        message_type: message_type.as_str().to_owned(),
        content: body.content,
        market_id: bet_slip.map(|s| s.market.0),
        outcome_id: bet_slip.and_then(|s| s.outcome).map(|o| o.0),
        edited: false,
        deleted: false,
        created_at: now,
        updated_at: now,
    };
    Ok((
        StatusCode::CREATED,
        Json(SentMessage {
            conversation_id: room_public(sent.room),
            message: stored_json(&stored, sent.room, None),
        }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ConversationListParams {
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// From 1 (default).
    #[param(minimum = 1)]
    page: Option<u32>,
}

/// One conversation in its user's list.
#[derive(Serialize, ToSchema)]
pub(super) struct ConversationJson {
    conversation_id: String,
    /// The other user of the conversation.
    user_id: String,
    /// Null if that user is gone from the core.
    username: Option<String>,
    last_message: Option<MessageJson>,
    /// Messages to you after your read marker.
    unread_count: u64,
    /// Your read marker: the last message you read.
    read_up_to: Option<String>,
    updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ConversationPage {
    page: u32,
    limit: u32,
    total: u64,
    conversations: Vec<ConversationJson>,
}

/// Your conversations, the latest message first, each with its last message and how
/// many messages to you are unread. Only your own (admins included).
#[utoipa::path(get, path = "/messages/{user_id}/conversations", tag = "social",
    params(ConversationListParams),
    responses((status = 200, description = "A page of conversations", body = ConversationPage)))]
pub(super) async fn list_conversations(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Params(params): Params<ConversationListParams>,
) -> ApiResult<Json<ConversationPage>> {
    caller.require_self(
        "user_id",
        Some(&user_id),
        "conversations are their users' own",
    )?;
    let limit = bounded("limit", params.limit, 50, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let offset = u64::from(page - 1) * u64::from(limit);
    let store = &state.store().await?.store;
    let (list, total) = store
        .conversations(caller.user.0, limit, offset)
        .await
        .map_err(store_error)?;
    let mut conversations = Vec::with_capacity(list.len());
    for c in list {
        let room = RoomRef::direct(ConversationId(c.id));
        let other_read = store
            .read_marker(RoomKind::Direct, c.id, c.other_user)
            .await
            .map_err(store_error)?;
        let last_message = c.last_message.as_ref().map(|m| {
            let recipient_read = if m.sender_id == caller.user.0 {
                other_read
            } else {
                c.read_up_to
            };
            stored_json(m, room, recipient_read)
        });
        conversations.push(ConversationJson {
            conversation_id: room_public(room),
            user_id: UserId(c.other_user).public(),
            username: username(&state, UserId(c.other_user)).await?,
            last_message,
            unread_count: c.unread,
            read_up_to: c.read_up_to.map(|m| MessageId(m).public()),
            updated_at: time(c.updated_at),
        });
    }
    Ok(Json(ConversationPage {
        page,
        limit,
        total,
        conversations,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct MessageListParams {
    /// 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Messages older than this message id (`msg_<n>`), newest first.
    before: Option<String>,
    /// Messages newer than this message id, newest first (the ones right after it).
    after: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct MessagePage {
    /// The room: the conversation (`dm_<n>`), or a community's room (`com_<n>`).
    conversation_id: String,
    /// A conversation's other user (null for a community's room).
    user_id: Option<String>,
    /// Newest first.
    messages: Vec<MessageJson>,
    /// Whether more remain past this page in its direction: older ones for the latest
    /// page and `before`, newer ones for `after`.
    has_more: bool,
}

/// The most messages one page of a room's messages holds.
pub(crate) const MESSAGE_PAGE_MAX: u32 = 100;

/// Which page of a room `before` / `after` ask for (one of them at most).
pub(crate) fn window(before: Option<&str>, after: Option<&str>) -> ApiResult<Window> {
    let id = |text: &str| crate::ids::parse_path::<MessageId>(text, "message").map(|m| m.0);
    match (before, after) {
        (Some(_), Some(_)) => Err(ApiError::bad_request("give before or after, not both")),
        (Some(before), None) => Ok(Window::Before(id(before)?)),
        (None, Some(after)) => Ok(Window::After(id(after)?)),
        (None, None) => Ok(Window::Latest),
    }
}

/// A conversation's messages, newest first: the latest, or those `before` or `after` a
/// message id. Only its two users see it. A community's chat room (`com_<n>`) pages the
/// same way, for its members (and platform admins).
#[utoipa::path(get, path = "/messages/{conversation_id}", tag = "social",
    params(("conversation_id" = String, Path, description = "the conversation, `dm_<n>` (or a community's room, `com_<n>`)"), MessageListParams),
    responses((status = 200, description = "A page of messages", body = MessagePage)))]
pub(super) async fn conversation_messages(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(conversation_id): Path<String>,
    Params(params): Params<MessageListParams>,
) -> ApiResult<Json<MessagePage>> {
    let room = parse_room(&conversation_id)?;
    let limit = bounded("limit", params.limit, 50, 1, MESSAGE_PAGE_MAX)?;
    let window = window(params.before.as_deref(), params.after.as_deref())?;
    let view = fetch_room(&state, room, caller.user).await?;
    if !view.viewer_may_read {
        return Err(ApiError::from(ResultCode::MembersOnly));
    }
    let other = view
        .participants
        .iter()
        .copied()
        .find(|&u| u != caller.user);
    let store = &state.store().await?.store;
    // One more than asked: whether more remain in the page's direction.
    let mut messages = store
        .room_messages(room.kind, room.id, window, None, limit + 1)
        .await
        .map_err(store_error)?;
    let has_more = messages.len() > limit as usize;
    match window {
        // Newest first: the extra one of an `after` page is its newest.
        Window::After(_) if has_more => {
            messages.remove(0);
        }
        _ => messages.truncate(limit as usize),
    }
    let mine = store
        .read_marker(room.kind, room.id, caller.user.0)
        .await
        .map_err(store_error)?;
    let theirs = match other {
        Some(other) => store
            .read_marker(room.kind, room.id, other.0)
            .await
            .map_err(store_error)?,
        None => None,
    };
    let messages = messages
        .iter()
        .map(|m| {
            let recipient_read = if m.sender_id == caller.user.0 {
                theirs
            } else {
                mine
            };
            stored_json(m, room, recipient_read)
        })
        .collect();
    Ok(Json(MessagePage {
        conversation_id: room_public(room),
        user_id: other.map(|u| u.public()),
        messages,
        has_more,
    }))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MarkReadBody {
    /// The last message read, `msg_<n>` (default: the conversation's last).
    message_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ReadMarker {
    conversation_id: String,
    /// Your read marker now (null in a conversation without messages).
    read_up_to: Option<String>,
}

/// Marks the conversation read up to a message (by default its last). The marker may
/// move back, to mark messages unread again.
#[utoipa::path(post, path = "/messages/{conversation_id}/read", tag = "social",
    request_body(content = Option<MarkReadBody>, description = "Optional"),
    responses((status = 200, description = "Your read marker", body = ReadMarker)))]
pub(super) async fn mark_conversation_read(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(conversation_id): Path<String>,
    OptBody(body): OptBody<MarkReadBody>,
) -> ApiResult<Json<ReadMarker>> {
    let conversation: ConversationId = crate::ids::parse_path(&conversation_id, "conversation")?;
    let room = RoomRef::direct(conversation);
    let view = fetch_room(&state, room, caller.user).await?;
    let message = match body.message_id.as_deref() {
        Some(text) => Some(crate::ids::parse_path::<MessageId>(text, "message")?),
        None => view.last_message,
    };
    if let Some(message) = message {
        let action = MessageAction {
            actor: caller.user,
            room,
            message,
        };
        state.core.execute(Command::MarkRead(action)).await?;
    }
    Ok(Json(ReadMarker {
        conversation_id: room_public(room),
        read_up_to: message.map(|m| m.public()),
    }))
}

/// The users you blocked.
#[derive(Serialize, ToSchema)]
pub(super) struct BlockListJson {
    user_ids: Vec<String>,
}

async fn block(
    state: &AppState,
    caller: &AuthUser,
    user_id: &str,
    blocked: bool,
) -> ApiResult<Json<BlockListJson>> {
    let user: UserId = crate::ids::parse_path(user_id, "user")?;
    let command = BlockUser {
        actor: caller.user,
        user,
        blocked,
    };
    state.core.execute(Command::BlockUser(command)).await?;
    blocks_of(state, caller.user).await
}

async fn blocks_of(state: &AppState, user: UserId) -> ApiResult<Json<BlockListJson>> {
    let QueryReply::Blocks(list) = state.query(Query::Blocks(UserQuery { user })).await? else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(BlockListJson {
        user_ids: list.users.iter().map(|u| u.public()).collect(),
    }))
}

/// Blocks a user: no direct messages between you either way until you unblock them.
#[utoipa::path(post, path = "/users/{user_id}/block", tag = "social",
    responses((status = 200, description = "The users you block", body = BlockListJson)))]
pub(super) async fn block_user(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<BlockListJson>> {
    block(&state, &caller, &user_id, true).await
}

/// Unblocks a user (unblocking one you do not block changes nothing).
#[utoipa::path(post, path = "/users/{user_id}/unblock", tag = "social",
    responses((status = 200, description = "The users you block", body = BlockListJson)))]
pub(super) async fn unblock_user(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<BlockListJson>> {
    block(&state, &caller, &user_id, false).await
}

/// The users you block. Only your own.
#[utoipa::path(get, path = "/users/{user_id}/blocks", tag = "social",
    responses((status = 200, description = "The users you block", body = BlockListJson)))]
pub(super) async fn list_blocks(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<BlockListJson>> {
    caller.require_self("user_id", Some(&user_id), "blocks are their user's own")?;
    blocks_of(&state, caller.user).await
}
