//! Reads of engine state for gateways: they change nothing and are not journaled.
//!
//! Every list is bounded ([`PAGE_LIMIT_MAX`], or by a per-user limit of the engine), so a
//! query can never make the engine thread walk or copy an unbounded amount of state.

use crate::Engine;
use crate::accounts::apikeys::ApiKey;
use crate::ledger::Owner;
use crate::markets::trading::{Order, Position};
use crate::wallet::{Reference, Tx};
use betbet_protocol::command::{MarketStatus, MarketType};
use betbet_protocol::event::BookSide;
use betbet_protocol::event::OrderStatus;
use betbet_protocol::message::Empty;
use betbet_protocol::query::{
    BOOK_DEPTH_MAX, BookQuery, BookSnapshot, CoreStatus, Level, PAGE_LIMIT_MAX, Query, QueryReply,
    TxQuery,
};
use betbet_protocol::query::{
    CandleQuery, MarketListQuery, MarketSort, OrdersQuery, PositionsQuery, Timeframe,
};
use betbet_protocol::types::{
    AccountId, Amount, MarketId, OrderId, OutcomeId, PoolId, Price, Qty, Timestamp, UserId,
};
use betbet_protocol::view::{
    ApiKeyView, Candle, CategoryCount, KycDocumentView, KycStatusView, MarketData, MarketList,
    MarketView, OrderView, OutcomeView, PaymentMethodView, PoolMemberView, PoolView, PositionView,
    ProposalView, ReferenceType, SessionView, StatsView, TradeView, TxView, UserAuthView, UserView,
    WalletView,
};

/// Items per category (case-folded), and how many of them are open, sorted by category.
pub(crate) fn category_counts<'a>(
    items: impl Iterator<Item = (&'a str, bool)>,
) -> Vec<CategoryCount> {
    let mut counts: std::collections::BTreeMap<String, (u32, u32)> = Default::default();
    for (category, open) in items {
        let entry = counts.entry(category.to_lowercase()).or_default();
        entry.1 += 1;
        entry.0 += u32::from(open);
    }
    counts
        .into_iter()
        .map(|(category, (open, total))| CategoryCount {
            category,
            open,
            total,
        })
        .collect()
}

fn api_key_view(key: &ApiKey) -> ApiKeyView {
    ApiKeyView {
        id: key.id,
        user: key.user,
        name: key.name.clone(),
        sealed_secret: key.sealed_secret.clone(),
        created_at: key.created_at,
        revoked_at: key.revoked_at,
        last_login: key.last_login,
        logins: key.logins,
    }
}

