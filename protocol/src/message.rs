//! Responses, the messages gateways and the core exchange, and their framing.
//!
//! A connection to the core starts with a handshake: the client's first frame is
//! [`ClientMessage::Hello`] with the protocol magic and version; the core answers
//! [`ServerMessage::Welcome`] or [`ServerMessage::Refused`] and closes. After that every
//! request carries a correlation id that its reply echoes, so a gateway can keep many
//! requests in flight on one connection.
//!
//! Frames are a `u32` little-endian length followed by that many bytes of one encoded
//! message. A length above [`FRAME_BYTES_MAX`] is refused before anything is buffered.

use crate::codec::{Decode, DecodeError, Encode, Reader};
use crate::command::Command;
use crate::event::{Event, OrderStatus, TxStatus};
use crate::query::{Query, QueryReply};
use crate::result::ResultCode;
use crate::types::{Amount, OrderId, OutcomeId, Qty, SessionId, UserId};
use crate::{wire_enum, wire_struct};
use thiserror::Error;

/// The largest frame either side sends or accepts: 4 MiB, enough for the largest bounded
/// query reply (a full-depth book, a page of history) and far below what would hurt memory.
pub const FRAME_BYTES_MAX: usize = 4 << 20;
/// Bytes of the length prefix.
pub const FRAME_HEADER_BYTES: usize = 4;
/// The first eight bytes of every connection's first frame body. `\r\n` catches transports
/// that rewrite line endings; the zero byte catches C-string handling.
pub const PROTOCOL_MAGIC: [u8; 8] = *b"BETBET\r\n";
/// Bumped whenever any message layout changes.
pub const PROTOCOL_VERSION: u16 = 1;

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Hello {
        pub magic: [u8; 8],
        pub version: u16,
        /// Who is connecting, for the core's logs.
        pub client_name: String,
    }
}

impl Hello {
    pub fn new(client_name: &str) -> Self {
        Hello {
            magic: PROTOCOL_MAGIC,
            version: PROTOCOL_VERSION,
            client_name: client_name.to_owned(),
        }
    }

    /// Checks that the peer speaks this protocol, naming exactly what is wrong if not.
    pub fn check(&self) -> Result<(), HandshakeError> {
        if self.magic != PROTOCOL_MAGIC {
            return Err(HandshakeError::BadMagic { got: self.magic });
        }
        if self.version != PROTOCOL_VERSION {
            return Err(HandshakeError::VersionMismatch {
                ours: PROTOCOL_VERSION,
                theirs: self.version,
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    #[error("not a BetBet peer: magic bytes {got:?}")]
    BadMagic { got: [u8; 8] },
    #[error("protocol version mismatch: we speak {ours}, the peer speaks {theirs}")]
    VersionMismatch { ours: u16, theirs: u16 },
    #[error("the core refused the connection: {0}")]
    Refused(String),
    #[error("the first frame was not a handshake")]
    Unexpected,
}

wire_struct! {
    #[fixed(0)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Empty {}
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UserRegisteredReply {
        pub user: UserId,
        pub referral_code: String,
    }
}

wire_struct! {
    #[fixed(24)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SessionReply {
        pub session: SessionId,
        pub user: UserId,
        pub family: SessionId,
    }
}

wire_struct! {
    #[fixed(8)]
    /// The id of whatever the command created (wallet, deposit, withdrawal, transfer,
    /// payment method, KYC document, pool).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Created {
        pub id: u64,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MarketCreatedReply {
        pub market: crate::types::MarketId,
        pub outcomes: Vec<OutcomeId>,
    }
}

wire_struct! {
    #[fixed(38)]
    /// An order right after the command that placed, amended or cancelled it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct OrderReport {
        pub order: OrderId,
        pub status: OrderStatus,
        pub filled: Qty,
        pub remaining: Qty,
        /// What the fills cost (or brought in) in the order's own outcome terms.
        pub filled_notional: Amount,
        pub trades: u32,
        /// True when this is the original order returned for a repeated client order id.
        pub duplicate: bool,
    }
}

wire_struct! {
    #[fixed(16)]
    /// A feed login was accepted for `user` with API key `key`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Authenticated {
        pub user: crate::types::UserId,
        pub key: u64,
    }
}

wire_struct! {
    /// The orders a mass quote left resting, bid then ask per quote (absent sides skipped).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct QuotesReply {
        pub orders: Vec<crate::types::OrderId>,
    }
}

