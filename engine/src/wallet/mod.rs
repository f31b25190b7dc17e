//! Wallets and the money that enters, leaves and moves between users.
//!
//! A wallet is a user's ledger account in one currency. Deposits are recorded as pending and
//! credited from the `World` account only when a payment provider confirms them; withdrawals
//! hold amount + fee at once and move to `World` (and the fee account) only when an admin
//! approves; transfers move between two users' wallets in one step.
//!
//! Every money command may carry an idempotency key. A repeated key with the same request
//! returns the first answer and moves nothing; the same key with a different request is
//! refused, because the client has confused two operations.
//!
//! Transaction history is kept in memory for a bounded window (`Limits::transactions_kept`)
//! plus every transaction still pending, which holds money and so can never be forgotten.

use crate::ledger::Owner;
use crate::{Engine, done, text};
use betbet_protocol::codec::Encode;
use betbet_protocol::command::{
    AddPaymentMethod, CancelWithdrawal, Command, ConfirmDeposit, CreateWallet, DecideWithdrawal,
    InitiateDeposit, PaymentMethodType, RemovePaymentMethod, RequestWithdrawal, Transfer,
};
use betbet_protocol::event::{Event, LedgerReason, TxStatus, TxType, TxUpdated, WalletCreated};
use betbet_protocol::message::{Created, Reply, TxReply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{
    AMOUNT_SCALE, AccountId, Amount, Currency, IdempotencyKey, PaymentMethodId, Timestamp, TxId,
    UserId,
};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// The wallet's command family.
pub(crate) struct Family;

impl crate::family::CommandFamily for Family {
    fn apply(
        engine: &mut Engine,
        command: &Command,
        _ctx: &crate::Ctx,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        match command {
            Command::CreateWallet(c) => engine.create_wallet(c, out),
            Command::InitiateDeposit(c) => engine.initiate_deposit(c, command, out),
            Command::ConfirmDeposit(c) => engine.confirm_deposit(c, out),
            Command::RequestWithdrawal(c) => engine.request_withdrawal(c, command, out),
            Command::CancelWithdrawal(c) => engine.cancel_withdrawal(c, out),
            Command::DecideWithdrawal(c) => engine.decide_withdrawal(c, out),
            Command::Transfer(c) => engine.transfer(c, command, out),
            Command::AddPaymentMethod(c) => engine.add_payment_method(c),
            Command::RemovePaymentMethod(c) => engine.remove_payment_method(c),
            other => crate::family::misrouted(other, "wallet"),
        }
    }

    /// Idempotency records age out.
    fn tick(engine: &mut Engine, _out: &mut Vec<Event>) {
        engine.expire_idempotency();
    }

    fn next_deadline(engine: &Engine) -> Option<Timestamp> {
        engine
            .wallet
            .idempotency_order
            .front()
            .map(|&(at, _, _)| at.saturating_add_micros(IDEMPOTENCY_TTL_MICROS))
    }

    fn check(engine: &Engine) {
        engine.wallet.check();
    }
}

/// The largest single deposit, withdrawal or transfer: one billion units.
pub const MONEY_MOVE_MAX: i64 = 1_000_000_000 * AMOUNT_SCALE;
/// Pending deposits and withdrawals a user may have at once.
pub const PENDING_PER_USER_MAX: usize = 10;
/// Transactions remembered per user for history routes.
pub const HISTORY_PER_USER_MAX: usize = 1_000;
/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_MICROS: i64 = 24 * 3600 * 1_000_000;
/// The period of the withdrawal limit: any 24 hours (rolling, not a calendar day).
pub const WITHDRAWAL_PERIOD_MICROS: i64 = 24 * 3600 * 1_000_000;
/// Withdrawals one user may make per currency within one period.
pub const WITHDRAWALS_PER_PERIOD_MAX: usize = 100;

/// What a transaction refers to (the spec's `reference_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    None,
    Market(u64),
    P2p(u64),
    Pool(u64),
    Game(u64),
    Tournament(u64),
    Community(u64),
    Thread(u64),
    Group(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tx {
    pub id: TxId,
    pub user: UserId,
    pub account: AccountId,
    pub tx_type: TxType,
    pub status: TxStatus,
    /// Always positive; `credit` says which way it moved the user's balance.
    pub amount: i64,
    pub fee: i64,
    pub credit: bool,
    pub currency: Currency,
    pub counterparty: Option<UserId>,
    pub reference: Reference,
    /// The provider for deposits (`sandbox`, `ecocash`, …).
    pub payment_method: String,
    pub payment_method_id: Option<PaymentMethodId>,
    pub provider_reference: String,
    pub memo: String,
    pub notes: String,
    pub processed_by: Option<UserId>,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethod {
    pub id: PaymentMethodId,
    pub user: UserId,
    pub method_type: PaymentMethodType,
    pub provider: String,
    pub details_sealed: Vec<u8>,
    pub display_hint: String,
    pub is_verified: bool,
    pub is_default: bool,
    pub removed: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub fingerprint: u64,
    pub reply: Reply,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wallet {
    pub txs: FxHashMap<TxId, Tx>,
    /// Creation order, for evicting the oldest finished transactions.
    pub tx_order: VecDeque<TxId>,
    pub next_tx: u64,
    pub user_txs: FxHashMap<UserId, VecDeque<TxId>>,
    pub pending: FxHashMap<UserId, u32>,
    pub payment_methods: Vec<PaymentMethod>,
    pub idempotency: FxHashMap<(UserId, IdempotencyKey), IdempotencyRecord>,
    pub idempotency_order: VecDeque<(Timestamp, UserId, IdempotencyKey)>,
    /// The sum of each user's pending deposits per currency, counted against the wallet
    /// balance cap before the money arrives.
    pub pending_deposits: FxHashMap<(UserId, Currency), i64>,
    /// Each user's pending and completed withdrawals of the last 24 hours per currency
    /// (created at, id, amount), oldest first, for the rolling withdrawal limit. Kept apart
    /// from the transaction window, which may forget completed ones sooner.
    pub recent_withdrawals: FxHashMap<(UserId, Currency), WithdrawalWindow>,
}

/// One user's withdrawals in one currency within the limit's period: (created at, id,
/// amount), oldest first.
pub type WithdrawalWindow = VecDeque<(Timestamp, TxId, i64)>;

impl Wallet {
    /// Rebuilds the pending-deposit sums and the withdrawal window from the transactions,
    /// for a snapshot of a format that did not have them. Pending transactions are never
    /// forgotten, so the sums are exact; completed withdrawals already gone from the
    /// transaction window no longer count against the limit.
    pub fn rebuild_money_windows(&mut self, now: Timestamp) {
        self.pending_deposits.clear();
        self.recent_withdrawals.clear();
        let mut txs: Vec<&Tx> = self.txs.values().collect();
        txs.sort_by_key(|tx| tx.id);
        let horizon = now.saturating_add_micros(-WITHDRAWAL_PERIOD_MICROS);
        for tx in txs {
            match (tx.tx_type, tx.status) {
                (TxType::Deposit, TxStatus::Pending) => {
                    *self
                        .pending_deposits
                        .entry((tx.user, tx.currency))
                        .or_default() += tx.amount;
                }
                (TxType::Withdrawal, TxStatus::Pending | TxStatus::Completed)
                    if tx.created_at > horizon =>
                {
                    self.recent_withdrawals
                        .entry((tx.user, tx.currency))
                        .or_default()
                        .push_back((tx.created_at, tx.id, tx.amount));
                }
                _ => {}
            }
        }
    }

    /// Asserts the sums agree with the transactions they summarise.
    pub(crate) fn check(&self) {
        let mut pending: FxHashMap<(UserId, Currency), i64> = FxHashMap::default();
        for tx in self.txs.values() {
            if tx.tx_type == TxType::Deposit && tx.status == TxStatus::Pending {
                *pending.entry((tx.user, tx.currency)).or_default() += tx.amount;
            }
        }
        assert_eq!(
            pending, self.pending_deposits,
            "pending deposit sums drifted"
        );
        for window in self.recent_withdrawals.values() {
            assert!(!window.is_empty(), "empty withdrawal window kept");
            assert!(window.len() <= WITHDRAWALS_PER_PERIOD_MAX);
        }
    }

    pub fn tx(&self, id: TxId) -> Option<&Tx> {
        self.txs.get(&id)
    }

    pub fn payment_method(&self, id: PaymentMethodId) -> Option<&PaymentMethod> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.payment_methods.get(index)
    }

    /// A user's transactions, newest first (those still in the window).
    pub fn history(&self, user: UserId) -> impl Iterator<Item = &Tx> {
        self.user_txs
            .get(&user)
            .into_iter()
            .flat_map(|ids| ids.iter().rev())
            .filter_map(|id| self.txs.get(id))
    }
}

/// FNV-1a over the command's encoding: the same request always has the same fingerprint.
fn fingerprint(command: &Command) -> u64 {
    let mut bytes = Vec::new();
    command.encode(&mut bytes);
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub(crate) fn check_amount(amount: Amount) -> Result<i64, ResultCode> {
    if amount.0 <= 0 || amount.0 > MONEY_MOVE_MAX {
        return Err(ResultCode::InvalidAmount);
    }
    Ok(amount.0)
}

impl Engine {
    /// Runs `apply` unless `key` was seen before for `user`; see the module docs.
    fn idempotent(
        &mut self,
        user: UserId,
        key: Option<IdempotencyKey>,
        command: &Command,
        apply: impl FnOnce(&mut Engine) -> Result<Reply, ResultCode>,
    ) -> Result<Reply, ResultCode> {
        let Some(key) = key else {
            return apply(self);
        };
        let print = fingerprint(command);
        if let Some(record) = self.wallet.idempotency.get(&(user, key)) {
            return if record.fingerprint == print {
                Ok(record.reply.clone())
            } else {
                Err(ResultCode::IdempotencyKeyConflict)
            };
        }
        let reply = apply(self)?;
        if self.wallet.idempotency.len() >= self.limits.idempotency_kept as usize
            && let Some((_, old_user, old_key)) = self.wallet.idempotency_order.pop_front()
        {
            self.wallet.idempotency.remove(&(old_user, old_key));
        }
        self.wallet.idempotency.insert(
            (user, key),
            IdempotencyRecord {
                fingerprint: print,
                reply: reply.clone(),
                at: self.now,
            },
        );
        self.wallet
            .idempotency_order
            .push_back((self.now, user, key));
        Ok(reply)
    }

    pub(crate) fn expire_idempotency(&mut self) {
        let horizon = self.now.saturating_add_micros(-IDEMPOTENCY_TTL_MICROS);
        while let Some(&(at, user, key)) = self.wallet.idempotency_order.front() {
            if at > horizon {
                break;
            }
            self.wallet.idempotency_order.pop_front();
            self.wallet.idempotency.remove(&(user, key));
        }
    }

    /// The actor may act for `user`: it is the user, or an admin.
    fn acts_for(&self, actor: UserId, user: UserId) -> Result<(), ResultCode> {
        if actor == user || self.is_admin(actor) {
            Ok(())
        } else {
            Err(ResultCode::Forbidden)
        }
    }

    /// The user's wallet in `currency`, opened if missing (checked, not yet mutated: returns
    /// `None` when it would have to be opened).
    pub(crate) fn wallet_or_room(
        &self,
        user: UserId,
        currency: Currency,
    ) -> Result<Option<AccountId>, ResultCode> {
        let record = self.users.get(user).ok_or(ResultCode::UserNotFound)?;
        if !self.currency_supported(currency) {
            return Err(ResultCode::UnsupportedCurrency);
        }
        match record.wallet(currency) {
            Some(id) => Ok(Some(id)),
            None if record.wallets.len() >= self.limits.wallets_per_user_max as usize => {
                Err(ResultCode::TooManyWallets)
            }
            None if !self.ledger.can_open(1, self.limits.accounts_max as usize) => {
                Err(ResultCode::AccountLimitReached)
            }
            None => Ok(None),
        }
    }

    /// Opens the user's wallet in `currency` (the caller checked room with
    /// [`Engine::wallet_or_room`]) and reports it.
    pub(crate) fn open_wallet(
        &mut self,
        user: UserId,
        currency: Currency,
        out: &mut Vec<Event>,
    ) -> AccountId {
        let record = self.users.get(user).expect("caller checked the user");
        if let Some(id) = record.wallet(currency) {
            return id;
        }
        let id = self.ledger.open(Owner::User(user), currency, self.now.0);
        self.users
            .get_mut(user)
            .expect("checked")
            .wallets
            .push((currency, id));
        out.push(Event::WalletCreated(WalletCreated {
            account: id,
            user,
            currency,
        }));
        id
    }

    /// A system account (world, fees, the games escrow) of `currency`, opened on first use.
    /// System accounts are few (three per supported currency) and not counted against the
    /// account limit.
    pub(crate) fn system_account(&mut self, owner: Owner, currency: Currency) -> AccountId {
        self.ledger.open(owner, currency, self.now.0)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_tx(
        &mut self,
        user: UserId,
        account: AccountId,
        tx_type: TxType,
        status: TxStatus,
        amount: i64,
        fee: i64,
        credit: bool,
        reference: Reference,
        out: &mut Vec<Event>,
    ) -> TxId {
        self.wallet.next_tx += 1;
        let id = TxId(self.wallet.next_tx);
        let currency = self.ledger.get(account).currency;
        self.wallet.txs.insert(
            id,
            Tx {
                id,
                user,
                account,
                tx_type,
                status,
                amount,
                fee,
                credit,
                currency,
                counterparty: None,
                reference,
                payment_method: String::new(),
                payment_method_id: None,
                provider_reference: String::new(),
                memo: String::new(),
                notes: String::new(),
                processed_by: None,
                created_at: self.now,
                completed_at: (status == TxStatus::Completed).then_some(self.now),
            },
        );
        self.wallet.tx_order.push_back(id);
        let history = self.wallet.user_txs.entry(user).or_default();
        history.push_back(id);
        if history.len() > HISTORY_PER_USER_MAX {
            history.pop_front();
        }
        if status == TxStatus::Pending {
            *self.wallet.pending.entry(user).or_default() += 1;
        }
        self.evict_old_txs();
        out.push(Event::TxUpdated(TxUpdated {
            tx: id,
            user,
            tx_type,
            status,
            currency,
            amount: Amount(amount),
            fee: Amount(fee),
        }));
        id
    }

    /// Forgets the oldest finished transactions beyond the window; pending ones stay.
    fn evict_old_txs(&mut self) {
        let mut budget = self.wallet.tx_order.len();
        while self.wallet.txs.len() > self.limits.transactions_kept as usize && budget > 0 {
            budget -= 1;
            let Some(id) = self.wallet.tx_order.pop_front() else {
                break;
            };
            match self.wallet.txs.get(&id) {
                Some(tx) if tx.status == TxStatus::Pending => self.wallet.tx_order.push_back(id),
                Some(_) => {
                    self.wallet.txs.remove(&id);
                }
                None => {}
            }
        }
    }

    /// Moves a pending transaction to its final status and reports it.
    fn finish_tx(
        &mut self,
        id: TxId,
        status: TxStatus,
        actor: Option<UserId>,
        out: &mut Vec<Event>,
    ) {
        let now = self.now;
        let tx = self.wallet.txs.get_mut(&id).expect("caller found the tx");
        assert_eq!(tx.status, TxStatus::Pending);
        tx.status = status;
        tx.completed_at = Some(now);
        tx.processed_by = actor;
        let (user, tx_type, currency, amount, fee) =
            (tx.user, tx.tx_type, tx.currency, tx.amount, tx.fee);
        let pending = self.wallet.pending.get_mut(&user).expect("pending counted");
        *pending -= 1;
        if *pending == 0 {
            self.wallet.pending.remove(&user);
        }
        out.push(Event::TxUpdated(TxUpdated {
            tx: id,
            user,
            tx_type,
            status,
            currency,
            amount: Amount(amount),
            fee: Amount(fee),
        }));
    }

    /// Refuses money coming into `user`'s wallet (deposits and transfers received) that
    /// would take its balance with pending deposits past `wallet_balance_max`.
    pub(crate) fn incoming_room(
        &self,
        user: UserId,
        wallet: Option<AccountId>,
        currency: Currency,
        amount: i64,
    ) -> Result<(), ResultCode> {
        let balance = wallet.map_or(0, |w| self.ledger.get(w).balance());
        let pending = self
            .wallet
            .pending_deposits
            .get(&(user, currency))
            .copied()
            .unwrap_or(0);
        // Each term is inside the supply cap, so the sum cannot overflow.
        if balance + pending + amount > self.config.wallet_balance_max.0 {
            return Err(ResultCode::BalanceLimitExceeded);
        }
        Ok(())
    }

    /// Refuses a deposit that would take the currency's total in the platform past
    /// `currency_supply_max`.
    fn supply_room(&self, currency: Currency, amount: i64) -> Result<(), ResultCode> {
        let inside = self
            .ledger
            .find(Owner::World, currency)
            .map_or(0, |world| -self.ledger.get(world).balance());
        if amount > self.config.currency_supply_max.0.saturating_sub(inside) {
            return Err(ResultCode::CurrencySupplyExceeded);
        }
        Ok(())
    }

    fn settle_pending_deposit(&mut self, user: UserId, currency: Currency, amount: i64) {
        let key = (user, currency);
        let sum = self
            .wallet
            .pending_deposits
            .get_mut(&key)
            .expect("a pending deposit is summed");
        *sum -= amount;
        assert!(*sum >= 0, "pending deposit sum below zero");
        if *sum == 0 {
            self.wallet.pending_deposits.remove(&key);
        }
    }

    /// How many withdrawals `user` made in `currency` in the last period, and their sum
    /// (pending and completed).
    fn withdrawn_in_period(&self, user: UserId, currency: Currency) -> (usize, i64) {
        let horizon = self.now.saturating_add_micros(-WITHDRAWAL_PERIOD_MICROS);
        self.wallet
            .recent_withdrawals
            .get(&(user, currency))
            .map_or((0, 0), |window| {
                window
                    .iter()
                    .filter(|&&(at, _, _)| at > horizon)
                    .fold((0, 0i64), |(n, sum), &(_, _, amount)| (n + 1, sum + amount))
            })
    }

    /// Adds a withdrawal to its user's window, dropping entries older than the period.
    fn record_withdrawal(&mut self, user: UserId, currency: Currency, id: TxId, amount: i64) {
        let horizon = self.now.saturating_add_micros(-WITHDRAWAL_PERIOD_MICROS);
        let window = self
            .wallet
            .recent_withdrawals
            .entry((user, currency))
            .or_default();
        while window.front().is_some_and(|&(at, _, _)| at <= horizon) {
            window.pop_front();
        }
        window.push_back((self.now, id, amount));
    }

    /// A cancelled or rejected withdrawal no longer counts against the limit.
    fn forget_withdrawal(&mut self, user: UserId, currency: Currency, id: TxId) {
        let key = (user, currency);
        if let Some(window) = self.wallet.recent_withdrawals.get_mut(&key) {
            window.retain(|&(_, tx, _)| tx != id);
            if window.is_empty() {
                self.wallet.recent_withdrawals.remove(&key);
            }
        }
    }

    fn pending_room(&self, user: UserId) -> Result<(), ResultCode> {
        let pending = self.wallet.pending.get(&user).copied().unwrap_or(0);
        if pending as usize >= PENDING_PER_USER_MAX {
            return Err(ResultCode::LimitExceeded);
        }
        Ok(())
    }

    pub(crate) fn create_wallet(
        &mut self,
        c: &CreateWallet,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        self.acts_for(c.actor, c.user)?;
        if self.wallet_or_room(c.user, c.currency)?.is_some() {
            return Err(ResultCode::WalletExists);
        }
        let id = self.open_wallet(c.user, c.currency, out);
        Ok(Reply::Created(Created { id: id.0 }))
    }

    pub(crate) fn initiate_deposit(
        &mut self,
        c: &InitiateDeposit,
        command: &Command,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        self.acts_for(c.actor, c.user)?;
        self.idempotent(c.user, c.idempotency_key, command, |engine| {
            let amount = check_amount(c.amount)?;
            text::line(&c.payment_method, text::PROVIDER_MAX)?;
            let existing = engine.wallet_or_room(c.user, c.currency)?;
            engine.pending_room(c.user)?;
            engine.incoming_room(c.user, existing, c.currency, amount)?;
            engine.supply_room(c.currency, amount)?;
            let account = engine.open_wallet(c.user, c.currency, out);
            let id = engine.record_tx(
                c.user,
                account,
                TxType::Deposit,
                TxStatus::Pending,
                amount,
                0,
                true,
                Reference::None,
                out,
            );
            let tx = engine.wallet.txs.get_mut(&id).expect("just recorded");
            tx.payment_method.clone_from(&c.payment_method);
            *engine
                .wallet
                .pending_deposits
                .entry((c.user, c.currency))
                .or_default() += amount;
            Ok(Reply::Tx(TxReply {
                tx: id,
                status: TxStatus::Pending,
            }))
        })
    }

    /// Only a payment provider (through the gateway, as the system) or an admin confirms.
    pub(crate) fn confirm_deposit(
        &mut self,
        c: &ConfirmDeposit,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if c.actor != UserId::SYSTEM && !self.is_admin(c.actor) {
            return Err(ResultCode::Forbidden);
        }
        text::optional_line(&c.provider_reference, text::REFERENCE_MAX)?;
        let tx = self
            .wallet
            .txs
            .get(&c.deposit)
            .filter(|tx| tx.tx_type == TxType::Deposit)
            .ok_or(ResultCode::DepositNotFound)?;
        if tx.status != TxStatus::Pending {
            return Err(ResultCode::DepositNotPending);
        }
        let (user, account, amount, currency) = (tx.user, tx.account, tx.amount, tx.currency);
        // The hard cap: with every currency's total inside `currency_supply_max`, no balance
        // or sum of balances can overflow (see `Config`).
        self.supply_room(currency, amount)?;
        let world = self.system_account(Owner::World, currency);
        self.ledger.transfer(
            world,
            account,
            amount,
            false,
            LedgerReason::Deposit,
            c.deposit.0,
            out,
        );
        self.settle_pending_deposit(user, currency, amount);
        let tx = self.wallet.txs.get_mut(&c.deposit).expect("found");
        tx.provider_reference.clone_from(&c.provider_reference);
        self.finish_tx(c.deposit, TxStatus::Completed, Some(c.actor), out);
        Ok(Reply::Tx(TxReply {
            tx: c.deposit,
            status: TxStatus::Completed,
        }))
    }

    pub(crate) fn request_withdrawal(
        &mut self,
        c: &RequestWithdrawal,
        command: &Command,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        self.acts_for(c.actor, c.user)?;
        self.idempotent(c.user, c.idempotency_key, command, |engine| {
            let amount = check_amount(c.amount)?;
            let method = engine
                .wallet
                .payment_method(c.payment_method)
                .filter(|m| m.user == c.user && !m.removed)
                .ok_or(ResultCode::PaymentMethodNotFound)?;
            let provider = method.provider.clone();
            let user = engine.users.get(c.user).ok_or(ResultCode::UserNotFound)?;
            let limits = &engine.config.withdrawal_limits;
            let limit = limits[usize::from(user.kyc_level).min(limits.len() - 1)];
            let (count, withdrawn) = engine.withdrawn_in_period(c.user, c.currency);
            if amount > limit.0.saturating_sub(withdrawn) {
                return Err(ResultCode::WithdrawalLimitExceeded);
            }
            if count >= WITHDRAWALS_PER_PERIOD_MAX {
                return Err(ResultCode::LimitExceeded);
            }
            let account = user.wallet(c.currency).ok_or(ResultCode::UnknownAccount)?;
            let fee =
                (i128::from(amount) * i128::from(engine.config.withdrawal_fee_bp) / 10_000) as i64;
            if engine.ledger.available(account) < amount + fee {
                return Err(ResultCode::InsufficientFunds);
            }
            engine.pending_room(c.user)?;
            engine.ledger.lock(account, amount + fee);
            let id = engine.record_tx(
                c.user,
                account,
                TxType::Withdrawal,
                TxStatus::Pending,
                amount,
                fee,
                false,
                Reference::None,
                out,
            );
            let tx = engine.wallet.txs.get_mut(&id).expect("just recorded");
            tx.payment_method_id = Some(c.payment_method);
            tx.payment_method = provider;
            engine.record_withdrawal(c.user, c.currency, id, amount);
            Ok(Reply::Tx(TxReply {
                tx: id,
                status: TxStatus::Pending,
            }))
        })
    }

    fn pending_withdrawal(&self, id: TxId) -> Result<&Tx, ResultCode> {
        let tx = self
            .wallet
            .txs
            .get(&id)
            .filter(|tx| tx.tx_type == TxType::Withdrawal)
            .ok_or(ResultCode::WithdrawalNotFound)?;
        if tx.status != TxStatus::Pending {
            return Err(ResultCode::WithdrawalNotPending);
        }
        Ok(tx)
    }

    pub(crate) fn cancel_withdrawal(
        &mut self,
        c: &CancelWithdrawal,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let tx = self
            .wallet
            .txs
            .get(&c.withdrawal)
            .filter(|tx| tx.tx_type == TxType::Withdrawal)
            .ok_or(ResultCode::WithdrawalNotFound)?;
        if tx.user != c.actor && !self.is_admin(c.actor) {
            return Err(ResultCode::WithdrawalNotFound);
        }
        let tx = self.pending_withdrawal(c.withdrawal)?;
        let (user, currency) = (tx.user, tx.currency);
        let (account, held) = (tx.account, tx.amount + tx.fee);
        self.ledger.unlock(account, held);
        self.forget_withdrawal(user, currency, c.withdrawal);
        self.finish_tx(c.withdrawal, TxStatus::Cancelled, Some(c.actor), out);
        Ok(Reply::Tx(TxReply {
            tx: c.withdrawal,
            status: TxStatus::Cancelled,
        }))
    }

    pub(crate) fn decide_withdrawal(
        &mut self,
        c: &DecideWithdrawal,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if !self.is_admin(c.actor) {
            return Err(ResultCode::Forbidden);
        }
        text::body(&c.notes, text::NOTES_MAX)?;
        let tx = self.pending_withdrawal(c.withdrawal)?;
        let (account, amount, fee, currency) = (tx.account, tx.amount, tx.fee, tx.currency);
        let status = if c.approve {
            let world = self.system_account(Owner::World, currency);
            let fees = self.system_account(Owner::Fees, currency);
            let reference = c.withdrawal.0;
            self.ledger.transfer(
                account,
                world,
                amount,
                true,
                LedgerReason::Withdrawal,
                reference,
                out,
            );
            self.ledger.transfer(
                account,
                fees,
                fee,
                true,
                LedgerReason::WithdrawalFee,
                reference,
                out,
            );
            TxStatus::Completed
        } else {
            self.ledger.unlock(account, amount + fee);
            let user = self.wallet.txs[&c.withdrawal].user;
            self.forget_withdrawal(user, currency, c.withdrawal);
            TxStatus::Rejected
        };
        let tx = self.wallet.txs.get_mut(&c.withdrawal).expect("found");
        tx.notes.clone_from(&c.notes);
        self.finish_tx(c.withdrawal, status, Some(c.actor), out);
        Ok(Reply::Tx(TxReply {
            tx: c.withdrawal,
            status,
        }))
    }

    pub(crate) fn transfer(
        &mut self,
        c: &Transfer,
        command: &Command,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        // Only the owner of the money may send it; an admin moving users' funds needs its
        // own audited command, not this one.
        if c.actor != c.sender {
            return Err(ResultCode::Forbidden);
        }
        self.idempotent(c.sender, c.idempotency_key, command, |engine| {
            let amount = check_amount(c.amount)?;
            text::body(&c.memo, text::MEMO_MAX)?;
            if c.sender == c.recipient {
                return Err(ResultCode::SelfTransfer);
            }
            let sender = engine.users.get(c.sender).ok_or(ResultCode::UserNotFound)?;
            let from = sender
                .wallet(c.currency)
                .ok_or(ResultCode::UnknownAccount)?;
            let recipient = engine
                .users
                .get(c.recipient)
                .ok_or(ResultCode::UserNotFound)?;
            if recipient.status != betbet_protocol::command::UserStatus::Active {
                return Err(ResultCode::AccountSuspended);
            }
            if engine.ledger.available(from) < amount {
                return Err(ResultCode::InsufficientFunds);
            }
            let existing = engine.wallet_or_room(c.recipient, c.currency)?;
            engine.incoming_room(c.recipient, existing, c.currency, amount)?;
            let to = engine.open_wallet(c.recipient, c.currency, out);
            let sent = engine.record_tx(
                c.sender,
                from,
                TxType::Transfer,
                TxStatus::Completed,
                amount,
                0,
                false,
                Reference::None,
                out,
            );
            // The sender's transaction id is the transfer's id; both sides refer to it.
            let reference = Reference::P2p(sent.0);
            engine
                .ledger
                .transfer(from, to, amount, false, LedgerReason::Transfer, sent.0, out);
            let received = engine.record_tx(
                c.recipient,
                to,
                TxType::Transfer,
                TxStatus::Completed,
                amount,
                0,
                true,
                reference,
                out,
            );
            engine
                .wallet
                .txs
                .get_mut(&sent)
                .expect("just recorded")
                .reference = reference;
            for (id, counterparty) in [(sent, c.recipient), (received, c.sender)] {
                let tx = engine.wallet.txs.get_mut(&id).expect("just recorded");
                tx.counterparty = Some(counterparty);
                tx.memo.clone_from(&c.memo);
            }
            Ok(Reply::Tx(TxReply {
                tx: sent,
                status: TxStatus::Completed,
            }))
        })
    }

    pub(crate) fn add_payment_method(&mut self, c: &AddPaymentMethod) -> Result<Reply, ResultCode> {
        self.acts_for(c.actor, c.user)?;
        text::line(&c.provider, text::PROVIDER_MAX)?;
        text::optional_line(&c.display_hint, text::DISPLAY_HINT_MAX)?;
        if c.details_sealed.is_empty() || c.details_sealed.len() > text::SEALED_DETAILS_MAX {
            return Err(ResultCode::InvalidRequest);
        }
        let user = self.users.get(c.user).ok_or(ResultCode::UserNotFound)?;
        let live = user
            .payment_methods
            .iter()
            .filter(|&&id| self.wallet.payment_method(id).is_some_and(|m| !m.removed))
            .count();
        if live >= self.limits.payment_methods_per_user_max as usize {
            return Err(ResultCode::TooManyPaymentMethods);
        }
        // Removed methods stay (withdrawals refer to them) but are bounded per user too.
        if user.payment_methods.len() >= 4 * self.limits.payment_methods_per_user_max as usize {
            return Err(ResultCode::TooManyPaymentMethods);
        }
        let id = PaymentMethodId(self.wallet.payment_methods.len() as u64 + 1);
        self.wallet.payment_methods.push(PaymentMethod {
            id,
            user: c.user,
            method_type: c.method_type,
            provider: c.provider.clone(),
            details_sealed: c.details_sealed.clone(),
            display_hint: c.display_hint.clone(),
            is_verified: false,
            is_default: live == 0,
            removed: false,
            created_at: self.now,
        });
        self.users
            .get_mut(c.user)
            .expect("checked")
            .payment_methods
            .push(id);
        Ok(Reply::Created(Created { id: id.0 }))
    }

    pub(crate) fn remove_payment_method(
        &mut self,
        c: &RemovePaymentMethod,
    ) -> Result<Reply, ResultCode> {
        let method = self
            .wallet
            .payment_method(c.method)
            .filter(|m| !m.removed)
            .ok_or(ResultCode::PaymentMethodNotFound)?;
        if method.user != c.actor && !self.is_admin(c.actor) {
            return Err(ResultCode::PaymentMethodNotFound);
        }
        let (user, was_default) = (method.user, method.is_default);
        let index = c.method.0 as usize - 1;
        let method = &mut self.wallet.payment_methods[index];
        method.removed = true;
        method.is_default = false;
        method.details_sealed.clear();
        if was_default {
            // The oldest remaining method becomes the default.
            let ids = self
                .users
                .get(user)
                .expect("owner exists")
                .payment_methods
                .clone();
            if let Some(next) = ids
                .into_iter()
                .find(|&id| self.wallet.payment_method(id).is_some_and(|m| !m.removed))
            {
                self.wallet.payment_methods[next.0 as usize - 1].is_default = true;
            }
        }
        Ok(done())
    }
}
