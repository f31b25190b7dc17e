//! From journal records to rows: a replica of the engine applies each journaled command —
//! the engine is deterministic, so the replica goes through exactly the live core's states —
//! and each event names what changed; the row is read from the replica's own query answer,
//! so a row in the store is what the core's query said at that record.
//!
//! Rows of objects the core keeps only in bounded windows (orders, transactions, KYC
//! documents, pools, API keys) are read right after the command that changed them, before a
//! later command can push them out of the window. Rows that are always in the core (users,
//! wallets, markets, positions) are read once at the end of the batch.

use crate::schema;
use crate::store::{Batch, Checkpoint};
use crate::{Error, Result};
use betbet_engine::{Ctx, Engine};
use betbet_protocol::codec::from_slice;
use betbet_protocol::command::{Command, JournalEntry, MarketStatus};
use betbet_protocol::event::Event;
use betbet_protocol::games::{GameQuery, GameSessionChanged, GameSessionQuery, SessionChange};
use betbet_protocol::query::QueryReply;
use betbet_protocol::query::{
    ApiKeyQuery, MarketListQuery, MarketQuery, MarketSort, OrderQuery, PAGE_LIMIT_MAX,
    PaymentMethodQuery, PoolQuery, PositionsQuery, Query, TxIdQuery, TxQuery, UserQuery,
    WalletQuery,
};
use betbet_protocol::types::{AccountId, MarketId, Timestamp, UserId};
use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;

/// What the store holds of the rows the end of a batch rewrites (users, profiles, wallets,
/// markets, outcomes, positions): a fingerprint per row, so a row that did not change is
/// not written again, and each user's open positions, so one that closed is deleted. It
/// starts empty (every row is written once after a start) and has one entry per such row
/// in the core, so it is bounded by the engine's `Limits`.
struct Written {
    hasher: std::hash::RandomState,
    rows: HashMap<u64, u64>,
    /// Per user, the keys of the positions the core lists (open, and settled within its
    /// window) and the markets of the open ones, as last written.
    positions: HashMap<UserId, KnownPositions>,
    /// Per market, the users with an open position in it: whose positions a settlement
    /// changes.
    holders: HashMap<MarketId, BTreeSet<UserId>>,
}

#[derive(Default)]
struct KnownPositions {
    open: Vec<Vec<schema::Value>>,
    settled: Vec<Vec<schema::Value>>,
    markets: BTreeSet<MarketId>,
}

impl Written {
    /// Upserts `row` into `batch` unless the store already has it as it is.
    fn keep(&mut self, batch: &mut Batch, table: &'static schema::Table, row: schema::Row) {
        let key = self.hasher.hash_one((table.name, table.key_of(&row)));
        let fingerprint = self.hasher.hash_one(&row);
        if self.rows.insert(key, fingerprint) != Some(fingerprint) {
            batch.upsert(table, row);
        }
    }

    fn forget(&mut self, table: &'static schema::Table, key: &[schema::Value]) {
        self.rows.remove(&self.hasher.hash_one((table.name, key)));
    }
}

/// The replica and what the current batch still has to read at its end.
pub struct Projector {
    engine: Engine,
    base_seq: u64,
    events: Vec<Event>,
    last_at: Timestamp,
    users: BTreeSet<UserId>,
    wallets: BTreeSet<AccountId>,
    /// Users whose funds were locked or unlocked (orders): a move within an account, which
    /// no ledger event shows.
    wallet_users: BTreeSet<UserId>,
    markets: BTreeSet<MarketId>,
    position_users: BTreeSet<UserId>,
    written: Written,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("last_seq", &self.engine.last_seq())
            .field("base_seq", &self.base_seq)
            .finish_non_exhaustive()
    }
}