wire_struct! {
    #[fixed(9)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct TxReply {
        pub tx: crate::types::TxId,
        pub status: TxStatus,
    }
}

wire_enum! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Reply {
        Done(Empty) = 0,
        UserRegistered(UserRegisteredReply) = 1,
        Session(SessionReply) = 2,
        Created(Created) = 3,
        Market(MarketCreatedReply) = 4,
        Order(OrderReport) = 5,
        Tx(TxReply) = 6,
        Authenticated(Authenticated) = 7,
        Quotes(QuotesReply) = 8,
        Message(crate::social::MessageReply) = 9,
    }
}

wire_enum! {
    /// The answer to one command: what it did, or the business rule that refused it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Response {
        Accepted(Reply) = 0,
        Rejected(ResultCode) = 1,
    }
}

impl Response {
    pub fn code(&self) -> Option<ResultCode> {
        match self {
            Response::Accepted(_) => None,
            Response::Rejected(code) => Some(*code),
        }
    }
}

impl From<Result<Reply, ResultCode>> for Response {
    fn from(result: Result<Reply, ResultCode>) -> Self {
        match result {
            Ok(reply) => Response::Accepted(reply),
            Err(code) => Response::Rejected(code),
        }
    }
}

wire_enum! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum RequestBody {
        Command(Command) = 0,
        Query(Query) = 1,
        /// A command to execute within `budget_micros` of its arrival at the core, or not
        /// at all (refused `Overloaded`): how a gateway sheds load instead of trading late.
        CommandWithin(CommandWithin) = 2,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CommandWithin {
        pub budget_micros: u64,
        pub command: Command,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Request {
        pub correlation_id: u64,
        pub body: RequestBody,
    }
}

wire_struct! {
    #[fixed(8)]
    /// Asks for the event stream from `from_seq` (0: only what comes next).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Subscribe {
        pub from_seq: u64,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Ping {
        pub nonce: u64,
    }
}

wire_enum! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum ClientMessage {
        Hello(Hello) = 1,
        Request(Request) = 2,
        Subscribe(Subscribe) = 3,
        Ping(Ping) = 4,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Welcome {
        pub version: u16,
        /// The last journal sequence the core has applied.
        pub last_seq: u64,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Refused {
        pub reason: String,
    }
}

wire_struct! {
    /// The outcome of one command: its response, its journal sequence (0 when rejected before
    /// journaling, e.g. overloaded) and the events it produced.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CommandReply {
        pub correlation_id: u64,
        pub seq: u64,
        pub at: crate::types::Timestamp,
        pub response: Response,
        pub events: Vec<Event>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct QueryAnswer {
        pub correlation_id: u64,
        pub reply: QueryReply,
    }
}

wire_struct! {
    /// A slice of the event stream: `events[i]` was produced by the command journaled at
    /// sequence `seqs[i]`; sequences never decrease, so a subscriber resumes from the last.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct EventBatch {
        pub seqs: Vec<u64>,
        pub events: Vec<Event>,
    }
}

wire_enum! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum ServerMessage {
        Welcome(Welcome) = 1,
        Refused(Refused) = 2,
        CommandReply(CommandReply) = 3,
        QueryAnswer(QueryAnswer) = 4,
        Events(EventBatch) = 5,
        Pong(Ping) = 6,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the {max} byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("empty frame")]
    Empty,
    #[error("undecodable frame: {0}")]
    Decode(#[from] DecodeError),
}

/// Appends `message` as one frame to `out`. Refuses (and leaves `out` as it was) if the
/// encoding exceeds [`FRAME_BYTES_MAX`].
pub fn encode_frame<T: Encode>(message: &T, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
    message.encode(out);
    let len = out.len() - start - FRAME_HEADER_BYTES;
    if len > FRAME_BYTES_MAX {
        out.truncate(start);
        return Err(FrameError::TooLarge {
            len,
            max: FRAME_BYTES_MAX,
        });
    }
    out[start..start + FRAME_HEADER_BYTES].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(())
}

/// The body length announced by a frame header, checked against the limit so a reader can
/// refuse before buffering the body.
pub fn frame_body_len(header: [u8; FRAME_HEADER_BYTES]) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(header) as usize;
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge {
            len,
            max: FRAME_BYTES_MAX,
        });
    }
    Ok(len)
}

