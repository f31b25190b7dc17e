//! The double-entry ledger: every unit of money is in exactly one account.
//!
//! Accounts belong to an [`Owner`] and hold one currency. A user's account is the spec's
//! wallet; markets hold collateral in an escrow account; pools trade from their own account;
//! platform fees collect in a fee account; the `World` account is the outside world, whose
//! balance is minus everything ever deposited and not withdrawn.
//!
//! Money only moves from one account to another ([`Ledger::transfer`]), so the sum of all
//! balances of a currency is zero at all times — the invariant [`Ledger::check`] asserts. An
//! account's balance is split into `available` and `locked` (held for open orders, pending
//! withdrawals, pool entries); moving between the two is not a ledger movement because the
//! money does not change hands.
//!
//! Only `World` may go negative. Every other debit is checked by the caller before anything
//! changes, and asserted here, so a bug stops the engine instead of inventing money.

use betbet_protocol::event::{Event, LedgerMoved, LedgerReason};
use betbet_protocol::types::{AccountId, Amount, Currency, MarketId, PoolId, UserId};
use rustc_hash::FxHashMap;

/// Who an account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// Money outside BetBet: deposits come from here, withdrawals go here.
    World,
    /// Platform fees.
    Fees,
    User(UserId),
    Pool(PoolId),
    /// Collateral backing a market's outstanding shares.
    Escrow(MarketId),
    /// The stakes of every live game session of one currency.
    Games,
    /// The house's crash bankroll of one currency: crash rounds reserve what they may pay
    /// above their stakes from it, and give back what they do not pay.
    Bankroll,
    /// The prize pools and entry fees of every live tournament of one currency.
    Tournaments,
    /// A group's wallet: its members' contributions, paid out by its owner (or admins).
    Group(betbet_protocol::social::GroupId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub owner: Owner,
    pub currency: Currency,
    pub available: i64,
    pub locked: i64,
    /// Open orders placed from this account (the per-user open-order limit counts these).
    pub open_orders: u32,
    /// Head of the intrusive list of this account's open orders (order slot, or `NIL`).
    pub orders_head: u32,
    /// Markets this account holds a stake in that are not settled yet.
    pub unsettled_markets: u32,
    pub created_at: i64,
}

