//! Public ids: every object id in JSON is a string with a type prefix, like `usr_42` or
//! `txn_7`. Parsing is total: any text gives an id or `None`, never a panic (a fuzz target
//! holds it to that). The prefix says what the id names, so an id of the wrong kind is refused instead
//! of silently reaching a different object — and `GET /api/v1/transactions/{id}`, which the
//! spec gives both for "a user's transactions" and "one transaction", can tell the two apart.

use crate::games::{GameId, GameSessionId, TournamentId};
use crate::social::{CommunityId, ConversationId, GroupId, MessageId, ReplyId, ThreadId};
use crate::types::{
    AccountId, KycDocumentId, MarketId, OrderId, OutcomeId, PaymentMethodId, PoolId, PositionId,
    SessionId, TradeId, TxId, UserId,
};

pub trait PublicId: Copy {
    const PREFIX: &'static str;
    fn raw(self) -> u64;
    fn from_raw(raw: u64) -> Self;

    fn public(self) -> String {
        format!("{}_{}", Self::PREFIX, self.raw())
    }

    fn parse(text: &str) -> Option<Self> {
        parse_prefixed(text, Self::PREFIX).map(Self::from_raw)
    }
}

/// The number of `PREFIX_<n>`: ASCII digits only (no sign, no spaces), at most 20 of them,
/// not zero. For ids that have no type of their own (API keys' `key_<n>`) as well.
pub fn parse_prefixed(text: &str, prefix: &str) -> Option<u64> {
    let digits = text.strip_prefix(prefix)?.strip_prefix('_')?;
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let raw: u64 = digits.parse().ok()?;
    (raw != 0).then_some(raw)
}

macro_rules! public_id {
    ($($ty:ty => $prefix:literal),* $(,)?) => {$(
        impl PublicId for $ty {
            const PREFIX: &'static str = $prefix;
            fn raw(self) -> u64 { self.0 }
            fn from_raw(raw: u64) -> Self { Self(raw) }
        }
    )*};
}

public_id!(
    UserId => "usr",
    AccountId => "wal",
    TxId => "txn",
    PaymentMethodId => "pmt",
    KycDocumentId => "kyc",
    SessionId => "ses",
    MarketId => "mkt",
    OutcomeId => "out",
    OrderId => "ord",
    TradeId => "trd",
    PositionId => "pos",
    PoolId => "pool",
    GameId => "game",
    // Not `ses`: that names login sessions.
    GameSessionId => "gs",
    TournamentId => "trn",
    CommunityId => "com",
    ThreadId => "thr",
    ReplyId => "rpl",
    ConversationId => "dm",
    MessageId => "msg",
    GroupId => "grp",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_their_kind() {
        assert_eq!(UserId(42).public(), "usr_42");
        assert_eq!(UserId::parse("usr_42"), Some(UserId(42)));
        assert_eq!(UserId::parse("txn_42"), None);
        assert_eq!(UserId::parse("usr_"), None);
        assert_eq!(UserId::parse("usr_0"), None);
        assert_eq!(UserId::parse("usr_-1"), None);
        assert_eq!(UserId::parse("usr_99999999999999999999999"), None);
        assert_eq!(TxId::parse("txn_7"), Some(TxId(7)));
    }
}