/// Decodes the first complete frame in `buf`: `Ok(None)` if more bytes are needed, otherwise
/// the message and how many bytes it used.
pub fn decode_frame<T: Decode>(buf: &[u8]) -> Result<Option<(T, usize)>, FrameError> {
    let Some(header) = buf.first_chunk::<FRAME_HEADER_BYTES>() else {
        return Ok(None);
    };
    let len = frame_body_len(*header)?;
    let Some(body) = buf.get(FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + len) else {
        return Ok(None);
    };
    let mut reader = Reader::new(body);
    let message = T::decode(&mut reader)?;
    reader.finish()?;
    Ok(Some((message, FRAME_HEADER_BYTES + len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{CancelOrder, Tick};
    use crate::types::OrderId;

    #[test]
    fn frames_round_trip_and_split_anywhere() {
        let messages = vec![
            ClientMessage::Hello(Hello::new("test")),
            ClientMessage::Request(Request {
                correlation_id: 7,
                body: RequestBody::Command(Command::CancelOrder(CancelOrder {
                    actor: UserId(1),
                    order: OrderId(2),
                })),
            }),
            ClientMessage::Request(Request {
                correlation_id: 8,
                body: RequestBody::Command(Command::Tick(Tick {})),
            }),
        ];
        let mut stream = Vec::new();
        for message in &messages {
            encode_frame(message, &mut stream).unwrap();
        }
        // Feed the stream in every possible two-piece split; a decoder that sees a prefix
        // must ask for more, never fail or misparse.
        for split in 0..stream.len() {
            let mut decoded = Vec::new();
            let mut buf = stream[..split].to_vec();
            let mut rest = &stream[split..];
            loop {
                match decode_frame::<ClientMessage>(&buf).unwrap() {
                    Some((message, used)) => {
                        decoded.push(message);
                        buf.drain(..used);
                    }
                    None if rest.is_empty() => break,
                    None => {
                        buf.extend_from_slice(rest);
                        rest = &[];
                    }
                }
            }
            assert_eq!(decoded, messages, "split at {split}");
        }
    }

    #[test]
    fn oversized_frames_are_refused_before_buffering() {
        let header = ((FRAME_BYTES_MAX + 1) as u32).to_le_bytes();
        assert!(matches!(
            decode_frame::<ClientMessage>(&header),
            Err(FrameError::TooLarge { .. })
        ));
        assert_eq!(
            decode_frame::<ClientMessage>(&[0, 0, 0, 0]),
            Err(FrameError::Empty)
        );
    }

    #[test]
    fn handshake_names_the_mismatch() {
        assert_eq!(Hello::new("gw").check(), Ok(()));
        let mut old = Hello::new("gw");
        old.version = 0;
        assert_eq!(
            old.check(),
            Err(HandshakeError::VersionMismatch {
                ours: PROTOCOL_VERSION,
                theirs: 0
            })
        );
        let mut http = Hello::new("gw");
        http.magic = *b"GET / HT";
        assert!(matches!(http.check(), Err(HandshakeError::BadMagic { .. })));
    }
}