fn tx_view(tx: &Tx) -> TxView {
    let (reference_type, reference_id) = match tx.reference {
        Reference::None => (ReferenceType::None, 0),
        Reference::Market(id) => (ReferenceType::Market, id),
        Reference::P2p(id) => (ReferenceType::P2p, id),
        Reference::Pool(id) => (ReferenceType::Pool, id),
        Reference::Game(id) => (ReferenceType::GameSession, id),
        Reference::Tournament(id) => (ReferenceType::Tournament, id),
        Reference::Community(id) => (ReferenceType::Community, id),
        Reference::Thread(id) => (ReferenceType::Thread, id),
        Reference::Group(id) => (ReferenceType::Group, id),
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
            Query::Games(_)
            | Query::Game(_)
            | Query::GameCategories(_)
            | Query::ActiveGameSessions(_)
            | Query::GameSession(_)
            | Query::GameSessionByCode(_)
            | Query::GameSpectators(_)
            | Query::Leaderboard(_)
            | Query::UserRatings(_)
            | Query::Tournament(_)
            | Query::Tournaments(_)
            | Query::Bankroll(_) => self.query_games(query),
            Query::Community(_)
            | Query::CommunityMember(_)
            | Query::Thread(_)
            | Query::Reply(_)
            | Query::Room(_)
            | Query::Blocks(_)
            | Query::Group(_) => self.query_social(query),
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
                .and_then(|s| Some((s, self.users.get(s.user)?)))
                .map_or_else(not_found, |(s, user)| {
                    QueryReply::Session(SessionView {
                        session: s.id,
                        user: s.user,
                        expires_at: s.expires_at,
                        role: user.role,
                        status: user.status,
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
            Query::Markets(q) => QueryReply::Markets(self.market_list(q)),
            Query::Market(q) => self
                .market_view(q.market)
                .map_or_else(not_found, QueryReply::Market),
            Query::Categories(_) => QueryReply::Categories(self.categories()),
            Query::MarketData(q) => self
                .market_data(q.market)
                .map_or_else(not_found, QueryReply::MarketData),
            Query::Candles(q) => self.candles(q).map_or_else(not_found, QueryReply::Candles),
            Query::Orders(q) => QueryReply::Orders(self.orders(q)),
            Query::Order(q) => self
                .order_view(q.order)
                .map_or_else(not_found, QueryReply::Order),
            Query::Positions(q) => QueryReply::Positions(self.positions(q)),
            Query::Position(q) => match self.trading.position_by_id(q.position) {
                Some(position) => self
                    .position_views(position, None)
                    .into_iter()
                    .next()
                    .map_or_else(not_found, QueryReply::Position),
                None => not_found(),
            },
            Query::Pool(q) => self
                .pool_view(q.pool)
                .map_or_else(not_found, QueryReply::Pool),
            Query::ApiKey(q) => self
                .api_keys
                .get(q.key)
                .map_or_else(not_found, |key| QueryReply::ApiKey(api_key_view(key))),
            Query::ApiKeys(q) => {
                QueryReply::ApiKeys(self.api_keys.of_user(q.user).map(api_key_view).collect())
            }
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
        let stats = &self.users.trading(id)?.stats;
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
            total_wagered: Amount(stats.total_wagered),
            total_earnings: Amount(stats.total_earnings),
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
        let stats = &self.users.trading(id)?.stats;
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

/// A candle seen from the NO side: prices mirrored, high and low swapped.
/// Merges consecutive candles into `interval`-long ones (both rings hold whole intervals).
fn aggregate(candles: impl Iterator<Item = Candle>, interval: i64) -> Vec<Candle> {
    let mut out: Vec<Candle> = Vec::new();
    for candle in candles {
        let start = Timestamp(candle.start.0 - candle.start.0.rem_euclid(interval));
        match out.last_mut() {
            Some(last) if last.start == start => {
                last.high = last.high.max(candle.high);
                last.low = last.low.min(candle.low);
                last.close = candle.close;
                last.volume = Qty(last.volume.0 + candle.volume.0);
                last.notional = Amount(last.notional.0 + candle.notional.0);
            }
            _ => out.push(Candle { start, ..candle }),
        }
    }
    out
}

impl Engine {
    fn outcome_view(&self, market: &crate::markets::market::Market, index: usize) -> OutcomeView {
        let id = market.outcomes[index];
        let outcome = self.markets.outcome(id).expect("market outcomes exist");
        let contract = &self.markets.contracts[outcome.contract as usize];
        let book = &contract.book;
        let bid = book.best(BookSide::Bid).map(|l| book.price_of(l));
        let ask = book.best(BookSide::Ask).map(|l| book.price_of(l));
        let (best_bid, best_ask, last_price) = if outcome.no_view {
            (
                ask.map(Price::complement),
                bid.map(Price::complement),
                contract.last_price.map(Price::complement),
            )
        } else {
            (bid, ask, contract.last_price)
        };
        let is_winner = match market.status {
            MarketStatus::Resolved if market.market_type != MarketType::Scalar => {
                Some(market.winner == Some(id))
            }
            _ => None,
        };
        OutcomeView {
            id,
            text: market.outcome_texts[index].clone(),
            best_bid,
            best_ask,
            last_price,
            volume: Qty(contract.volume_shares),
            is_winner,
        }
    }

    pub fn market_view(&self, id: MarketId) -> Option<MarketView> {
        let market = self.markets.get(id)?;
        Some(MarketView {
            id,
            creator: market.creator,
            title: market.title.clone(),
            description: market.description.clone(),
            category: market.category.clone(),
            market_type: market.market_type,
            tick_size: market.tick,
            currency: market.currency,
            opens_at: market.opens_at,
            closes_at: market.closes_at,
            creator_fee_bp: market.creator_fee_bp,
            oracle_type: market.oracle_type,
            resolution_source: market.resolution_source.clone(),
            scalar_low: market.scalar_low,
            scalar_high: market.scalar_high,
            status: market.status,
            created_at: market.created_at,
            resolved_at: market.resolved_at,
            winner: market.winner,
            scalar_value: market.scalar_value,
            volume: Amount(market.volume),
            volume_24h: Amount(market.volume_24h(self.now)),
            trades: market.trades,
            participants: market.participants,
            outcomes: (0..market.outcomes.len())
                .map(|i| self.outcome_view(market, i))
                .collect(),
            proposal: market.proposal.as_ref().map(|p| ProposalView {
                winner: p.winner,
                scalar_value: p.scalar_value,
                proposed_by: p.proposed_by,
                proposed_at: p.proposed_at,
                final_at: p.final_at,
                disputed_by: p.dispute.as_ref().map(|d| d.by),
                dispute_reason: p
                    .dispute
                    .as_ref()
                    .map(|d| d.reason.clone())
                    .unwrap_or_default(),
                disputed_at: p.dispute.as_ref().map(|d| d.at),
            }),
        })
    }

    fn market_list(&self, q: &MarketListQuery) -> MarketList {
        let category = q.category.as_deref().map(str::to_lowercase);
        let mut matching: Vec<&crate::markets::market::Market> = self
            .markets
            .markets
            .iter()
            .filter(|m| q.status.is_none_or(|s| s == m.status))
            .filter(|m| {
                category
                    .as_deref()
                    .is_none_or(|c| m.category.to_lowercase() == c)
            })
            .collect();
        match q.sort {
            MarketSort::Volume => matching.sort_by_key(|m| (std::cmp::Reverse(m.volume), m.id)),
            MarketSort::Newest => matching.sort_by_key(|m| std::cmp::Reverse(m.id)),
            MarketSort::ClosingSoon => matching.sort_by_key(|m| (m.closes_at, m.id)),
            MarketSort::Trending => matching.sort_by_key(|m| {
                (
                    std::cmp::Reverse(m.volume_24h(self.now)),
                    std::cmp::Reverse(m.trades),
                    m.id,
                )
            }),
        }
        let limit = q.limit.clamp(1, PAGE_LIMIT_MAX) as usize;
        MarketList {
            total: matching.len() as u32,
            markets: matching
                .into_iter()
                .skip(q.offset as usize)
                .take(limit)
                .filter_map(|m| self.market_view(m.id))
                .collect(),
        }
    }

    fn categories(&self) -> Vec<CategoryCount> {
        category_counts(
            self.markets
                .markets
                .iter()
                .map(|m| (m.category.as_str(), m.status == MarketStatus::Open)),
        )
    }

    fn market_data(&self, id: MarketId) -> Option<MarketData> {
        let market = self.markets.get(id)?;
        let mut books = Vec::new();
        let mut trades = Vec::new();
        for &contract in &market.contracts {
            let record = &self.markets.contracts[contract as usize];
            books.extend(self.book_snapshot(&BookQuery {
                outcome: record.outcome,
                depth: BOOK_DEPTH_MAX,
            }));
            trades.extend(record.recent.iter().map(|t| TradeView {
                trade: betbet_protocol::types::TradeId(t.trade),
                price: t.price,
                qty: t.qty,
                taker_side: t.taker_side,
                at: t.at,
                seq: t.seq,
            }));
        }
        Some(MarketData {
            market: self.market_view(id)?,
            books,
            trades,
        })
    }

    fn candles(&self, q: &CandleQuery) -> Option<Vec<Candle>> {
        let outcome = self.markets.outcome(q.outcome)?;
        let contract = &self.markets.contracts[outcome.contract as usize];
        let limit = q.limit.clamp(1, 1_000) as usize;
        let candles = match q.timeframe {
            Timeframe::M1 => contract.candles_1m.iter().copied().collect::<Vec<_>>(),
            Timeframe::M5 | Timeframe::M15 => {
                aggregate(contract.candles_1m.iter().copied(), q.timeframe.micros())
            }
            Timeframe::H1 => contract.candles_1h.iter().copied().collect(),
            Timeframe::H4 | Timeframe::D1 => {
                aggregate(contract.candles_1h.iter().copied(), q.timeframe.micros())
            }
        };
        let skip = candles.len().saturating_sub(limit);
        Some(
            candles
                .into_iter()
                .skip(skip)
                .map(|c| if outcome.no_view { c.mirrored() } else { c })
                .collect(),
        )
    }

    fn view_of_order(&self, order: &Order, live: bool) -> OrderView {
        let status = if live {
            order.current_status()
        } else {
            order.status
        };
        OrderView {
            id: order.id,
            user: order.user_id(),
            pool: order.pool_id(),
            market: order.market,
            outcome: order.outcome,
            side: order.user_side,
            kind: order.kind,
            price: order.view_price(order.price),
            qty: Qty(order.qty()),
            filled: Qty(order.filled),
            remaining: Qty(if status.is_open() { order.remaining } else { 0 }),
            status,
            reason: order.reason,
            time_in_force: order.time_in_force,
            expires_at: order.expires_at,
            post_only: order.post_only,
            client_order_id: self.trading.client_order_id(order),
            filled_notional: Amount(order.filled_notional),
            trades: order.trades,
            created_at: order.created_at,
            // For an ended order: when it ended.
            updated_at: order.updated_at,
        }
    }

    pub fn order_view(&self, id: OrderId) -> Option<OrderView> {
        match self.trading.find(id) {
            Some(slot) => Some(self.view_of_order(self.trading.order(slot), true)),
            None => self
                .trading
                .find_ended(id)
                .map(|order| self.view_of_order(order, false)),
        }
    }

    fn orders(&self, q: &OrdersQuery) -> Vec<OrderView> {
        let Some(user) = self.users.get(q.user) else {
            return Vec::new();
        };
        let limit = q.limit.clamp(1, PAGE_LIMIT_MAX) as usize;
        let mut views: Vec<OrderView> = Vec::new();
        for &(_, account) in &user.wallets {
            let head = self.ledger.get(account).orders_head;
            views.extend(
                self.trading
                    .account_orders(head)
                    .filter(|o| q.market.is_none_or(|m| m == o.market))
                    .map(|o| self.view_of_order(o, true)),
            );
        }
        if !q.open {
            // Ended orders still in the window, newest first.
            for order in self.trading.closed.iter().rev() {
                if order.user_id() == q.user
                    && order.status != OrderStatus::Open
                    && q.market.is_none_or(|m| m == order.market)
                {
                    views.push(self.view_of_order(order, false));
                    if views.len() >= q.offset as usize + limit {
                        break;
                    }
                }
            }
        }
        views.sort_by_key(|v| std::cmp::Reverse(v.created_at));
        views
            .into_iter()
            .skip(q.offset as usize)
            .take(limit)
            .collect()
    }

    /// The sides of a position as views: YES holdings back the contract's outcome (or, for a
    /// binary or scalar market, its first outcome); NO holdings back the second outcome of a
    /// binary or scalar market, or lay the outcome of a multiple market's contract.
    /// `settled` carries a settled position's (received, settlement P&L).
    fn position_views(
        &self,
        position: &Position,
        settled: Option<(i64, i64)>,
    ) -> Vec<PositionView> {
        let contract = &self.markets.contracts[position.contract as usize];
        let Some(market) = self.markets.get(contract.market) else {
            return Vec::new();
        };
        let (user, pool) = match self.ledger.get(position.account).owner {
            Owner::User(user) => (Some(user), None),
            Owner::Pool(pool) => (None, Some(pool)),
            _ => (None, None),
        };
        let no_outcome: OutcomeId = match market.market_type {
            MarketType::Multiple => contract.outcome,
            MarketType::Binary | MarketType::Scalar => market.outcomes[1],
        };
        let sides = [
            (
                contract.outcome,
                false,
                position.yes,
                position.yes_locked,
                position.yes_cost,
            ),
            (
                no_outcome,
                market.market_type == MarketType::Multiple,
                position.no,
                position.no_locked,
                position.no_cost,
            ),
        ];
        // The position's money figures go on one side's view: the first that holds shares
        // (or, when neither does, the first) — never on both, never on an empty side.
        let carrier = sides.iter().position(|s| s.2 > 0).unwrap_or(0);
        let (payout, settlement_pnl) = settled.unwrap_or((0, 0));
        sides
            .into_iter()
            .enumerate()
            .filter(|&(k, (_, _, qty, _, _))| qty > 0 || (k == carrier && settled.is_some()))
            .map(|(k, (outcome, lay, qty, locked, cost))| PositionView {
                id: position.id,
                user,
                pool,
                market: market.id,
                outcome,
                lay,
                qty: Qty(qty),
                locked: Qty(locked),
                cost: Amount(cost),
                realized: Amount(if k == carrier {
                    position.realized.saturating_add(settlement_pnl)
                } else {
                    0
                }),
                payout: Amount(if k == carrier { payout } else { 0 }),
                settled: settled.is_some(),
                opened_at: position.opened_at,
                updated_at: position.updated_at,
            })
            .collect()
    }

    fn positions(&self, q: &PositionsQuery) -> Vec<PositionView> {
        let Some(user) = self.users.get(q.user) else {
            return Vec::new();
        };
        let mut views = Vec::new();
        for &(_, account) in &user.wallets {
            if q.settled {
                for settled in self
                    .trading
                    .settled
                    .get(&account)
                    .into_iter()
                    .flatten()
                    .rev()
                {
                    views.extend(self.position_views(
                        &settled.position,
                        Some((settled.received, settled.settlement_pnl)),
                    ));
                }
            } else {
                for &slot in self
                    .trading
                    .account_positions
                    .get(&account)
                    .into_iter()
                    .flatten()
                {
                    views.extend(self.position_views(&self.trading.positions[slot as usize], None));
                }
            }
        }
        views.truncate(PAGE_LIMIT_MAX as usize * 4);
        views
    }

    fn pool_view(&self, id: PoolId) -> Option<PoolView> {
        let pool = self.pools.get(id)?;
        Some(PoolView {
            id,
            creator: pool.creator,
            name: pool.name.clone(),
            description: pool.description.clone(),
            currency: pool.currency,
            entry_amount: Amount(pool.entry_amount),
            member_limit: pool.member_limit,
            status: pool.status,
            total_pool: Amount(pool.total),
            balance: Amount(self.ledger.get(pool.account).balance()),
            created_at: pool.created_at,
            members: pool
                .members
                .iter()
                .map(|m| PoolMemberView {
                    user: m.user,
                    username: self
                        .users
                        .get(m.user)
                        .map(|u| u.username.clone())
                        .unwrap_or_default(),
                    contribution: Amount(m.contribution),
                    share_bp: m.share_bp,
                    payout: Amount(m.payout),
                    joined_at: m.joined_at,
                })
                .collect(),
        })
    }
}
