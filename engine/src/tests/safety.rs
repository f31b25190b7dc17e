//! The rules that keep money and markets safe from their own users: balance and supply caps
//! (no sum can overflow), the rolling withdrawal limit, and two-step resolution that a
//! market's creator cannot use to take the other side's stake.

use super::*;
use crate::Config;
use betbet_protocol::event::TxStatus;
use proptest::prelude::*;

const BUY: Side = Side::Buy;

fn configure(w: &mut World, change: impl FnOnce(&mut Configure)) {
    let mut c = w.engine.config().to_command(UserId::SYSTEM);
    change(&mut c);
    w.ok(Command::Configure(c));
}

fn initiate(w: &mut World, user: UserId, amount: i64) -> Result<TxId, ResultCode> {
    match w.apply(World::deposit_command(user, amount)) {
        Response::Accepted(Reply::Tx(tx)) => Ok(tx.tx),
        Response::Accepted(other) => panic!("{other:?}"),
        Response::Rejected(code) => Err(code),
    }
}

fn confirm(w: &mut World, deposit: TxId) -> Response {
    w.apply(Command::ConfirmDeposit(ConfirmDeposit {
        actor: UserId::SYSTEM,
        deposit,
        provider_reference: "test".to_owned(),
    }))
}

fn send(w: &mut World, from: UserId, to: UserId, amount: i64) -> Response {
    w.apply(Command::Transfer(Transfer {
        actor: from,
        sender: from,
        recipient: to,
        currency: usd(),
        amount: Amount(amount),
        memo: String::new(),
        idempotency_key: None,
    }))
}

#[test]
fn deposits_stop_at_the_wallet_cap_counting_pending_ones() {
    let mut w = World::new();
    configure(&mut w, |c| c.wallet_balance_max = Amount(units(1_000)));
    let alice = w.funded("alice", 600);
    let pending = initiate(&mut w, alice, units(300)).expect("within the cap");
    // 600 held + 300 pending + 101 > 1 000.
    assert_eq!(
        initiate(&mut w, alice, units(101)),
        Err(ResultCode::BalanceLimitExceeded)
    );
    initiate(&mut w, alice, units(100)).expect("exactly at the cap");
    assert!(matches!(confirm(&mut w, pending), Response::Accepted(_)));
    assert_eq!(w.balance(alice), (units(900), 0));
}

#[test]
fn transfers_into_a_full_wallet_are_refused_and_move_nothing() {
    let mut w = World::new();
    configure(&mut w, |c| c.wallet_balance_max = Amount(units(1_000)));
    let rich = w.funded("rich", 1_000);
    let other = w.funded("other", 1_000);
    assert_eq!(
        send(&mut w, other, rich, 1).code(),
        Some(ResultCode::BalanceLimitExceeded)
    );
    assert_eq!(w.balance(rich), (units(1_000), 0));
    assert_eq!(w.balance(other), (units(1_000), 0));
    // Room made by spending is room again.
    let third = w.register("third");
    assert!(matches!(
        send(&mut w, rich, third, units(10)),
        Response::Accepted(_)
    ));
    assert!(matches!(
        send(&mut w, other, rich, units(10)),
        Response::Accepted(_)
    ));
}

