//! Reads of engine state for gateways: they change nothing and are not journaled.
//!
//! Every list is bounded ([`PAGE_LIMIT_MAX`], or by a per-user limit of the engine), so a
//! query can never make the engine thread walk or copy an unbounded amount of state.

use crate::Engine;
use crate::ledger::Owner;
use crate::wallet::{Reference, Tx};
use betbet_protocol::event::BookSide;
use betbet_protocol::message::Empty;
use betbet_protocol::query::{
    BOOK_DEPTH_MAX, BookQuery, BookSnapshot, CoreStatus, Level, PAGE_LIMIT_MAX, Query, QueryReply,
    TxQuery,
};
use betbet_protocol::types::{AccountId, Amount, Qty, UserId};
use betbet_protocol::view::{
    KycDocumentView, KycStatusView, PaymentMethodView, ReferenceType, SessionView, StatsView,
    TxView, UserAuthView, UserView, WalletView,
};

fn tx_view(tx: &Tx) -> TxView {
    let (reference_type, reference_id) = match tx.reference {
        Reference::None => (ReferenceType::None, 0),
        Reference::Market(id) => (ReferenceType::Market, id),
        Reference::P2p(id) => (ReferenceType::P2p, id),
        Reference::Pool(id) => (ReferenceType::Pool, id),
    };
    TxView {
        id: tx.id,
        user: tx.user,
        wallet: tx.account,
        tx_type: tx.tx_type,
        status: tx.status,
        amount: Amount(tx.amount),
        fee: Amount(tx.fee),
        credit: tx.credit,
        currency: tx.currency,
        counterparty: tx.counterparty,
        reference_type,
        reference_id,
        payment_method: tx.payment_method.clone(),
        payment_method_id: tx.payment_method_id,
        provider_reference: tx.provider_reference.clone(),
        memo: tx.memo.clone(),
        notes: tx.notes.clone(),
        processed_by: tx.processed_by,
        created_at: tx.created_at,
        completed_at: tx.completed_at,
    }
}

impl Engine {
    pub fn query(&self, query: &Query) -> QueryReply {
        let not_found = || QueryReply::NotFound(Empty {});
        match query {
            Query::Book(q) => self
                .book_snapshot(q)
                .map_or_else(not_found, QueryReply::Book),
            Query::Status(_) => QueryReply::Status(CoreStatus {
                last_seq: self.seq,
                users: self.users.users.len() as u64,
                markets: self.markets.markets.len() as u64,
                live_orders: u64::from(self.trading.live_orders),
                accounts: self.ledger.len() as u64,
            }),
            Query::UserByLogin(q) => {
                self.users
                    .find_login(&q.login)
                    .map_or_else(not_found, |user| {
                        QueryReply::UserAuth(UserAuthView {
                            user: user.id,
                            password_hash: user.password_hash.clone(),
                            status: user.status,
                            role: user.role,
                            two_fa_enabled: user.two_fa.enabled,
                        })
                    })
            }
            Query::User(q) => self
                .user_view(q.user)
                .map_or_else(not_found, QueryReply::User),
            Query::Stats(q) => self
                .stats_view(q.user)
                .map_or_else(not_found, QueryReply::Stats),
            Query::Session(q) => self
                .users
                .sessions
                .get(&q.session)
                .filter(|s| s.expires_at > self.now)
                .map_or_else(not_found, |s| {
                    QueryReply::Session(SessionView {
                        session: s.id,
                        user: s.user,
                        expires_at: s.expires_at,
                    })
                }),
            Query::Wallets(q) => match self.users.get(q.user) {
                Some(user) => QueryReply::Wallets(
                    user.wallets
                        .iter()
                        .filter_map(|&(_, id)| self.wallet_view(id))
                        .collect(),
                ),
                None => not_found(),
            },
            Query::Wallet(q) => self
                .wallet_view(q.wallet)
                .map_or_else(not_found, QueryReply::Wallet),
            Query::Transactions(q) => QueryReply::Transactions(self.transactions(q)),
            Query::Transaction(q) => self
                .wallet
                .tx(q.tx)
                .map_or_else(not_found, |tx| QueryReply::Transaction(tx_view(tx))),
            Query::PaymentMethods(q) => match self.users.get(q.user) {
                Some(user) => QueryReply::PaymentMethods(
                    user.payment_methods
                        .iter()
                        .filter_map(|&id| self.payment_method_view(id))
                        .collect(),
                ),
                None => not_found(),
            },
            Query::PaymentMethod(q) => self
                .payment_method_view(q.id)
                .map_or_else(not_found, QueryReply::PaymentMethod),
            Query::Kyc(q) => match self.users.get(q.user) {
                Some(user) => QueryReply::Kyc(KycStatusView {
                    user: user.id,
                    kyc_level: user.kyc_level,
                    documents: user
                        .kyc_documents
                        .iter()
                        .filter_map(|&id| self.kyc_view(id))
                        .collect(),
                }),
                None => not_found(),
            },
            Query::KycDocument(q) => self
                .kyc_view(q.id)
                .map_or_else(not_found, QueryReply::KycDocument),
        }
    }

