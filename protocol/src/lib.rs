//! BetBet's wire format: what gateways and the core say to each other, and what the journal
//! stores.
//!
//! - [`codec`]: the hand-written little-endian encoding every message uses.
//! - [`types`]: ids and fixed-point values (money, prices, quantities) with exact decimal
//!   conversions.
//! - [`command`], [`event`], [`query`]: what goes into the core, what comes out of it, and the
//!   reads it answers.
//! - [`view`]: the read models queries return.
//! - [`feed`]: the market-maker feed (QUIC order entry and market data).
//! - [`games`]: the games domain's commands, events, queries and views; [`tournaments`]
//!   its tournaments'.
//! - [`message`]: responses, the connection handshake and length-prefixed framing.
//! - [`result`]: the stable codes of business rejections.
//! - [`odds`]: the one place where back/lay odds and prices convert.
//!
//! This crate does no IO. Decoding any byte string returns a value or a typed error; it never
//! panics and never allocates beyond what the input bytes could describe.

#![deny(clippy::float_arithmetic)]

pub mod codec;
pub mod command;
pub mod event;
pub mod feed;
pub mod games;
pub mod ids;
pub mod message;
pub mod odds;
pub mod query;
pub mod result;
pub mod social;
pub mod time;
pub mod tournaments;
pub mod types;
pub mod view;

pub use codec::{Decode, DecodeError, Encode};
pub use command::{Command, JournalEntry};
pub use event::Event;
pub use message::{ClientMessage, Reply, Response, ServerMessage};
pub use result::ResultCode;
pub use types::{
    AccountId, Amount, ClientOrderId, Currency, IdempotencyKey, MarketId, OrderId, OutcomeId,
    PoolId, Price, Qty, Timestamp, UserId,
};

#[cfg(test)]
mod roundtrip;