/// The attack of the report: many maximal deposits into one wallet. Every one past the
/// caps is refused; the balance never wraps.
#[test]
fn repeated_maximal_deposits_never_wrap_a_balance() {
    let mut w = World::new();
    w.verify_rejections = false;
    let user = w.register("whale");
    let move_max = crate::wallet::MONEY_MOVE_MAX;
    let mut refused = 0;
    for _ in 0..95 {
        match initiate(&mut w, user, move_max) {
            Ok(tx) => assert!(matches!(confirm(&mut w, tx), Response::Accepted(_))),
            Err(code) => {
                assert_eq!(code, ResultCode::BalanceLimitExceeded);
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 95, "one billion is over the default wallet cap");
    let cap = Config::default().wallet_balance_max.0;
    for _ in 0..3 {
        if let Ok(tx) = initiate(&mut w, user, cap) {
            confirm(&mut w, tx);
        }
    }
    assert_eq!(w.balance(user), (cap, 0));
}

#[test]
fn the_currency_supply_cap_is_checked_when_money_arrives() {
    let mut w = World::new();
    let supply = units(10_000);
    configure(&mut w, |c| {
        c.wallet_balance_max = Amount(supply);
        c.currency_supply_max = Amount(supply);
    });
    let alice = w.register("alice");
    let bob = w.register("bob");
    // Both fit on their own; together they are over the platform's cap.
    let a = initiate(&mut w, alice, units(6_000)).unwrap();
    let b = initiate(&mut w, bob, units(6_000)).unwrap();
    assert!(matches!(confirm(&mut w, a), Response::Accepted(_)));
    assert_eq!(
        confirm(&mut w, b).code(),
        Some(ResultCode::CurrencySupplyExceeded)
    );
    assert_eq!(w.balance(bob), (0, 0));
    let carol = w.register("carol");
    assert_eq!(
        initiate(&mut w, carol, units(4_001)),
        Err(ResultCode::CurrencySupplyExceeded)
    );
    initiate(&mut w, carol, units(4_000)).expect("what is left under the cap");
}

#[test]
fn configure_refuses_caps_that_would_not_protect_the_ledger() {
    let mut w = World::new();
    let base = w.engine.config().to_command(UserId::SYSTEM);
    for bad in [
        Configure {
            currency_supply_max: Amount(crate::CURRENCY_SUPPLY_CEILING + 1),
            ..base.clone()
        },
        Configure {
            wallet_balance_max: Amount(base.currency_supply_max.0 + 1),
            ..base.clone()
        },
        Configure {
            wallet_balance_max: Amount(0),
            ..base.clone()
        },
        Configure {
            dispute_window_micros: -1,
            ..base.clone()
        },
        Configure {
            dispute_window_micros: crate::DISPUTE_WINDOW_MAX_MICROS + 1,
            ..base.clone()
        },
    ] {
        assert_eq!(w.err(Command::Configure(bad)), ResultCode::InvalidRequest);
    }
}

fn withdraw(w: &mut World, user: UserId, method: PaymentMethodId, amount: i64) -> Response {
    w.apply(Command::RequestWithdrawal(RequestWithdrawal {
        actor: user,
        user,
        currency: usd(),
        amount: Amount(amount),
        payment_method: method,
        idempotency_key: None,
    }))
}

fn verified_with_method(w: &mut World, name: &str) -> (UserId, PaymentMethodId) {
    let user = w.funded(name, 5_000);
    w.engine.users.get_mut(user).expect("user").kyc_level = 1;
    let Reply::Created(created) = w.ok(Command::AddPaymentMethod(AddPaymentMethod {
        actor: user,
        user,
        method_type: PaymentMethodType::Bank,
        provider: "bank".to_owned(),
        details_sealed: vec![1, 2, 3],
        display_hint: "****1234".to_owned(),
    })) else {
        panic!()
    };
    (user, PaymentMethodId(created.id))
}

#[test]
fn the_withdrawal_limit_covers_any_24_hours_pending_and_completed() {
    let mut w = World::new();
    // KYC level 1 may withdraw 1 000 a day (the test harness's configuration).
    let (alice, method) = verified_with_method(&mut w, "alice");
    let Response::Accepted(Reply::Tx(first)) = withdraw(&mut w, alice, method, units(600)) else {
        panic!()
    };
    w.ok(Command::DecideWithdrawal(DecideWithdrawal {
        actor: w.admin,
        withdrawal: first.tx,
        approve: true,
        notes: String::new(),
    }));
    let Response::Accepted(Reply::Tx(second)) = withdraw(&mut w, alice, method, units(350)) else {
        panic!()
    };
    assert_eq!(second.status, TxStatus::Pending);
    // 600 completed + 350 pending + 51 > 1 000, though each is under it.
    assert_eq!(
        withdraw(&mut w, alice, method, units(51)).code(),
        Some(ResultCode::WithdrawalLimitExceeded)
    );
    // A cancelled withdrawal gives its room back.
    w.ok(Command::CancelWithdrawal(CancelWithdrawal {
        actor: alice,
        withdrawal: second.tx,
    }));
    w.advance(12 * 3600);
    assert!(matches!(
        withdraw(&mut w, alice, method, units(400)),
        Response::Accepted(_)
    ));
    assert_eq!(
        withdraw(&mut w, alice, method, units(1)).code(),
        Some(ResultCode::WithdrawalLimitExceeded)
    );
    // 24 hours after the first, its 600 no longer counts; the 400, 12 hours younger, does.
    w.advance(12 * 3600);
    assert!(matches!(
        withdraw(&mut w, alice, method, units(600)),
        Response::Accepted(_)
    ));
    assert_eq!(
        withdraw(&mut w, alice, method, units(1)).code(),
        Some(ResultCode::WithdrawalLimitExceeded)
    );
}

/// A market whose trading has been halted, with alice long YES 10 @ 0.60 against bob.
fn traded_market(w: &mut World) -> (UserId, UserId, UserId, MarketId, OutcomeId, OutcomeId) {
    let creator = w.funded("creator", 100);
    let alice = w.funded("alice", 100);
    let bob = w.funded("bob", 100);
    let (market, yes, no) = w.binary(creator);
    w.placed(alice, market, yes, BUY, 6_000, shares(10));
    w.placed(bob, market, no, BUY, 4_000, shares(10));
    (creator, alice, bob, market, yes, no)
}

fn resolve(w: &mut World, actor: UserId, market: MarketId, winner: OutcomeId) -> Response {
    w.apply(Command::ResolveMarket(ResolveMarket {
        actor,
        market,
        winner: Some(winner),
        scalar_value: None,
    }))
}

fn dispute(w: &mut World, actor: UserId, market: MarketId) -> Response {
    w.apply(Command::DisputeResolution(DisputeResolution {
        actor,
        market,
        reason: "it did not rain".to_owned(),
    }))
}

#[test]
fn an_open_market_cannot_be_resolved_and_its_creator_cannot_trade_it() {
    let mut w = World::new();
    let (creator, alice, _, market, yes, no) = traded_market(&mut w);
    assert_eq!(
        resolve(&mut w, creator, market, no).code(),
        Some(ResultCode::MarketNotClosed)
    );
    // Not even an admin resolves a market that is still trading.
    let admin = w.admin;
    assert_eq!(
        resolve(&mut w, admin, market, no).code(),
        Some(ResultCode::MarketNotClosed)
    );
    // The creator proposes the result, so holds no stake: orders, quotes, minting refused.
    assert_eq!(
        w.place(creator, market, yes, Side::Sell, 5_000, shares(20))
            .code(),
        Some(ResultCode::ResolverMayNotTrade)
    );
    assert_eq!(
        w.err(Command::MintShares(MintShares {
            actor: creator,
            market,
            outcome: None,
            qty: shares(1),
            pool: None,
        })),
        ResultCode::ResolverMayNotTrade
    );
    assert_eq!(
        w.err(Command::MassQuote(MassQuote {
            actor: creator,
            market,
            quotes: vec![Quote {
                outcome: yes,
                bid_price: Price(4_000),
                bid_qty: shares(1),
                ask_price: Price(6_000),
                ask_qty: shares(1),
            }],
        })),
        ResultCode::ResolverMayNotTrade
    );
    // Past closes_at, before any tick ran: resolving closes trading first.
    w.now = w.now.saturating_add_micros(86_400_000_000);
    assert!(matches!(
        resolve(&mut w, creator, market, yes),
        Response::Accepted(_)
    ));
    let m = w.engine.markets.get(market).unwrap();
    assert_eq!(m.status, MarketStatus::Closed);
    assert_eq!(
        w.place(alice, market, yes, BUY, 5_000, shares(1)).code(),
        Some(ResultCode::MarketNotOpen)
    );
}

#[test]
fn a_proposal_pays_out_only_when_its_dispute_window_ends() {
    let mut w = World::new();
    configure(&mut w, |c| c.dispute_window_micros = 3_600_000_000);
    let (creator, alice, bob, market, yes, _) = traded_market(&mut w);
    w.ok(Command::HaltMarket(HaltMarket {
        actor: creator,
        market,
    }));
    assert!(matches!(
        resolve(&mut w, creator, market, yes),
        Response::Accepted(_)
    ));
    // Proposed: nobody is paid yet, and the creator cannot change it.
    assert_eq!(w.escrow(market), units(10));
    assert_eq!(
        resolve(&mut w, creator, market, yes).code(),
        Some(ResultCode::ResolutionPending)
    );
    assert_eq!(
        w.engine.next_deadline(),
        Some(w.now.saturating_add_micros(3_600_000_000))
    );
    w.advance(3_599);
    assert_eq!(w.escrow(market), units(10));
    w.advance(1);
    let m = w.engine.markets.get(market).unwrap();
    assert_eq!(m.status, MarketStatus::Resolved);
    assert_eq!(m.winner, Some(yes));
    assert_eq!(w.escrow(market), 0);
    // Alice staked 6 and is paid 10 less 3 % of her 4 of winnings.
    assert_eq!(
        w.balance(alice),
        (units(94) + units(10) - units(12) / 100, 0)
    );
    assert_eq!(w.balance(bob), (units(96), 0));
    assert_eq!(
        dispute(&mut w, bob, market).code(),
        Some(ResultCode::MarketAlreadySettled)
    );
}

#[test]
fn a_disputed_proposal_waits_for_an_admin_who_may_change_it() {
    let mut w = World::new();
    configure(&mut w, |c| c.dispute_window_micros = 3_600_000_000);
    let (creator, alice, bob, market, yes, no) = traded_market(&mut w);
    let stranger = w.funded("stranger", 1);
    w.ok(Command::HaltMarket(HaltMarket {
        actor: creator,
        market,
    }));
    // The creator proposes NO, the side alice's money is against.
    assert!(matches!(
        resolve(&mut w, creator, market, no),
        Response::Accepted(_)
    ));
    assert_eq!(
        dispute(&mut w, stranger, market).code(),
        Some(ResultCode::NotAHolder)
    );
    assert_eq!(
        w.err(Command::DisputeResolution(DisputeResolution {
            actor: alice,
            market,
            reason: " ".to_owned(),
        })),
        ResultCode::InvalidText
    );
    assert!(matches!(
        dispute(&mut w, alice, market),
        Response::Accepted(_)
    ));
    assert_eq!(
        dispute(&mut w, bob, market).code(),
        Some(ResultCode::AlreadyDisputed)
    );
    // The window passing no longer finalizes it.
    w.advance(2 * 3_600);
    assert_eq!(w.escrow(market), units(10));
    assert!(w.engine.markets.finalizing.is_empty());
    assert_eq!(
        resolve(&mut w, creator, market, no).code(),
        Some(ResultCode::ResolutionPending)
    );
    // The admin decides for YES: final at once.
    let admin = w.admin;
    assert!(matches!(
        resolve(&mut w, admin, market, yes),
        Response::Accepted(_)
    ));
    let m = w.engine.markets.get(market).unwrap();
    assert_eq!((m.status, m.winner), (MarketStatus::Resolved, Some(yes)));
    let proposal = m.proposal.as_ref().expect("kept as the record");
    assert_eq!(proposal.winner, Some(no));
    assert_eq!(proposal.dispute.as_ref().map(|d| d.by), Some(alice));
    assert_eq!(
        w.balance(alice),
        (units(94) + units(10) - units(12) / 100, 0)
    );
}

#[test]
fn a_dispute_after_the_window_is_refused_even_before_the_timer_runs() {
    let mut w = World::new();
    configure(&mut w, |c| c.dispute_window_micros = 60_000_000);
    let (creator, alice, _, market, _, no) = traded_market(&mut w);
    w.ok(Command::HaltMarket(HaltMarket {
        actor: creator,
        market,
    }));
    assert!(matches!(
        resolve(&mut w, creator, market, no),
        Response::Accepted(_)
    ));
    w.now = w.now.saturating_add_micros(60_000_000);
    assert_eq!(
        dispute(&mut w, alice, market).code(),
        Some(ResultCode::DisputeWindowOver)
    );
    // Voiding a proposed market stops its timer.
    let admin = w.admin;
    w.ok(Command::VoidMarket(VoidMarket {
        actor: admin,
        market,
    }));
    assert!(w.engine.markets.finalizing.is_empty());
    w.ok(Command::Tick(Tick {}));
    assert_eq!(
        w.engine.markets.get(market).unwrap().status,
        MarketStatus::Voided
    );
}

#[derive(Debug, Clone)]
enum Op {
    Deposit {
        user: usize,
        amount: i64,
    },
    Transfer {
        from: usize,
        to: usize,
        amount: i64,
    },
    Buy {
        user: usize,
        price: u32,
        qty: u64,
        yes: bool,
    },
    Resolve {
        yes: bool,
    },
}

/// Amounts at and around every limit, and some ordinary ones.
fn edge_amount() -> impl Strategy<Value = i64> {
    let cap = Config::default().wallet_balance_max.0;
    prop_oneof![
        Just(1),
        Just(cap),
        Just(cap - 1),
        Just(cap + 1),
        Just(crate::wallet::MONEY_MOVE_MAX),
        Just(i64::MAX),
        1..=cap,
    ]
}

fn edge_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize, edge_amount()).prop_map(|(user, amount)| Op::Deposit { user, amount }),
        (0..4usize, 0..4usize, edge_amount()).prop_map(|(from, to, amount)| Op::Transfer {
            from,
            to,
            amount
        }),
        (
            0..4usize,
            prop_oneof![Just(100u32), Just(9_900u32), 1..99u32].prop_map(|p| if p < 100 {
                p * 100
            } else {
                p
            }),
            prop_oneof![Just(QTY_ORDER_MAX), Just(1u64), 1..QTY_ORDER_MAX],
            any::<bool>()
        )
            .prop_map(|(user, price, qty, yes)| Op::Buy {
                user,
                price,
                qty,
                yes
            }),
        any::<bool>().prop_map(|yes| Op::Resolve { yes }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Deposits, transfers, maximal orders and payouts at the limits: every command either
    /// applies or is refused having changed nothing, and after each the ledger balances,
    /// nothing is negative and no account holds more than the supply cap (the harness
    /// checks all of it after every command).
    #[test]
    fn amounts_at_the_limits_keep_every_invariant(ops in proptest::collection::vec(edge_op(), 1..60)) {
        let mut w = World::new();
        w.verify_rejections = false;
        let users: Vec<UserId> = (0..4).map(|i| w.register(&format!("edge{i}"))).collect();
        let host = w.register("host");
        let (mut market, mut yes, mut no) = w.binary(host);
        for op in ops {
            match op {
                Op::Deposit { user, amount } => {
                    if let Ok(tx) = initiate(&mut w, users[user], amount) {
                        confirm(&mut w, tx);
                    }
                }
                Op::Transfer { from, to, amount } => {
                    send(&mut w, users[from], users[to], amount);
                }
                Op::Buy { user, price, qty, yes: side } => {
                    let outcome = if side { yes } else { no };
                    w.place(users[user], market, outcome, BUY, price, Qty(qty));
                }
                Op::Resolve { yes: side } => {
                    w.resolve(host, market, Some(if side { yes } else { no }), None);
                    (market, yes, no) = w.binary(host);
                }
            }
            let cap = w.engine.config().currency_supply_max.0;
            for account in &w.engine.ledger().accounts[1..] {
                prop_assert!(account.balance() <= cap);
            }
        }
    }
}
