//! Chat rooms' and direct messages' rows: how the `ChatMessage` and `ChatRead` events
//! become rows, and the reads the gateway makes of them (a room's messages newest first,
//! paged by message id like Discord's `before` / `after`; a user's conversations with
//! their last message and unread count).

use crate::schema::{self, Row, Table, Value};
use crate::{Result, Store};
use betbet_protocol::social::{ChatMessage, ChatRead, MessageChange, RoomKind, RoomView};
use betbet_protocol::types::Timestamp;

/// A message as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The community (a room's message) or the conversation (a direct message).
    pub room_id: u64,
    pub message_id: u64,
    pub seq: u64,
    pub sender_id: u64,
    pub recipient_id: Option<u64>,
    pub message_type: String,
    pub content: String,
    pub market_id: Option<u64>,
    pub outcome_id: Option<u64>,
    pub edited: bool,
    pub deleted: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A conversation of one user, as their list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    pub id: u64,
    pub other_user: u64,
    pub last_message: Option<StoredMessage>,
    pub unread: u64,
    /// The caller's read marker.
    pub read_up_to: Option<u64>,
    pub updated_at: Timestamp,
}

fn table(kind: RoomKind) -> &'static Table {
    match kind {
        RoomKind::Community | RoomKind::Group => &schema::CHAT_MESSAGES,
        RoomKind::Direct => &schema::DIRECT_MESSAGES,
    }
}

/// The row a message's change leaves (the whole message: an edit keeps its time and
/// slip, a delete empties it).
pub fn message_row(e: &ChatMessage, at: Timestamp) -> (&'static Table, Row) {
    let opt = |raw: Option<u64>| Value::Int(raw.map(|r| r as i64));
    let mut row = Vec::with_capacity(13);
    if e.room.kind != RoomKind::Direct {
        row.push(schema::text(e.room.kind.as_str()));
    }
    row.extend([
        schema::id(e.room.id),
        schema::id(e.message.0),
        schema::id(e.seq),
        schema::id(e.sender.0),
    ]);
    if e.room.kind == RoomKind::Direct {
        row.push(schema::id(e.recipient.map_or(0, |r| r.0)));
    }
    let deleted = e.change == MessageChange::Deleted;
    let slip = e.bet_slip.filter(|_| !deleted);
    row.extend([
        schema::text(e.message_type.as_str()),
        schema::text(e.content.as_str()),
        opt(slip.map(|s| s.market.0)),
        opt(slip.and_then(|s| s.outcome).map(|o| o.0)),
        Value::Bool(Some(e.edited)),
        Value::Bool(Some(deleted)),
        schema::time(e.posted_at),
        schema::time(at),
    ]);
    (table(e.room.kind), row)
}

/// A conversation's row from the core's view of its room.
pub fn conversation_row(view: &RoomView, at: Timestamp) -> Option<Row> {
    let [a, b] = view.participants.as_slice() else {
        return None;
    };
    Some(vec![
        schema::id(view.room.id),
        schema::id(a.0),
        schema::id(b.0),
        schema::id(view.last_message.map_or(0, |m| m.0)),
        schema::id(view.seq),
        schema::time(at),
    ])
}

pub fn read_row(e: &ChatRead, at: Timestamp) -> Row {
    vec![
        schema::text(e.room.kind.as_str()),
        schema::id(e.room.id),
        schema::id(e.user.0),
        schema::id(e.message.0),
        schema::time(at),
    ]
}

fn message_view(row: &Row, direct: bool) -> Option<StoredMessage> {
    // A room's row starts with its kind.
    let row: &[Value] = if direct { row } else { row.get(1..)? };
    let mut cells = row.iter();
    let mut int = || match cells.next()? {
        Value::Int(Some(v)) | Value::Time(Some(v)) => Some(*v),
        _ => None,
    };
    let room_id = int()? as u64;
    let message_id = int()? as u64;
    let seq = int()? as u64;
    let sender_id = int()? as u64;
    let recipient_id = if direct { Some(int()? as u64) } else { None };
    let rest: Vec<&Value> = row.iter().skip(if direct { 5 } else { 4 }).collect();
    let [
        Value::Text(Some(message_type)),
        Value::Text(Some(content)),
        Value::Int(market),
        Value::Int(outcome),
        Value::Bool(Some(edited)),
        Value::Bool(Some(deleted)),
        Value::Time(Some(created)) | Value::Int(Some(created)),
        Value::Time(Some(updated)) | Value::Int(Some(updated)),
    ] = rest.as_slice()
    else {
        return None;
    };
    Some(StoredMessage {
        room_id,
        message_id,
        seq,
        sender_id,
        recipient_id,
        message_type: message_type.clone(),
        content: content.clone(),
        market_id: market.map(|m| m as u64),
        outcome_id: outcome.map(|o| o as u64),
        edited: *edited,
        deleted: *deleted,
        created_at: Timestamp(*created),
        updated_at: Timestamp(*updated),
    })
}

