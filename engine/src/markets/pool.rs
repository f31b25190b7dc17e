//! Betting pools: friends put in the same entry, the creator trades for all of them from the
//! pool's own account, and whatever the pool ends with is shared by contribution.
//!
//! Life of a pool: `open` (members join; each entry is held in the member's wallet and can be
//! taken back by leaving) → `active` (the creator starts it: entries move into the pool's
//! account, shares are fixed, the creator trades with `pool = Some(id)`) → `settled` (the
//! creator or an admin settles once nothing is open or unsettled: the balance is paid out by
//! share, rounding dust to the creator).

use crate::ledger::Owner;
use crate::wallet::{MONEY_MOVE_MAX, Reference};
use crate::{Engine, text};
use betbet_protocol::command::{CreatePool, PoolAction, UserStatus};
use betbet_protocol::event::{Event, LedgerReason, PoolChanged, PoolStatus, TxStatus, TxType};
use betbet_protocol::message::{Created, Reply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{AccountId, Currency, PoolId, Timestamp, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolMember {
    pub user: UserId,
    /// The member's wallet the entry is held in and the payout goes to.
    pub account: AccountId,
    pub contribution: i64,
    /// Share of the pool in basis points (the spec's share_percent × 100), fixed at start.
    pub share_bp: u32,
    pub payout: i64,
    pub joined_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub id: PoolId,
    pub creator: UserId,
    pub name: String,
    pub description: String,
    pub currency: Currency,
    pub entry_amount: i64,
    pub member_limit: u32,
    pub status: PoolStatus,
    pub account: AccountId,
    pub members: Vec<PoolMember>,
    pub total: i64,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub settled_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pools {
    /// `pools[i]` has id `i + 1`.
    pub pools: Vec<Pool>,
}

impl Pools {
    pub fn get(&self, id: PoolId) -> Option<&Pool> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.pools.get(index)
    }

    fn get_mut(&mut self, id: PoolId) -> Option<&mut Pool> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.pools.get_mut(index)
    }
}

impl Engine {
    /// The member's wallet holding at least the entry, or why not.
    pub(crate) fn entry_wallet(
        &self,
        user: UserId,
        currency: Currency,
        entry: i64,
    ) -> Result<AccountId, ResultCode> {
        let record = self.users.get(user).ok_or(ResultCode::UserNotFound)?;
        if record.status != UserStatus::Active {
            return Err(ResultCode::AccountSuspended);
        }
        let wallet = record.wallet(currency).ok_or(ResultCode::UnknownAccount)?;
        if self.ledger.available(wallet) < entry {
            return Err(ResultCode::InsufficientFunds);
        }
        Ok(wallet)
    }

    pub(crate) fn create_pool(
        &mut self,
        c: &CreatePool,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        text::line(&c.name, text::POOL_NAME_MAX)?;
        text::body(&c.description, text::DESCRIPTION_MAX)?;
        if !self.currency_supported(c.currency) {
            return Err(ResultCode::UnsupportedCurrency);
        }
        if c.entry_amount.0 <= 0 || c.entry_amount.0 > MONEY_MOVE_MAX {
            return Err(ResultCode::InvalidAmount);
        }
        if c.member_limit < 2 || c.member_limit > self.limits.pool_members_max {
            return Err(ResultCode::LimitExceeded);
        }
        if self.pools.pools.len() >= self.limits.pools_max as usize {
            return Err(ResultCode::TooManyPools);
        }
        if !self.ledger.can_open(1, self.limits.accounts_max as usize) {
            return Err(ResultCode::AccountLimitReached);
        }
        let wallet = self.entry_wallet(c.actor, c.currency, c.entry_amount.0)?;
        let id = PoolId(self.pools.pools.len() as u64 + 1);
        let account = self.ledger.open(Owner::Pool(id), c.currency, self.now.0);
        self.ledger.lock(wallet, c.entry_amount.0);
        self.pools.pools.push(Pool {
            id,
            creator: c.actor,
            name: c.name.clone(),
            description: c.description.clone(),
            currency: c.currency,
            entry_amount: c.entry_amount.0,
            member_limit: c.member_limit,
            status: PoolStatus::Open,
            account,
            members: vec![PoolMember {
                user: c.actor,
                account: wallet,
                contribution: c.entry_amount.0,
                share_bp: 0,
                payout: 0,
                joined_at: self.now,
            }],
            total: c.entry_amount.0,
            created_at: self.now,
            started_at: None,
            settled_at: None,
        });
        out.push(Event::PoolChanged(PoolChanged {
            pool: id,
            user: c.actor,
            status: PoolStatus::Open,
        }));
        Ok(Reply::Created(Created { id: id.0 }))
    }

    pub(crate) fn join_pool(
        &mut self,
        c: &PoolAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let pool = self.pools.get(c.pool).ok_or(ResultCode::PoolNotFound)?;
        if pool.status != PoolStatus::Open {
            return Err(ResultCode::PoolNotOpen);
        }
        if pool.members.iter().any(|m| m.user == c.actor) {
            return Err(ResultCode::AlreadyPoolMember);
        }
        if pool.members.len() >= pool.member_limit as usize {
            return Err(ResultCode::PoolFull);
        }
        let (currency, entry) = (pool.currency, pool.entry_amount);
        let wallet = self.entry_wallet(c.actor, currency, entry)?;
        self.ledger.lock(wallet, entry);
        let now = self.now;
        let pool = self.pools.get_mut(c.pool).expect("found");
        pool.members.push(PoolMember {
            user: c.actor,
            account: wallet,
            contribution: entry,
            share_bp: 0,
            payout: 0,
            joined_at: now,
        });
        pool.total += entry;
        out.push(Event::PoolChanged(PoolChanged {
            pool: c.pool,
            user: c.actor,
            status: PoolStatus::Open,
        }));
        Ok(crate::done())
    }

    pub(crate) fn leave_pool(
        &mut self,
        c: &PoolAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let pool = self.pools.get(c.pool).ok_or(ResultCode::PoolNotFound)?;
        if pool.status != PoolStatus::Open {
            return Err(ResultCode::PoolNotOpen);
        }
        if pool.creator == c.actor {
            // The creator runs the pool; they end it by starting and settling it.
            return Err(ResultCode::Forbidden);
        }
        let index = pool
            .members
            .iter()
            .position(|m| m.user == c.actor)
            .ok_or(ResultCode::NotPoolMember)?;
        let pool = self.pools.get_mut(c.pool).expect("found");
        let member = pool.members.remove(index);
        pool.total -= member.contribution;
        self.ledger.unlock(member.account, member.contribution);
        out.push(Event::PoolChanged(PoolChanged {
            pool: c.pool,
            user: c.actor,
            status: PoolStatus::Open,
        }));
        Ok(crate::done())
    }

    pub(crate) fn start_pool(
        &mut self,
        c: &PoolAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let pool = self.pools.get(c.pool).ok_or(ResultCode::PoolNotFound)?;
        if pool.creator != c.actor {
            return Err(ResultCode::NotPoolManager);
        }
        if pool.status != PoolStatus::Open {
            return Err(ResultCode::PoolNotOpen);
        }
        let (account, total) = (pool.account, pool.total);
        let members: Vec<(UserId, AccountId, i64)> = pool
            .members
            .iter()
            .map(|m| (m.user, m.account, m.contribution))
            .collect();
        for &(user, wallet, contribution) in &members {
            self.ledger.transfer(
                wallet,
                account,
                contribution,
                true,
                LedgerReason::PoolEntry,
                c.pool.0,
                out,
            );
            self.record_tx(
                user,
                wallet,
                TxType::Bet,
                TxStatus::Completed,
                contribution,
                0,
                false,
                Reference::Pool(c.pool.0),
                out,
            );
        }
        let now = self.now;
        let pool = self.pools.get_mut(c.pool).expect("found");
        for member in &mut pool.members {
            member.share_bp = (i128::from(member.contribution) * 10_000 / i128::from(total)) as u32;
        }
        pool.status = PoolStatus::Active;
        pool.started_at = Some(now);
        out.push(Event::PoolChanged(PoolChanged {
            pool: c.pool,
            user: c.actor,
            status: PoolStatus::Active,
        }));
        Ok(crate::done())
    }

    pub(crate) fn settle_pool(
        &mut self,
        c: &PoolAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let pool = self.pools.get(c.pool).ok_or(ResultCode::PoolNotFound)?;
        if pool.creator != c.actor && !self.is_admin(c.actor) {
            return Err(ResultCode::NotPoolManager);
        }
        if pool.status != PoolStatus::Active {
            return Err(ResultCode::PoolNotActive);
        }
        let account = self.ledger.get(pool.account);
        if account.open_orders > 0 || account.unsettled_markets > 0 || account.locked > 0 {
            return Err(ResultCode::PoolHasOpenExposure);
        }
        let balance = account.available;
        let pool_account = pool.account;
        let total = i128::from(pool.total);
        let shares: Vec<(UserId, AccountId, i64)> = pool
            .members
            .iter()
            .map(|m| {
                let share = (i128::from(balance) * i128::from(m.contribution) / total) as i64;
                (m.user, m.account, share)
            })
            .collect();
        let dust = balance - shares.iter().map(|s| s.2).sum::<i64>();
        let mut payouts = Vec::with_capacity(shares.len());
        for (i, &(user, wallet, share)) in shares.iter().enumerate() {
            // The creator is the first member and takes the rounding dust.
            let amount = share + if i == 0 { dust } else { 0 };
            self.ledger.transfer(
                pool_account,
                wallet,
                amount,
                false,
                LedgerReason::PoolDistribution,
                c.pool.0,
                out,
            );
            if amount > 0 {
                self.record_tx(
                    user,
                    wallet,
                    TxType::Payout,
                    TxStatus::Completed,
                    amount,
                    0,
                    true,
                    Reference::Pool(c.pool.0),
                    out,
                );
            }
            payouts.push(amount);
        }
        let now = self.now;
        let pool = self.pools.get_mut(c.pool).expect("found");
        for (member, amount) in pool.members.iter_mut().zip(payouts) {
            member.payout = amount;
        }
        pool.status = PoolStatus::Settled;
        pool.settled_at = Some(now);
        out.push(Event::PoolChanged(PoolChanged {
            pool: c.pool,
            user: c.actor,
            status: PoolStatus::Settled,
        }));
        Ok(crate::done())
    }
}