    /// Level 2 of the YES book an outcome trades on, `depth` levels per side.
    pub fn book_snapshot(&self, q: &BookQuery) -> Option<BookSnapshot> {
        let outcome = self.markets.outcome(q.outcome)?;
        let contract = &self.markets.contracts[outcome.contract as usize];
        let depth = q.depth.min(BOOK_DEPTH_MAX) as usize;
        let side = |side: BookSide| -> Vec<Level> {
            contract
                .book
                .levels(side, depth)
                .map(|(level, entry)| Level {
                    price: contract.book.price_of(level),
                    qty: Qty(entry.qty),
                    orders: entry.orders,
                })
                .collect()
        };
        Some(BookSnapshot {
            book: contract.outcome,
            seq: contract.book.seq,
            bids: side(BookSide::Bid),
            asks: side(BookSide::Ask),
        })
    }

    fn user_view(&self, id: UserId) -> Option<UserView> {
        let user = self.users.get(id)?;
        let profile = &user.profile;
        Some(UserView {
            id: user.id,
            username: user.username.clone(),
            email: user.email.clone(),
            role: user.role,
            status: user.status,
            kyc_level: user.kyc_level,
            referral_code: user.referral_code.clone(),
            referred_by: user.referred_by,
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_login: user.last_login,
            two_fa_enabled: user.two_fa.enabled,
            display_name: profile.display_name.clone(),
            avatar_url: profile.avatar_url.clone(),
            bio: profile.bio.clone(),
            country_code: profile.country_code.clone(),
            timezone: profile.timezone.clone(),
            language: profile.language.clone(),
            skill_rating: profile.skill_rating,
            verified_expert: profile.verified_expert,
            settings: profile.settings.clone(),
            total_wagered: Amount(user.stats.total_wagered),
            total_earnings: Amount(user.stats.total_earnings),
        })
    }

    fn stats_view(&self, id: UserId) -> Option<StatsView> {
        let user = self.users.get(id)?;
        let (mut open_orders, mut open_positions) = (0, 0);
        for &(_, account) in &user.wallets {
            open_orders += self.ledger.get(account).open_orders;
        }
        for &(_, account) in &user.wallets {
            for &slot in self
                .trading
                .account_positions
                .get(&account)
                .into_iter()
                .flatten()
            {
                let position = &self.trading.positions[slot as usize];
                open_positions += u32::from(position.yes > 0 || position.no > 0);
            }
        }
        let stats = &user.stats;
        Some(StatsView {
            user: id,
            total_wagered: Amount(stats.total_wagered),
            total_earnings: Amount(stats.total_earnings),
            orders_placed: stats.orders_placed,
            trades: stats.trades,
            markets_traded: stats.markets_traded,
            markets_won: stats.markets_won,
            markets_lost: stats.markets_lost,
            open_orders,
            open_positions,
        })
    }

    fn wallet_view(&self, id: AccountId) -> Option<WalletView> {
        if !self.ledger.exists(id) {
            return None;
        }
        let account = self.ledger.get(id);
        let Owner::User(user) = account.owner else {
            return None;
        };
        let is_default = self
            .users
            .get(user)
            .and_then(|u| u.wallets.first())
            .is_some_and(|&(_, first)| first == id);
        Some(WalletView {
            id,
            user,
            currency: account.currency,
            available: Amount(account.available),
            locked: Amount(account.locked),
            is_default,
            created_at: betbet_protocol::types::Timestamp(account.created_at),
        })
    }

    fn transactions(&self, q: &TxQuery) -> Vec<TxView> {
        let limit = q.limit.clamp(1, PAGE_LIMIT_MAX) as usize;
        self.wallet
            .history(q.user)
            .filter(|tx| q.tx_type.is_none_or(|t| t == tx.tx_type))
            .filter(|tx| q.since.is_none_or(|since| tx.created_at >= since))
            .skip(q.offset as usize)
            .take(limit)
            .map(tx_view)
            .collect()
    }

    fn payment_method_view(
        &self,
        id: betbet_protocol::types::PaymentMethodId,
    ) -> Option<PaymentMethodView> {
        let method = self.wallet.payment_method(id).filter(|m| !m.removed)?;
        Some(PaymentMethodView {
            id: method.id,
            user: method.user,
            method_type: method.method_type,
            provider: method.provider.clone(),
            display_hint: method.display_hint.clone(),
            is_verified: method.is_verified,
            is_default: method.is_default,
            created_at: method.created_at,
        })
    }

    fn kyc_view(&self, id: betbet_protocol::types::KycDocumentId) -> Option<KycDocumentView> {
        let document = self.users.kyc_document(id)?;
        Some(KycDocumentView {
            id: document.id,
            user: document.user,
            document_type: document.document_type.clone(),
            document_url: document.document_url.clone(),
            content_type: document.content_type.clone(),
            size_bytes: document.size_bytes,
            status: document.status,
            submitted_at: document.submitted_at,
            verified_at: document.verified_at,
            verified_by: document.verified_by,
            kyc_level: document.kyc_level,
            notes: document.notes.clone(),
        })
    }
}