/// Which messages of a room a page holds: the newest, those before a message id, or those
/// after one (each page newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Latest,
    Before(u64),
    After(u64),
}

impl Store {
    /// Up to `limit` messages of a room, newest first; `up_to` leaves out messages posted
    /// after that one (a socket's history ends where its live messages start).
    pub async fn room_messages(
        &self,
        kind: RoomKind,
        room: u64,
        window: Window,
        up_to: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredMessage>> {
        let table = table(kind);
        let (mut filter, mut params) = match kind {
            RoomKind::Direct => ("conversation_id = $1".to_owned(), vec![schema::id(room)]),
            RoomKind::Community | RoomKind::Group => (
                "room_kind = $1 AND room_id = $2".to_owned(),
                vec![schema::text(kind.as_str()), schema::id(room)],
            ),
        };
        let mut order = "message_id DESC";
        match window {
            Window::Latest => {}
            Window::Before(id) => {
                params.push(schema::id(id));
                filter.push_str(&format!(" AND message_id < ${}", params.len()));
            }
            Window::After(id) => {
                params.push(schema::id(id));
                filter.push_str(&format!(" AND message_id > ${}", params.len()));
                order = "message_id ASC";
            }
        }
        if let Some(last) = up_to {
            params.push(schema::id(last));
            filter.push_str(&format!(" AND message_id <= ${}", params.len()));
        }
        let rows = self
            .select(table, &filter, &params, order, limit, 0)
            .await?;
        let direct = kind == RoomKind::Direct;
        let mut messages: Vec<StoredMessage> = rows
            .iter()
            .filter_map(|r| message_view(r, direct))
            .collect();
        if matches!(window, Window::After(_)) {
            messages.reverse();
        }
        Ok(messages)
    }

    /// A user's read marker in a room.
    pub async fn read_marker(&self, kind: RoomKind, room: u64, user: u64) -> Result<Option<u64>> {
        let rows = self
            .select(
                &schema::CHAT_READS,
                "room_kind = $1 AND room_id = $2 AND user_id = $3",
                &[
                    schema::text(kind.as_str()),
                    schema::id(room),
                    schema::id(user),
                ],
                "",
                1,
                0,
            )
            .await?;
        Ok(rows.first().and_then(|r| match r.get(3) {
            Some(Value::Int(Some(m))) => Some(*m as u64),
            _ => None,
        }))
    }

    /// A page of `user`'s conversations, the latest message first, and how many there are.
    pub async fn conversations(
        &self,
        user: u64,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<ConversationSummary>, u64)> {
        let filter = "user_a = $1 OR user_b = $2";
        let params = [schema::id(user), schema::id(user)];
        let rows = self
            .select(
                &schema::CONVERSATIONS,
                filter,
                &params,
                "last_message_id DESC",
                limit,
                offset,
            )
            .await?;
        let total = self.count(&schema::CONVERSATIONS, filter, &params).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let ints: Vec<i64> = row
                .iter()
                .map(|v| match v {
                    Value::Int(Some(i)) | Value::Time(Some(i)) => *i,
                    _ => 0,
                })
                .collect();
            let &[id, a, b, last, _seq, updated] = ints.as_slice() else {
                continue;
            };
            let (id, last) = (id as u64, last as u64);
            let last_message = self
                .select(
                    &schema::DIRECT_MESSAGES,
                    "conversation_id = $1 AND message_id = $2",
                    &[schema::id(id), schema::id(last)],
                    "",
                    1,
                    0,
                )
                .await?
                .first()
                .and_then(|r| message_view(r, true));
            let read_up_to = self.read_marker(RoomKind::Direct, id, user).await?;
            let unread = self
                .count(
                    &schema::DIRECT_MESSAGES,
                    "conversation_id = $1 AND recipient_id = $2 AND NOT deleted AND message_id > $3",
                    &[
                        schema::id(id),
                        schema::id(user),
                        schema::id(read_up_to.unwrap_or(0)),
                    ],
                )
                .await?;
            out.push(ConversationSummary {
                id,
                other_user: if a as u64 == user { b as u64 } else { a as u64 },
                last_message,
                unread,
                read_up_to,
                updated_at: Timestamp(updated),
            });
        }
        Ok((out, total))
    }
}
