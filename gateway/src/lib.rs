//! BetBet gateways and the `betbet` binary.
//!
//! A gateway is stateless: it terminates HTTP and WebSocket (axum), authenticates,
//! validates and rate-limits, translates requests into the binary protocol's commands and
//! queries, and fans the core's events out to subscribers. It runs in-process with the core
//! (`betbet serve`) or talks to a remote one (`betbet gateway --core ADDR`).
//!
//! Module map: [`api`] (routes), [`auth`] (passwords, tokens, TOTP, sealing), [`core`] (the
//! way to the core), [`state`] (shared state, the caller extractor), [`json`] / [`ids`] /
//! [`time`] (the JSON conventions), [`error`], [`limits`], [`metrics`], [`payments`],
//! [`config`], [`server`], [`demo`], [`hub`] (routing events to connections), [`feed`] (the
//! market makers' QUIC feed), [`uploads`] (files that exist only with their record).

pub mod api;
pub mod auth;
pub mod config;
pub mod core;
pub mod demo;
pub mod dump;
pub mod error;
pub mod feed;
pub mod history;
pub mod hub;
pub mod ids;
pub mod json;
pub mod limits;
pub mod link;
pub mod metrics;
pub mod payments;
pub mod server;
pub mod state;
pub mod uploads;
pub use betbet_protocol::time;
