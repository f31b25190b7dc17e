//! `--demo`: a live system for a newcomer — an admin, a few users with sandbox money, open
//! markets with resting orders, a game to play — and the credentials to log in, kept in
//! `DATA_DIR/demo-credentials.txt` (mode 0600) and printed at every start.

use crate::core::Core;
use crate::error::ApiResult;
use crate::ids::PublicId;
use betbet_protocol::command::*;
use betbet_protocol::message::Reply;
use betbet_protocol::query::{LoginQuery, Query, QueryReply};
use betbet_protocol::types::*;
use std::path::Path;

const USERS: [&str; 4] = ["admin", "alice", "bob", "maker"];

fn password() -> String {
    crate::auth::random_bytes::<9>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn register(
    core: &Core,
    hasher: &crate::auth::PasswordHasherPool,
    name: &str,
    password: &str,
) -> ApiResult<UserId> {
    let hash = hasher.hash(password.to_owned()).await?;
    match core
        .execute(Command::RegisterUser(RegisterUser {
            username: name.to_owned(),
            email: format!("{name}@demo.betbet.local"),
            password_hash: hash,
            referral_code: None,
        }))
        .await?
    {
        Reply::UserRegistered(r) => Ok(r.user),
        _ => Err(crate::error::ApiError::internal("unexpected reply")),
    }
}

async fn fund(core: &Core, user: UserId, units: i64) -> ApiResult<()> {
    let usd = Currency::new("USD").expect("valid");
    let Reply::Tx(tx) = core
        .execute(Command::InitiateDeposit(InitiateDeposit {
            actor: user,
            user,
            currency: usd,
            amount: Amount(units * AMOUNT_SCALE),
            payment_method: "sandbox".to_owned(),
            idempotency_key: None,
        }))
        .await?
    else {
        return Err(crate::error::ApiError::internal("unexpected reply"));
    };
    core.execute(Command::ConfirmDeposit(ConfirmDeposit {
        actor: UserId::SYSTEM,
        deposit: tx.tx,
        provider_reference: "demo".to_owned(),
    }))
    .await?;
    Ok(())
}

async fn market(
    core: &Core,
    creator: UserId,
    title: &str,
    category: &str,
    market_type: MarketType,
    outcomes: &[&str],
    days: i64,
) -> ApiResult<(MarketId, Vec<OutcomeId>)> {
    let now = crate::state::AppState::now_secs();
    match core
        .execute(Command::CreateMarket(CreateMarket {
            actor: creator,
            title: title.to_owned(),
            description: format!("Demo market: {title}"),
            category: category.to_owned(),
            market_type,
            outcomes: outcomes.iter().map(|s| (*s).to_owned()).collect(),
            tick_size: TickSize::Cent,
            currency: Currency::new("USD").expect("valid"),
            opens_at: Timestamp::ZERO,
            closes_at: Timestamp::from_secs(now + days * 86_400),
            creator_fee_bp: 100,
            oracle_type: OracleType::Manual,
            resolution_source: "The demo admin decides.".to_owned(),
            scalar_low: Amount(0),
            scalar_high: Amount(100 * AMOUNT_SCALE),
        }))
        .await?
    {
        Reply::Market(m) => Ok((m.market, m.outcomes)),
        _ => Err(crate::error::ApiError::internal("unexpected reply")),
    }
}

async fn quote(
    core: &Core,
    maker: UserId,
    market: MarketId,
    outcome: OutcomeId,
    side: Side,
    price: u32,
    shares: u64,
) -> ApiResult<()> {
    core.execute(Command::PlaceOrder(PlaceOrder {
        actor: maker,
        pool: None,
        market,
        outcome,
        side,
        kind: OrderKind::Limit,
        price: Price(price),
        qty: Qty(shares * QTY_SCALE),
        time_in_force: TimeInForce::Gtc,
        expires_at: Timestamp::ZERO,
        post_only: true,
        client_order_id: None,
        self_trade: SelfTradePrevention::CancelResting,
    }))
    .await?;
    Ok(())
}

/// A Connect Four, a blitz chess, a crash and a quick-math game in the catalog, and a
/// funded crash bankroll, so the demo's users can play at once.
async fn demo_games(core: &Core, admin: UserId) -> ApiResult<[betbet_protocol::games::GameId; 4]> {
    use betbet_protocol::games::*;
    let connect_four = GameSettings {
        name: "Connect Four".to_owned(),
        category: "board".to_owned(),
        subcategory: "classic".to_owned(),
        description: "Four in a row on a 7 by 6 board; 30 seconds a move.".to_owned(),
        rule_set: RuleSet::ConnectFour,
        min_players: 2,
        max_players: 2,
        rules: r#"{"columns":7,"rows":6,"connect":4}"#.to_owned(),
        thumbnail_url: String::new(),
        turn_clock_ms: 30_000,
        increment_ms: 0,
        tick_hz: 0,
        house_edge_bp: 0,
        round_profit_max: Amount(0),
        questions: 0,
        start_timeout_secs: 600,
        rake_bp: 500,
        spectator_share_bp: 5_000,
        stake_min: Amount(AMOUNT_SCALE / 100),
        stake_max: Amount(100 * AMOUNT_SCALE),
    };
    let chess = GameSettings {
        name: "Blitz chess 5+3".to_owned(),
        subcategory: "chess".to_owned(),
        description: "FIDE chess; 5 minutes each and 3 seconds a move.".to_owned(),
        rule_set: RuleSet::Chess,
        rules: r#"{"time_control":"5+3"}"#.to_owned(),
        turn_clock_ms: 300_000,
        increment_ms: 3_000,
        ..connect_four.clone()
    };
    let crash = GameSettings {
        name: "Crash".to_owned(),
        category: "casino".to_owned(),
        subcategory: "crash".to_owned(),
        description: "Cash out before the crash; 1% house edge, 15 s to bet.".to_owned(),
        rule_set: RuleSet::Crash,
        min_players: 1,
        max_players: GAME_PLAYERS_MAX,
        rules: r#"{"house_edge":"1%"}"#.to_owned(),
        tick_hz: 10,
        house_edge_bp: 100,
        round_profit_max: Amount(1_000 * AMOUNT_SCALE),
        start_timeout_secs: 15,
        rake_bp: 0,
        ..connect_four.clone()
    };
    // The house's bankroll: the admin's sandbox money (1 000 stays in their wallet).
    fund(core, admin, 101_000).await?;
    core.execute(Command::FundBankroll(FundBankroll {
        actor: admin,
        currency: Currency::new("USD").expect("USD"),
        amount: Amount(100_000 * AMOUNT_SCALE),
    }))
    .await?;
    let quick_math = GameSettings {
        name: "Quick math".to_owned(),
        category: "puzzle".to_owned(),
        subcategory: "arithmetic".to_owned(),
        description: "Ten sums in a minute; right and fast wins.".to_owned(),
        rule_set: RuleSet::QuickMath,
        min_players: 2,
        max_players: 10,
        rules: r#"{"questions":10,"seconds":60}"#.to_owned(),
        turn_clock_ms: 60_000,
        questions: 10,
        start_timeout_secs: 120,
        ..connect_four.clone()
    };
    let mut ids = [GameId(0); 4];
    let games = [connect_four, chess, crash, quick_math];
    for (id, settings) in ids.iter_mut().zip(games) {
        let reply = core
            .execute(Command::CreateGame(CreateGame {
                actor: admin,
                settings,
            }))
            .await?;
        *id = match reply {
            Reply::Created(created) => GameId(created.id),
            _ => return Err(crate::error::ApiError::internal("unexpected reply")),
        };
    }
    Ok(ids)
}

/// Seeds the demo data once, then prints the credentials.
pub async fn seed(
    core: &Core,
    hasher: &crate::auth::PasswordHasherPool,
    data_dir: &Path,
) -> ApiResult<()> {
    let file = data_dir.join("demo-credentials.txt");
    let exists = matches!(
        core.query(Query::UserByLogin(LoginQuery {
            login: "admin".to_owned()
        }))
        .await?,
        QueryReply::UserAuth(_)
    );
    if !exists {
        let mut lines = Vec::new();
        let mut ids = Vec::new();
        for name in USERS {
            let password = password();
            let id = register(core, hasher, name, &password).await?;
            lines.push(format!("{name:<6} {password}  ({})", id.public()));
            ids.push(id);
        }
        let (admin, alice, bob, maker) = (ids[0], ids[1], ids[2], ids[3]);
        core.execute(Command::SetUserRole(SetUserRole {
            actor: UserId::SYSTEM,
            user: admin,
            role: Role::Admin,
        }))
        .await?;
        fund(core, alice, 1_000).await?;
        fund(core, bob, 1_000).await?;
        fund(core, maker, 100_000).await?;
        let (rain, rain_outcomes) = market(
            core,
            admin,
            "Will it rain in Harare tomorrow?",
            "weather",
            MarketType::Binary,
            &[],
            2,
        )
        .await?;
        let (cup, cup_outcomes) = market(
            core,
            admin,
            "Who wins the cup final?",
            "sports",
            MarketType::Multiple,
            &["Dynamos", "Highlanders", "CAPS United"],
            14,
        )
        .await?;
        let (goals, goals_outcomes) = market(
            core,
            admin,
            "How many goals in the season's last match day?",
            "sports",
            MarketType::Scalar,
            &[],
            7,
        )
        .await?;
        for (market, outcome, bid, ask) in [
            (rain, rain_outcomes[0], 5_500, 6_000),
            (cup, cup_outcomes[0], 4_000, 4_500),
            (cup, cup_outcomes[1], 3_000, 3_500),
            (cup, cup_outcomes[2], 2_000, 2_500),
            (goals, goals_outcomes[0], 3_500, 4_000),
        ] {
            quote(core, maker, market, outcome, Side::Buy, bid, 200).await?;
            quote(core, maker, market, outcome, Side::Sell, ask, 200).await?;
        }
        let [connect_four, chess, crash, quick_math] = demo_games(core, admin).await?;
        let describe = |id: MarketId, title: &str, outcomes: &[OutcomeId], texts: &[&str]| {
            let outcomes: Vec<String> = outcomes
                .iter()
                .zip(texts)
                .map(|(o, t)| format!("{} {t}", o.public()))
                .collect();
            format!(
                "{:<6} {title}  outcomes: {}",
                id.public(),
                outcomes.join(", ")
            )
        };
        let markets = [
            describe(
                rain,
                "Will it rain in Harare tomorrow?",
                &rain_outcomes,
                &["Yes", "No"],
            ),
            describe(
                cup,
                "Who wins the cup final?",
                &cup_outcomes,
                &["Dynamos", "Highlanders", "CAPS United"],
            ),
            describe(
                goals,
                "How many goals in the season's last match day? (scalar 0-100)",
                &goals_outcomes,
                &["Long", "Short"],
            ),
        ];
        let text = format!(
            "BetBet demo users (sandbox money only; never run --demo in production):\n{}\n\nDemo markets (the admin created them; maker quotes them):\n{}\n\nDemo games: {} Connect Four, {} blitz chess 5+3 (stakes 0.01 to 100, 5% rake), {} crash (1% house edge, a 100 000 bankroll), {} quick math\n",
            lines.join("\n"),
            markets.join("\n"),
            connect_four.public(),
            chess.public(),
            crash.public(),
            quick_math.public()
        );
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&file)
                .map_err(|e| crate::error::ApiError::internal(e.to_string()))?;
            out.write_all(text.as_bytes())
                .map_err(|e| crate::error::ApiError::internal(e.to_string()))?;
        }
    }
    match std::fs::read_to_string(&file) {
        Ok(text) => println!("{text}(also in {})", file.display()),
        Err(_) => println!("demo data exists but {} is missing", file.display()),
    }
    Ok(())
}