impl Projector {
    /// A projector whose replica is `engine` (restored from a snapshot, or empty), for a
    /// store whose history starts at `base_seq`.
    pub fn new(engine: Engine, base_seq: u64) -> Projector {
        Projector {
            last_at: engine.now(),
            engine,
            base_seq,
            events: Vec::with_capacity(256),
            users: BTreeSet::new(),
            wallets: BTreeSet::new(),
            wallet_users: BTreeSet::new(),
            markets: BTreeSet::new(),
            position_users: BTreeSet::new(),
            written: Written {
                hasher: std::hash::RandomState::new(),
                rows: HashMap::new(),
                positions: HashMap::new(),
                holders: HashMap::new(),
            },
        }
    }

    /// The last record the replica applied.
    pub fn last_seq(&self) -> u64 {
        self.engine.last_seq()
    }

    pub fn base_seq(&self) -> u64 {
        self.base_seq
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn decode(seq: u64, payload: &[u8]) -> Result<JournalEntry> {
        from_slice::<JournalEntry>(payload).map_err(|e| Error::Record {
            seq,
            reason: e.to_string(),
        })
    }

    fn expect_next(&self, seq: u64) -> Result<()> {
        let expected = self.engine.last_seq() + 1;
        if seq != expected {
            return Err(Error::Gap {
                expected,
                found: seq,
            });
        }
        Ok(())
    }

    /// Applies a journaled command to the replica, its events into `self.events`.
    fn replay(&mut self, seq: u64, entry: &JournalEntry) {
        self.events.clear();
        let ctx = Ctx {
            at: entry.at,
            seed: entry.seed,
            seq,
        };
        self.engine.apply(&entry.command, &ctx, &mut self.events);
        self.last_at = entry.at;
    }

    /// Applies a record the store already has (catching up to its checkpoint).
    pub fn skip(&mut self, seq: u64, payload: &[u8]) -> Result<()> {
        self.expect_next(seq)?;
        let entry = Self::decode(seq, payload)?;
        self.replay(seq, &entry);
        Ok(())
    }

    /// Applies a record and adds what it changed to `batch`.
    pub fn apply(&mut self, seq: u64, payload: &[u8], batch: &mut Batch) -> Result<()> {
        self.expect_next(seq)?;
        let entry = Self::decode(seq, payload)?;
        // A removed payment method is gone from the core once applied: find its owner first.
        let removed_method_owner = match &entry.command {
            Command::RemovePaymentMethod(c) => {
                match self
                    .engine
                    .query(&Query::PaymentMethod(PaymentMethodQuery { id: c.method }))
                {
                    QueryReply::PaymentMethod(m) => Some(m.user),
                    _ => None,
                }
            }
            _ => None,
        };
        self.replay(seq, &entry);
        // The deliberately broken projection for `scripts/mutants`: each record is applied
        // to the replica twice, as a writer that re-reads a batch after a failed write
        // without rewinding its replica would.
        #[cfg(feature = "broken-batch-twice")]
        {
            let first = std::mem::take(&mut self.events);
            self.replay(seq, &entry);
            self.events.splice(0..0, first);
        }
        batch.records += 1;
        batch.events += self.events.len() as u64;
        match &entry.command {
            Command::AddPaymentMethod(c) => self.payment_methods(c.user, batch),
            Command::RemovePaymentMethod(_) => {
                if let Some(user) = removed_method_owner {
                    self.payment_methods(user, batch);
                }
            }
            Command::CreateApiKey(c) => {
                if let QueryReply::ApiKeys(keys) = self
                    .engine
                    .query(&Query::ApiKeys(UserQuery { user: c.actor }))
                {
                    for key in &keys {
                        batch.upsert(&schema::API_KEYS, schema::api_key_row(key));
                    }
                }
            }
            Command::RevokeApiKey(c) => self.api_key(c.key, batch),
            Command::ApiKeyLogin(c) => self.api_key(c.key, batch),
            Command::SubmitKyc(c) => self.kyc(c.user, batch),
            _ => {}
        }
        let events = std::mem::take(&mut self.events);
        let mut ledger_idx = 0u32;
        let mut settled_markets = Vec::new();
        for event in &events {
            match event {
                Event::UserRegistered(e) => {
                    self.users.insert(e.user);
                }
                Event::UserChanged(e) => {
                    self.users.insert(e.user);
                }
                Event::SessionOpened(e) => {
                    self.users.insert(e.user);
                }
                Event::SessionRevoked(_) | Event::BookDelta(_) => {}
                Event::ApiKeyRevoked(e) => self.api_key(e.key, batch),
                Event::KycDecided(e) => {
                    self.kyc(e.user, batch);
                    self.users.insert(e.user);
                }
                Event::WalletCreated(e) => {
                    self.wallets.insert(e.account);
                }
                Event::TxUpdated(e) => {
                    if let QueryReply::Transaction(tx) = self
                        .engine
                        .query(&Query::Transaction(TxIdQuery { tx: e.tx }))
                    {
                        batch.upsert(&schema::TRANSACTIONS, schema::tx_row(&tx));
                    }
                }
                Event::LedgerMoved(e) => {
                    self.wallets.insert(e.debit);
                    self.wallets.insert(e.credit);
                    batch.upsert(
                        &schema::LEDGER_ENTRIES,
                        schema::ledger_row(seq, ledger_idx, entry.at, e),
                    );
                    ledger_idx += 1;
                }
                Event::MarketCreated(e) | Event::MarketUpdated(e) => {
                    self.markets.insert(e.market);
                }
                Event::MarketStatusChanged(e) => {
                    self.markets.insert(e.market);
                    if matches!(e.status, MarketStatus::Resolved | MarketStatus::Voided) {
                        settled_markets.push(e.market);
                    }
                }
                Event::MarketResolved(e) => {
                    self.markets.insert(e.market);
                    settled_markets.push(e.market);
                }
                Event::ResolutionProposed(e) => {
                    self.markets.insert(e.market);
                }
                Event::ResolutionDisputed(e) => {
                    self.markets.insert(e.market);
                }
                Event::OrderAccepted(e) => {
                    self.wallets.insert(e.account);
                    self.order(e.order, batch);
                }
                Event::OrderUpdated(e) => {
                    self.wallet_users.insert(e.user);
                    self.order(e.order, batch);
                }
                Event::Trade(t) => {
                    let (trade, price) = schema::trade_rows(t);
                    batch.upsert(&schema::TRADES, trade);
                    batch.upsert(&schema::MARKET_PRICES, price);
                    self.markets.insert(t.market);
                    self.position_users.insert(t.maker_user);
                    self.position_users.insert(t.taker_user);
                    // A trade adds to both users' totals (total_wagered on the profile).
                    self.users.insert(t.maker_user);
                    self.users.insert(t.taker_user);
                }
                Event::Payout(p) => {
                    self.position_users.insert(p.user);
                    self.users.insert(p.user);
                    self.markets.insert(p.market);
                }
                Event::GameChanged(e) => {
                    if let QueryReply::Game(game) =
                        self.engine.query(&Query::Game(GameQuery { game: e.game }))
                    {
                        batch.upsert(&schema::GAMES, schema::game_row(&game));
                    }
                }
                // A move, a client seed, a chat message or a tick changes nothing the
                // rows hold but the version (the moves and messages are journaled, the
                // position is the core's; a game chat is kept by the journal only, not
                // history): the rows follow the session's other changes, its end at the
                // latest, and its `version` is the one of the last change they follow.
                // At thousands of moves a second, that is most of the history store's
                // writes spared.
                Event::GameSessionChanged(GameSessionChanged {
                    change: SessionChange::Moved | SessionChange::ClientSeedSet,
                    ..
                })
                | Event::GameChatPosted(_) => {}
                Event::GameSessionChanged(GameSessionChanged { session, .. }) => {
                    // The system reads every session, private ones included.
                    let query = GameSessionQuery {
                        session: *session,
                        viewer: UserId::SYSTEM,
                    };
                    if let QueryReply::GameSession(view) =
                        self.engine.query(&Query::GameSession(query))
                    {
                        let (row, players) = schema::game_session_rows(&view);
                        batch.upsert(&schema::GAME_SESSIONS, row);
                        batch.replace(
                            &schema::GAME_PLAYERS,
                            "session_id",
                            schema::id(view.id.0),
                            "session_id = $1",
                        );
                        for player in players {
                            batch.upsert(&schema::GAME_PLAYERS, player);
                        }
                    }
                    if let QueryReply::GameSpectators(list) =
                        self.engine.query(&Query::GameSpectators(query))
                    {
                        // Replaced: a spectator who takes a seat stops watching.
                        batch.replace(
                            &schema::GAME_SPECTATORS,
                            "session_id",
                            schema::id(list.session.0),
                            "session_id = $1",
                        );
                        for row in schema::game_spectator_rows(&list) {
                            batch.upsert(&schema::GAME_SPECTATORS, row);
                        }
                    }
                }
                Event::GameSessionTicked(_) => {}
                Event::RatingChanged(e) => {
                    batch.upsert(&schema::RATING_HISTORY, schema::rating_row(e))
                }
                // Tournaments live in the core (the last 200 ended ones too); their matches
                // are game sessions, projected as any, and their money is in the ledger's
                // and the transactions' rows.
                Event::TournamentChanged(_) => {}
                Event::CommunityChanged(e) => self.community(e, entry.at, batch),
                Event::PostChanged(e) => self.post(e, entry.at, batch),
                Event::ChatMessage(e) => self.chat_message(e, entry.at, batch),
                Event::GroupChanged(e) => self.group(e, entry.at, batch),
                Event::ChatRead(e) => {
                    batch.upsert(&schema::CHAT_READS, crate::chat::read_row(e, entry.at))
                }
                Event::PoolChanged(p) => {
                    if let QueryReply::Pool(pool) =
                        self.engine.query(&Query::Pool(PoolQuery { pool: p.pool }))
                    {
                        let (row, members) = schema::pool_rows(&pool);
                        batch.upsert(&schema::BETTING_POOLS, row);
                        batch.replace(
                            &schema::POOL_MEMBERS,
                            "pool_id",
                            schema::id(pool.id.0),
                            "pool_id = $1",
                        );
                        for member in members {
                            batch.upsert(&schema::POOL_MEMBERS, member);
                        }
                    }
                }
            }
        }
        self.events = events;
        // A settlement moves every holder's positions into the settled window (a void pays
        // no `Payout`, a loser moves no money): read them now, before later commands of the
        // batch can push them out of that window.
        for market in settled_markets {
            let holders: Vec<UserId> = self
                .written
                .holders
                .get(&market)
                .map(|h| h.iter().copied().collect())
                .unwrap_or_default();
            for user in holders {
                self.positions(user, batch);
                self.users.insert(user);
                self.wallet_users.insert(user);
            }
        }
        Ok(())
    }

    /// A community's row, the membership the change named (deleted when it ended) and,
    /// for a moderation action, the log's entry.
    fn community(
        &self,
        e: &betbet_protocol::social::CommunityChanged,
        at: Timestamp,
        batch: &mut Batch,
    ) {
        use betbet_protocol::social::{CommunityMemberQuery, CommunityQuery};
        let query = CommunityQuery {
            community: e.community,
            viewer: UserId::SYSTEM,
        };
        if let QueryReply::Community(view) = self.engine.query(&Query::Community(query)) {
            batch.upsert(&schema::COMMUNITIES, schema::community_row(&view));
        }
        let query = CommunityMemberQuery {
            community: e.community,
            user: e.user,
        };
        match self.engine.query(&Query::CommunityMember(query)) {
            QueryReply::CommunityMember(member) => batch.upsert(
                &schema::COMMUNITY_MEMBERS,
                schema::community_member_row(&member),
            ),
            _ => batch.delete(
                &schema::COMMUNITY_MEMBERS,
                vec![schema::id(e.community.0), schema::id(e.user.0)],
            ),
        }
        if e.change.is_moderation() {
            batch.upsert(&schema::COMMUNITY_MODERATION, schema::moderation_row(e, at));
        }
    }

    /// A group's rows (its members' replaced: one may have gone) and, for money, the
    /// wallet history's entry.
    fn group(&self, e: &betbet_protocol::social::GroupChanged, at: Timestamp, batch: &mut Batch) {
        use betbet_protocol::social::{GroupChange, GroupQuery};
        let query = GroupQuery {
            group: e.group,
            viewer: UserId::SYSTEM,
        };
        if let QueryReply::Group(view) = self.engine.query(&Query::Group(query)) {
            let (row, members) = schema::group_rows(&view);
            batch.upsert(&schema::GROUPS, row);
            batch.replace(
                &schema::GROUP_MEMBERS,
                "group_id",
                schema::id(view.id.0),
                "group_id = $1",
            );
            for member in members {
                batch.upsert(&schema::GROUP_MEMBERS, member);
            }
        }
        if matches!(e.change, GroupChange::Contributed | GroupChange::PaidOut) {
            batch.upsert(
                &schema::GROUP_TRANSACTIONS,
                schema::group_transaction_row(e, at),
            );
        }
    }

    /// A message's row and, for a direct message, its conversation's.
    fn chat_message(
        &self,
        e: &betbet_protocol::social::ChatMessage,
        at: Timestamp,
        batch: &mut Batch,
    ) {
        use betbet_protocol::social::{RoomKind, RoomQuery};
        let (table, row) = crate::chat::message_row(e, at);
        batch.upsert(table, row);
        if e.room.kind == RoomKind::Direct {
            let query = RoomQuery {
                room: e.room,
                viewer: e.sender,
            };
            if let QueryReply::Room(view) = self.engine.query(&Query::Room(query))
                && let Some(row) = crate::chat::conversation_row(&view, at)
            {
                batch.upsert(&schema::CONVERSATIONS, row);
            }
        }
    }

    /// Communities, their memberships, threads, replies and conversations as the replica
    /// holds them. A post's or message's text is not in the core (only in the journal's
    /// records), so text from before the seed's snapshot is not in the store.
    fn seed_social(&self, batch: &mut Batch) {
        use betbet_protocol::social::{CommunityId, CommunityQuery, ReplyId, ReplyQuery};
        use betbet_protocol::social::{ThreadId, ThreadQuery};
        let system = UserId::SYSTEM;
        let (communities, threads, replies) = self.engine.social_ids();
        for raw in 1..=communities {
            let community = CommunityId(raw);
            let query = Query::Community(CommunityQuery {
                community,
                viewer: system,
            });
            if let QueryReply::Community(view) = self.engine.query(&query) {
                batch.upsert(&schema::COMMUNITIES, schema::community_row(&view));
            }
            for member in self.engine.community_members(community) {
                let row = schema::community_member_row(&member);
                batch.upsert(&schema::COMMUNITY_MEMBERS, row);
            }
        }
        for raw in 1..=threads {
            let query = Query::Thread(ThreadQuery {
                thread: ThreadId(raw),
                viewer: system,
            });
            if let QueryReply::Thread(view) = self.engine.query(&query) {
                batch.upsert(&schema::THREADS, schema::thread_row(&view));
            }
        }
        for raw in 1..=replies {
            let query = Query::Reply(ReplyQuery {
                reply: ReplyId(raw),
                viewer: system,
            });
            if let QueryReply::Reply(view) = self.engine.query(&query) {
                batch.upsert(&schema::THREAD_REPLIES, schema::reply_row(&view));
            }
        }
        for raw in 1..=self.engine.groups_next() {
            let query = Query::Group(betbet_protocol::social::GroupQuery {
                group: betbet_protocol::social::GroupId(raw),
                viewer: system,
            });
            if let QueryReply::Group(view) = self.engine.query(&query) {
                let (row, members) = schema::group_rows(&view);
                batch.upsert(&schema::GROUPS, row);
                for member in members {
                    batch.upsert(&schema::GROUP_MEMBERS, member);
                }
            }
        }
        // Conversations (their messages' text, like posts', is not in the core).
        for (room, viewer) in self.engine.conversation_rooms() {
            let query = Query::Room(betbet_protocol::social::RoomQuery { room, viewer });
            if let QueryReply::Room(view) = self.engine.query(&query)
                && let Some(row) = crate::chat::conversation_row(&view, self.engine.now())
            {
                batch.upsert(&schema::CONVERSATIONS, row);
            }
        }
    }

    /// A post's thread row, its reply row if it is a reply, and its text when created or
    /// edited (the text is in the event only: the core keeps none).
    fn post(&self, e: &betbet_protocol::social::PostChanged, at: Timestamp, batch: &mut Batch) {
        use betbet_protocol::social::{CommunityType, ReplyQuery, ThreadQuery};
        let query = ThreadQuery {
            thread: e.thread,
            viewer: UserId::SYSTEM,
        };
        let QueryReply::Thread(thread) = self.engine.query(&Query::Thread(query)) else {
            return;
        };
        batch.upsert(&schema::THREADS, schema::thread_row(&thread));
        if let Some(reply) = e.reply {
            let query = ReplyQuery {
                reply,
                viewer: UserId::SYSTEM,
            };
            if let QueryReply::Reply(view) = self.engine.query(&Query::Reply(query)) {
                batch.upsert(&schema::THREAD_REPLIES, schema::reply_row(&view));
            }
        }
        if let Some(text) = &e.text {
            let public = thread.community_kind == CommunityType::Public;
            let paywalled = thread.paywall_amount.0 > 0;
            let row = schema::post_content_row(e, text, public, paywalled, at);
            batch.upsert(&schema::POST_CONTENTS, row);
        }
    }

    fn order(&self, order: betbet_protocol::types::OrderId, batch: &mut Batch) {
        if let QueryReply::Order(view) = self.engine.query(&Query::Order(OrderQuery { order })) {
            batch.upsert(&schema::MARKET_ORDERS, schema::order_row(&view));
        }
    }

    fn api_key(&self, key: u64, batch: &mut Batch) {
        if let QueryReply::ApiKey(view) = self.engine.query(&Query::ApiKey(ApiKeyQuery { key })) {
            batch.upsert(&schema::API_KEYS, schema::api_key_row(&view));
        }
    }

    fn kyc(&self, user: UserId, batch: &mut Batch) {
        if let QueryReply::Kyc(status) = self.engine.query(&Query::Kyc(UserQuery { user })) {
            for document in &status.documents {
                batch.upsert(&schema::KYC_DOCUMENTS, schema::kyc_row(document));
            }
        }
    }

    fn payment_methods(&self, user: UserId, batch: &mut Batch) {
        batch.replace(
            &schema::PAYMENT_METHODS,
            "user_id",
            schema::id(user.0),
            "user_id = $1",
        );
        if let QueryReply::PaymentMethods(methods) = self
            .engine
            .query(&Query::PaymentMethods(UserQuery { user }))
        {
            for method in &methods {
                batch.upsert(&schema::PAYMENT_METHODS, schema::payment_method_row(method));
            }
        }
    }

    /// Reads the rows left for the end of the batch and sets its checkpoint.
    pub fn finish(&mut self, batch: &mut Batch) {
        for user in std::mem::take(&mut self.wallet_users) {
            if let QueryReply::Wallets(wallets) =
                self.engine.query(&Query::Wallets(UserQuery { user }))
            {
                for wallet in &wallets {
                    self.wallets.insert(wallet.id);
                }
            }
        }
        for account in std::mem::take(&mut self.wallets) {
            if let QueryReply::Wallet(wallet) = self
                .engine
                .query(&Query::Wallet(WalletQuery { wallet: account }))
            {
                // Money moved: the owner's positions may have changed too (mint, merge).
                self.position_users.insert(wallet.user);
                self.written
                    .keep(batch, &schema::WALLETS, schema::wallet_row(&wallet));
            }
        }
        for user in std::mem::take(&mut self.users) {
            if let QueryReply::User(view) = self.engine.query(&Query::User(UserQuery { user })) {
                let (user, profile) = schema::user_rows(&view);
                self.written.keep(batch, &schema::USERS, user);
                self.written.keep(batch, &schema::USER_PROFILES, profile);
            }
        }
        for market in std::mem::take(&mut self.markets) {
            if let QueryReply::Market(view) =
                self.engine.query(&Query::Market(MarketQuery { market }))
            {
                let (market, outcomes) = schema::market_rows(&view);
                self.written.keep(batch, &schema::MARKETS, market);
                for outcome in outcomes {
                    self.written.keep(batch, &schema::MARKET_OUTCOMES, outcome);
                }
            }
        }
        for user in std::mem::take(&mut self.position_users) {
            self.positions(user, batch);
        }
        batch.checkpoint = Some(Checkpoint {
            seq: self.engine.last_seq(),
            record_at: self.last_at,
            base_seq: self.base_seq,
        });
    }

    fn user(&self, user: UserId, batch: &mut Batch) {
        if let QueryReply::User(view) = self.engine.query(&Query::User(UserQuery { user })) {
            let (user, profile) = schema::user_rows(&view);
            batch.upsert(&schema::USERS, user);
            batch.upsert(&schema::USER_PROFILES, profile);
        }
    }

    /// A user's positions as the core has them: one that closed to nothing leaves the core,
    /// so it leaves the store; settled ones are upserted and stay, also after they leave the
    /// core's window.
    fn positions(&mut self, user: UserId, batch: &mut Batch) {
        if user == UserId::SYSTEM {
            return;
        }
        let table = &schema::MARKET_POSITIONS;
        let mut rows = Vec::new();
        let mut now = KnownPositions::default();
        for settled in [false, true] {
            if let QueryReply::Positions(views) = self
                .engine
                .query(&Query::Positions(PositionsQuery { user, settled }))
            {
                for view in &views {
                    let row = schema::position_row(view);
                    if settled {
                        now.settled.push(table.key_of(&row));
                    } else {
                        now.open.push(table.key_of(&row));
                        now.markets.insert(view.market);
                    }
                    rows.push(row);
                }
            }
        }
        let listed: BTreeSet<&Vec<schema::Value>> = now.open.iter().chain(&now.settled).collect();
        let mut gone = Vec::new();
        let before = self.written.positions.get(&user);
        match before {
            // The first time since start: what the store has is unknown, so its open
            // positions of this user are replaced whole.
            None => {
                batch.replace(
                    table,
                    "user_id",
                    schema::id(user.0),
                    "user_id = $1 AND status = 'open'",
                );
                for row in &rows {
                    gone.push(table.key_of(row));
                }
            }
            Some(before) => {
                // An open position that closed to nothing left the core, so it leaves the
                // store; one that was settled keeps its key and is overwritten below.
                for key in &before.open {
                    if !listed.contains(key) {
                        batch.delete(table, key.clone());
                        gone.push(key.clone());
                    }
                }
                // A settled one that fell out of the core's window stays in the store.
                for key in &before.settled {
                    if !listed.contains(key) {
                        gone.push(key.clone());
                    }
                }
            }
        }
        let markets_before = before.map(|b| b.markets.clone()).unwrap_or_default();
        for market in markets_before.difference(&now.markets) {
            if let Some(holders) = self.written.holders.get_mut(market) {
                holders.remove(&user);
                if holders.is_empty() {
                    self.written.holders.remove(market);
                }
            }
        }
        for market in now.markets.difference(&markets_before) {
            self.written
                .holders
                .entry(*market)
                .or_default()
                .insert(user);
        }
        drop(listed);
        self.written.positions.insert(user, now);
        for key in &gone {
            self.written.forget(table, key);
        }
        for row in rows {
            self.written.keep(batch, table, row);
        }
    }

    /// Users in the replica; their ids are 1 to this.
    fn user_count(&self) -> u64 {
        match self
            .engine
            .query(&Query::Status(betbet_protocol::message::Empty {}))
        {
            QueryReply::Status(status) => status.users,
            _ => 0,
        }
    }

    /// Notes who holds open positions in which market, from the replica's state (after a
    /// start, before the first batch): a settlement must refresh every holder's positions,
    /// also those of users the writer has not seen since it started.
    pub fn learn_holders(&mut self) {
        let users = self.user_count();
        for raw in 1..=users {
            let user = UserId(raw);
            if let QueryReply::Positions(views) =
                self.engine.query(&Query::Positions(PositionsQuery {
                    user,
                    settled: false,
                }))
            {
                for view in &views {
                    self.written
                        .holders
                        .entry(view.market)
                        .or_default()
                        .insert(user);
                }
            }
        }
    }

    /// Writes everything the replica holds into `batch`: the seed of a store whose history
    /// starts at a snapshot because the journal before it was pruned (a data directory that
    /// ran before the store existed). Users are numbered from 1; markets are listed.
    pub fn seed(&mut self, batch: &mut Batch) {
        self.seed_social(batch);
        let users = self.user_count();
        for raw in 1..=users {
            let user = UserId(raw);
            self.user(user, batch);
            self.kyc(user, batch);
            self.payment_methods(user, batch);
            self.positions(user, batch);
            if let QueryReply::ApiKeys(keys) =
                self.engine.query(&Query::ApiKeys(UserQuery { user }))
            {
                for key in &keys {
                    batch.upsert(&schema::API_KEYS, schema::api_key_row(key));
                }
            }
            if let QueryReply::Wallets(wallets) =
                self.engine.query(&Query::Wallets(UserQuery { user }))
            {
                for wallet in &wallets {
                    batch.upsert(&schema::WALLETS, schema::wallet_row(wallet));
                }
            }
            let engine = &self.engine;
            pages(
                |offset| match engine.query(&Query::Transactions(TxQuery {
                    user,
                    tx_type: None,
                    since: None,
                    offset,
                    limit: PAGE_LIMIT_MAX,
                })) {
                    QueryReply::Transactions(txs) => Some(txs),
                    _ => None,
                },
                |tx| batch.upsert(&schema::TRANSACTIONS, schema::tx_row(tx)),
            );
            for open in [true, false] {
                pages(
                    |offset| match engine.query(&Query::Orders(
                        betbet_protocol::query::OrdersQuery {
                            user,
                            market: None,
                            open,
                            offset,
                            limit: PAGE_LIMIT_MAX,
                        },
                    )) {
                        QueryReply::Orders(orders) => Some(orders),
                        _ => None,
                    },
                    |order| batch.upsert(&schema::MARKET_ORDERS, schema::order_row(order)),
                );
            }
        }
        let engine = &self.engine;
        pages(
            |offset| match engine.query(&Query::Markets(MarketListQuery {
                category: None,
                status: None,
                sort: MarketSort::Newest,
                offset,
                limit: PAGE_LIMIT_MAX,
            })) {
                QueryReply::Markets(list) => Some(list.markets),
                _ => None,
            },
            |market| {
                let (row, outcomes) = schema::market_rows(market);
                batch.upsert(&schema::MARKETS, row);
                for outcome in outcomes {
                    batch.upsert(&schema::MARKET_OUTCOMES, outcome);
                }
            },
        );
        batch.checkpoint = Some(Checkpoint {
            seq: self.engine.last_seq(),
            record_at: self.last_at,
            base_seq: self.base_seq,
        });
    }
}

/// Calls `each` on every item of the pages `page(offset)` returns, [`PAGE_LIMIT_MAX`] at a
/// time, until a short page.
fn pages<T>(mut page: impl FnMut(u32) -> Option<Vec<T>>, mut each: impl FnMut(&T)) {
    let mut offset = 0;
    while let Some(items) = page(offset) {
        items.iter().for_each(&mut each);
        if items.len() < PAGE_LIMIT_MAX as usize {
            break;
        }
        offset += PAGE_LIMIT_MAX;
    }
}
