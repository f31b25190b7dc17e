//! Markets: prediction markets with their outcomes and settlement (`market`), the
//! direct-addressed order book ([`book`]), risk, matching and positions (`trading`), and
//! betting pools (`pool`).

pub mod book;
pub(crate) mod market;
pub(crate) mod pool;
pub(crate) mod trading;

use crate::family::{CommandFamily, misrouted};
use crate::{Ctx, Engine};
use betbet_protocol::command::Command;
use betbet_protocol::event::Event;
use betbet_protocol::message::Reply;
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::Timestamp;

pub(crate) struct Family;

impl CommandFamily for Family {
    fn apply(
        engine: &mut Engine,
        command: &Command,
        _ctx: &Ctx,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        match command {
            Command::PlaceOrder(c) => engine.place_order(c, out),
            Command::CancelOrder(c) => engine.cancel_order(c, out),
            Command::CancelAll(c) => engine.cancel_all(c, out),
            Command::AmendOrder(c) => engine.amend_order(c, out),
            Command::MassQuote(c) => engine.mass_quote(c, out),
            Command::ClosePosition(c) => engine.close_position(c, out),
            Command::MintShares(c) => engine.mint_shares(c, out),
            Command::MergeShares(c) => engine.merge_shares(c, out),
            Command::CreateMarket(c) => engine.create_market(c, out),
            Command::UpdateMarket(c) => engine.update_market(c, out),
            Command::HaltMarket(c) => engine.halt_market(c, out),
            Command::ResolveMarket(c) => engine.resolve_market(c, out),
            Command::VoidMarket(c) => engine.void_market(c, out),
            Command::DisputeResolution(c) => engine.dispute_resolution(c, out),
            Command::CreatePool(c) => engine.create_pool(c, out),
            Command::JoinPool(c) => engine.join_pool(c, out),
            Command::LeavePool(c) => engine.leave_pool(c, out),
            Command::StartPool(c) => engine.start_pool(c, out),
            Command::SettlePool(c) => engine.settle_pool(c, out),
            other => misrouted(other, "markets"),
        }
    }

    /// GTD orders expire, markets reach their close time, undisputed resolutions become
    /// final.
    fn tick(engine: &mut Engine, out: &mut Vec<Event>) {
        engine.expire_orders(out);
        engine.close_due_markets(out);
        engine.finalize_due_resolutions(out);
    }

    fn next_deadline(engine: &Engine) -> Option<Timestamp> {
        let expiry = engine.trading.expiries.peek().map(|r| (r.0).0);
        let closing = engine.markets.closing.first().map(|&(at, _)| at);
        let finalizing = engine.markets.finalizing.first().map(|&(at, _)| at);
        [expiry, closing, finalizing].into_iter().flatten().min()
    }

    /// Books consistent and uncrossed, escrow covering every outstanding share, locks
    /// matching open orders.
    fn check(engine: &Engine) {
        engine.check_trading();
    }
}