impl Account {
    pub fn balance(&self) -> i64 {
        self.available + self.locked
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ledger {
    /// Index 0 is unused so `AccountId(0)` never names an account.
    pub accounts: Vec<Account>,
    pub index: FxHashMap<(Owner, Currency), AccountId>,
}

impl Ledger {
    pub fn new() -> Self {
        Ledger {
            accounts: vec![Account {
                owner: Owner::World,
                currency: Currency::new("XX").expect("valid"),
                available: 0,
                locked: 0,
                open_orders: 0,
                orders_head: crate::markets::book::NIL,
                unsettled_markets: 0,
                created_at: 0,
            }],
            index: FxHashMap::default(),
        }
    }

    /// Number of real accounts (the unused slot 0 excluded).
    pub fn len(&self) -> usize {
        self.accounts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn find(&self, owner: Owner, currency: Currency) -> Option<AccountId> {
        self.index.get(&(owner, currency)).copied()
    }

    /// The account of `owner` in `currency`, opened if missing. The caller has checked the
    /// capacity ([`Ledger::can_open`]).
    pub fn open(&mut self, owner: Owner, currency: Currency, now: i64) -> AccountId {
        if let Some(id) = self.find(owner, currency) {
            return id;
        }
        let id = AccountId(self.accounts.len() as u64);
        self.accounts.push(Account {
            owner,
            currency,
            available: 0,
            locked: 0,
            open_orders: 0,
            orders_head: crate::markets::book::NIL,
            unsettled_markets: 0,
            created_at: now,
        });
        self.index.insert((owner, currency), id);
        id
    }

    pub fn can_open(&self, count: usize, max: usize) -> bool {
        self.len() + count <= max
    }

    #[inline]
    pub fn get(&self, id: AccountId) -> &Account {
        &self.accounts[id.0 as usize]
    }

    #[inline]
    pub fn get_mut(&mut self, id: AccountId) -> &mut Account {
        &mut self.accounts[id.0 as usize]
    }

    pub fn exists(&self, id: AccountId) -> bool {
        id.0 != 0 && (id.0 as usize) < self.accounts.len()
    }

    #[inline]
    pub fn available(&self, id: AccountId) -> i64 {
        self.get(id).available
    }

    /// Holds `amount` of the available balance. The caller checked it is there.
    #[inline]
    pub fn lock(&mut self, id: AccountId, amount: i64) {
        let account = self.get_mut(id);
        assert!(
            amount >= 0 && account.available >= amount,
            "lock beyond available"
        );
        account.available -= amount;
        account.locked = account
            .locked
            .checked_add(amount)
            .expect("within the supply cap");
    }

    /// Releases `amount` of held money back to available.
    #[inline]
    pub fn unlock(&mut self, id: AccountId, amount: i64) {
        let account = self.get_mut(id);
        assert!(
            amount >= 0 && account.locked >= amount,
            "unlock beyond locked"
        );
        account.locked -= amount;
        account.available = account
            .available
            .checked_add(amount)
            .expect("within the supply cap");
    }

    /// Moves `amount` from the debit account's available balance (or, with `from_locked`, its
    /// held balance) to the credit account's available balance, and reports the movement.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn transfer(
        &mut self,
        debit: AccountId,
        credit: AccountId,
        amount: i64,
        from_locked: bool,
        reason: LedgerReason,
        reference: u64,
        out: &mut Vec<Event>,
    ) {
        assert!(amount >= 0, "negative movement");
        if amount == 0 {
            return;
        }
        assert_ne!(debit, credit, "movement within one account");
        {
            let from = self.get_mut(debit);
            if from_locked {
                assert!(from.locked >= amount, "debit beyond locked");
                from.locked -= amount;
            } else {
                assert!(
                    from.available >= amount || from.owner == Owner::World,
                    "debit beyond available in {:?}",
                    from.owner
                );
                from.available = from
                    .available
                    .checked_sub(amount)
                    .expect("the world's balance stays within the currency supply cap");
            }
        }
        // Every balance is at most the currency's supply cap (`Config::currency_supply_max`,
        // at most 2^60), which deposits are checked against: a credit cannot overflow.
        let to = self.get_mut(credit);
        to.available = to
            .available
            .checked_add(amount)
            .expect("balances stay within the currency supply cap");
        out.push(Event::LedgerMoved(LedgerMoved {
            debit,
            credit,
            amount: Amount(amount),
            reason,
            reference,
        }));
    }

    /// The sum over all accounts of `currency` (always zero).
    pub fn total(&self, currency: Currency) -> i128 {
        self.accounts[1..]
            .iter()
            .filter(|a| a.currency == currency)
            .map(|a| i128::from(a.available) + i128::from(a.locked))
            .sum()
    }

    /// Asserts the ledger's invariants: every currency sums to zero, and no account but the
    /// world has a negative available or held balance.
    pub fn check(&self) {
        let mut totals: FxHashMap<Currency, i128> = FxHashMap::default();
        for account in &self.accounts[1..] {
            *totals.entry(account.currency).or_default() +=
                i128::from(account.available) + i128::from(account.locked);
            if account.owner != Owner::World {
                assert!(
                    account.available >= 0 && account.locked >= 0,
                    "negative balance in {:?}: {} / {}",
                    account.owner,
                    account.available,
                    account.locked
                );
            }
        }
        for (currency, total) in totals {
            assert_eq!(total, 0, "ledger of {currency} does not balance");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movements_conserve_money_and_report_themselves() {
        let usd = Currency::new("USD").unwrap();
        let mut ledger = Ledger::new();
        let world = ledger.open(Owner::World, usd, 0);
        let alice = ledger.open(Owner::User(UserId(1)), usd, 0);
        let bob = ledger.open(Owner::User(UserId(2)), usd, 0);
        let mut out = Vec::new();
        ledger.transfer(world, alice, 500, false, LedgerReason::Deposit, 1, &mut out);
        ledger.lock(alice, 200);
        ledger.transfer(alice, bob, 150, true, LedgerReason::Trade, 2, &mut out);
        ledger.unlock(alice, 50);
        assert_eq!(ledger.get(alice).available, 350);
        assert_eq!(ledger.get(alice).locked, 0);
        assert_eq!(ledger.get(bob).available, 150);
        assert_eq!(ledger.get(world).available, -500);
        assert_eq!(ledger.total(usd), 0);
        ledger.check();
        assert_eq!(out.len(), 2);
        // Zero movements are not reported.
        ledger.transfer(alice, bob, 0, false, LedgerReason::Trade, 3, &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    #[should_panic(expected = "debit beyond available")]
    fn overdraft_is_a_broken_invariant() {
        let usd = Currency::new("USD").unwrap();
        let mut ledger = Ledger::new();
        let alice = ledger.open(Owner::User(UserId(1)), usd, 0);
        let bob = ledger.open(Owner::User(UserId(2)), usd, 0);
        ledger.transfer(
            alice,
            bob,
            1,
            false,
            LedgerReason::Trade,
            0,
            &mut Vec::new(),
        );
    }
}
