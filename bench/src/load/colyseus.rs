//! Just enough of the Colyseus client protocol (the version pinned in
//! `bench/colyseus/package.json`; bytes in `bench/colyseus/PROTOCOL.md`) for the games load
//! to play the peer's Connect Four room: matchmaking over HTTP, the WebSocket join
//! handshake, the `"move"` room message, and telling a state patch from the other frames.
//! State patches are counted, not decoded: in a turn-based room only a move changes the
//! state, so each move makes one patch for each player.

use super::fixture::Rest;
use super::game::{Signal, Table};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// The protocol's frame codes (the first byte of every binary frame).
mod code {
    pub const JOIN_ROOM: u8 = 10;
    pub const ERROR: u8 = 11;
    pub const ROOM_DATA: u8 = 13;
    pub const ROOM_STATE: u8 = 14;
    pub const ROOM_STATE_PATCH: u8 = 15;
}

/// A frame's code is its first byte's low five bits.
const CODE_MASK: u8 = 0x1f;

/// The room's name in `bench/colyseus/server.js`.
const ROOM: &str = "connect_four";

/// A seat reservation (`{name, sessionId, roomId, processId}`): where a player's socket
/// goes.
fn socket_url(ws_base: &str, reservation: &Value) -> Result<String, String> {
    let field = |name: &str| {
        reservation[name]
            .as_str()
            .ok_or_else(|| format!("no `{name}` in the reservation {reservation}"))
    };
    Ok(format!(
        "{ws_base}/{}/{}?sessionId={}",
        field("processId")?,
        field("roomId")?,
        field("sessionId")?
    ))
}

/// Creates `sessions` rooms, each with its two seats reserved (the creator's first, who
/// moves first), through the matchmaker. A reservation lapses unless its socket joins
/// within the server's `COLYSEUS_SEAT_RESERVATION_TIME` (15 s by default): start the peer
/// with more for a large run.
pub fn tables(base: &str, sessions: usize) -> Result<Vec<Table>, String> {
    let rest = Rest::new(base);
    let ws_base = base.replacen("http://", "ws://", 1);
    let started = std::time::Instant::now();
    let mut tables = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let created = rest.post(&format!("/matchmake/create/{ROOM}"), None, &json!({}), 200)?;
        let room_id = created["roomId"]
            .as_str()
            .ok_or_else(|| format!("no roomId in {created}"))?
            .to_owned();
        let joined = rest.post(
            &format!("/matchmake/joinById/{room_id}"),
            None,
            &json!({}),
            200,
        )?;
        tables.push(Table {
            urls: [
                socket_url(&ws_base, &created)?,
                socket_url(&ws_base, &joined)?,
            ],
            first: 0,
        });
    }
    eprintln!(
        "setup: {sessions} Colyseus rooms created and both seats reserved in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(tables)
}

/// The join: the server's `JOIN_ROOM` frame, the client's one-byte confirmation, then the
/// room's full state.
pub async fn handshake<S>(socket: &mut S) -> Result<(), String>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + SinkExt<Message, Error = tokio_tungstenite::tungstenite::Error>
        + Unpin,
{
    let mut joined = false;
    loop {
        match socket.next().await {
            Some(Ok(Message::Binary(bytes))) => match bytes.first().map(|b| b & CODE_MASK) {
                Some(code::JOIN_ROOM) if !joined => {
                    socket
                        .send(Message::Binary(vec![code::JOIN_ROOM].into()))
                        .await
                        .map_err(|e| format!("confirming the join: {e}"))?;
                    joined = true;
                }
                Some(code::ROOM_STATE) if joined => return Ok(()),
                Some(code::ERROR) => return Err(format!("join refused: {bytes:?}")),
                _ => {}
            },
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("closed at the join: {frame:?}"));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("joining: {e}")),
            None => return Err("closed at the join".to_owned()),
        }
    }
}

/// `ROOM_DATA` "move" `{column}`: the type as a msgpack string, the payload as a msgpack
/// map.
pub fn move_frame(column: u8) -> Vec<u8> {
    let mut frame = vec![code::ROOM_DATA];
    // fixstr "move"
    frame.push(0xa0 | 4);
    frame.extend_from_slice(b"move");
    // fixmap of one: fixstr "column" => positive fixint
    frame.push(0x81);
    frame.push(0xa0 | 6);
    frame.extend_from_slice(b"column");
    frame.push(column);
    frame
}

/// A patch is an update; a room message is a refusal (the room sends only `"rejected"`);
/// the server leaves by closing the socket, and an error frame precedes a close.
pub fn classify(bytes: &[u8]) -> Option<Signal> {
    match bytes.first()? & CODE_MASK {
        code::ROOM_STATE_PATCH => Some(Signal::Update),
        code::ROOM_DATA => Some(Signal::Rejected("rejected".to_owned())),
        code::ERROR => Some(Signal::Closed("room error".to_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_move_frame_is_room_data_with_msgpack() {
        assert_eq!(
            super::move_frame(3),
            [
                13, 0xa4, b'm', b'o', b'v', b'e', 0x81, 0xa6, b'c', b'o', b'l', b'u', b'm', b'n', 3
            ]
        );
    }
}
