//! The house's crash bankroll: admins fund it from their own wallets; crash sessions
//! reserve their payout cap from it when they open and give back what they do not pay.

use crate::Engine;
use crate::ledger::Owner;
use crate::wallet::{MONEY_MOVE_MAX, Reference};
use betbet_protocol::event::{Event, LedgerReason, TxStatus, TxType};
use betbet_protocol::games::{BankrollQuery, BankrollView, FundBankroll};
use betbet_protocol::message::Reply;
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::Amount;

impl Engine {
    pub(crate) fn fund_bankroll(
        &mut self,
        c: &FundBankroll,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if !self.is_admin(c.actor) {
            return Err(ResultCode::Forbidden);
        }
        if c.amount.0 <= 0 || c.amount.0 > MONEY_MOVE_MAX {
            return Err(ResultCode::InvalidAmount);
        }
        if !self.currency_supported(c.currency) {
            return Err(ResultCode::UnsupportedCurrency);
        }
        let wallet = self.entry_wallet(c.actor, c.currency, c.amount.0)?;
        let bankroll = self.system_account(Owner::Bankroll, c.currency);
        self.ledger.transfer(
            wallet,
            bankroll,
            c.amount.0,
            false,
            LedgerReason::Bankroll,
            0,
            out,
        );
        self.record_tx(
            c.actor,
            wallet,
            TxType::Transfer,
            TxStatus::Completed,
            c.amount.0,
            0,
            false,
            Reference::None,
            out,
        );
        Ok(crate::done())
    }

    pub(crate) fn bankroll_view(&self, q: &BankrollQuery) -> BankrollView {
        let available = self
            .games
            .bankroll(&self.ledger, q.currency)
            .map_or(0, |account| self.ledger.available(account));
        let reserved = self
            .games
            .live
            .iter()
            .map(|id| &self.games.sessions[id])
            .filter(|s| s.currency == q.currency)
            .map(|s| s.reserve)
            .sum();
        BankrollView {
            currency: q.currency,
            available: Amount(available),
            reserved: Amount(reserved),
        }
    }
}
