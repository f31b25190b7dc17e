//! A session's life and its money.
//!
//! Money: a player's stake moves from their wallet into the session's escrow account when
//! they take a seat, and back when they leave before the start or the session is cancelled.
//! At the end the escrow pays the game's rake to the platform and the rest to the winners in
//! equal parts; the units that do not divide (fewer than the winners) go to the platform
//! too, so the escrow ends at exactly zero. Spectator fees go straight from the spectator's
//! wallet to the players (the game's spectator share, split equally) and the platform (the
//! rest, with the remainder of the split).

use super::rules::{Draws, Outcome, RuleState, Start};
use super::{GameSession, Player, Spectator};
use crate::Engine;
use crate::ledger::Owner;
use crate::wallet::{MONEY_MOVE_MAX, Reference};
use betbet_protocol::event::{Event, LedgerReason, TxStatus, TxType};
use betbet_protocol::games::{
    CLIENT_SEED_MAX, CreateGameSession, GAME_CHAT_MAX, GameChatPosted, GameEnd, GameMove,
    GameSessionAction, GameSessionChanged, GameSessionId, GameSessionStatus, GameSessionTicked,
    GameType, JoinGameSession, MOVE_TEXT_MAX, PlayerStatus, PostGameChat, RuleSet,
    SESSION_CODE_ALPHABET, SESSION_CODE_LEN, SessionChange, SetClientSeed,
};
use betbet_protocol::message::{Created, Reply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{AccountId, UserId};

/// The `attempt`-th candidate code of a session: from the SHA-256 of its secret server
/// seed, so nobody can guess a private session's code from anything they can see.
fn session_code(server_seed: &[u8; 32], attempt: u32) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(b"betbet session code");
    hash.update(server_seed);
    hash.update(attempt.to_le_bytes());
    let digest: [u8; 32] = hash.finalize().into();
    let alphabet = SESSION_CODE_ALPHABET.len();
    digest[..SESSION_CODE_LEN]
        .iter()
        .map(|&b| char::from(SESSION_CODE_ALPHABET[usize::from(b) % alphabet]))
        .collect()
}

/// A player's client seed: 1 to 64 printable ASCII characters without `:` or `|` (the
/// gateway makes a random one for a player who gives none, as a browser would).
fn client_seed(given: &str) -> Result<String, ResultCode> {
    let valid = !given.is_empty()
        && given.len() <= CLIENT_SEED_MAX
        && given
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b':' && b != b'|');
    if valid {
        Ok(given.to_owned())
    } else {
        Err(ResultCode::InvalidClientSeed)
    }
}

/// A move as the room may see it: a quick-math answer is the player's secret until the
/// round ends (everyone's answers are in the final view), every other move is public.
fn public_move(rule_set: RuleSet, mv: &str) -> &str {
    if rule_set == RuleSet::QuickMath {
        ""
    } else {
        mv
    }
}

/// The pot's split: `(each winner's share, the platform's rake with the indivisible rest)`.
pub(crate) fn split_pot(pot: i64, rake_bp: u16, winners: usize) -> (i64, i64) {
    let rake = (i128::from(pot) * i128::from(rake_bp) / 10_000) as i64;
    if winners == 0 {
        return (0, pot);
    }
    let share = (pot - rake) / winners as i64;
    (share, pot - share * winners as i64)
}

impl Engine {
    fn session_mut(&mut self, id: GameSessionId) -> Result<&mut GameSession, ResultCode> {
        self.games
            .sessions
            .get_mut(&id)
            .ok_or(ResultCode::GameSessionNotFound)
    }

    /// The session `actor` acts on: a private one exists only for its players, spectators
    /// and admins (to anyone else every route answers "not found", as a read does).
    fn session_for(&self, id: GameSessionId, actor: UserId) -> Result<&GameSession, ResultCode> {
        let session = self
            .games
            .sessions
            .get(&id)
            .ok_or(ResultCode::GameSessionNotFound)?;
        if !self.may_see(session, actor) {
            return Err(ResultCode::GameSessionNotFound);
        }
        Ok(session)
    }

    /// Anyone sees a public session; a private one its players, spectators and admins.
    pub(crate) fn may_see(&self, session: &GameSession, user: UserId) -> bool {
        !session.is_private
            || session.seat_of(user).is_some()
            || session.spectators.iter().any(|s| s.user == user)
            || self.is_admin(user)
    }

    /// Whether the session's timer has passed: its `Tick` is due, and until it runs the
    /// session takes nothing that the timer's outcome would contradict (a move after the
    /// flag fell, a join after the start deadline).
    fn timer_passed(&self, session: &GameSession) -> bool {
        session.deadline.is_some_and(|at| at <= self.now)
    }

    /// A session still taking players (its start deadline not passed).
    fn require_waiting(&self, session: &GameSession) -> Result<(), ResultCode> {
        if session.status != GameSessionStatus::Waiting || self.timer_passed(session) {
            return Err(ResultCode::GameSessionNotWaiting);
        }
        Ok(())
    }

    /// A session being played (the mover's clock not run out).
    fn require_playing(&self, session: &GameSession) -> Result<(), ResultCode> {
        if session.status != GameSessionStatus::Active || self.timer_passed(session) {
            return Err(ResultCode::GameSessionNotActive);
        }
        Ok(())
    }

    /// Refuses a user who holds the most seats in live sessions a user may.
    fn check_seat_limit(&self, user: UserId) -> Result<(), ResultCode> {
        let seats = self.games.seats.get(&user).copied().unwrap_or(0);
        if seats >= self.limits.game_seats_per_user_max {
            return Err(ResultCode::LimitExceeded);
        }
        Ok(())
    }

    fn seat_taken(&mut self, user: UserId) {
        *self.games.seats.entry(user).or_default() += 1;
    }

    fn seat_freed(&mut self, user: UserId) {
        let seats = self.games.seats.get_mut(&user).expect("a seat to free");
        *seats -= 1;
        if *seats == 0 {
            self.games.seats.remove(&user);
        }
    }

    /// Bumps the session's version and tells everyone, with the session as a spectator
    /// sees it now.
    fn session_changed(
        &mut self,
        id: GameSessionId,
        user: UserId,
        (change, mv): (SessionChange, &str),
        out: &mut Vec<Event>,
    ) {
        let session = self.games.sessions.get_mut(&id).expect("changed session");
        session.version += 1;
        let session = &self.games.sessions[&id];
        out.push(Event::GameSessionChanged(GameSessionChanged {
            session: id,
            game: session.game,
            user,
            status: session.status,
            version: session.version,
            change,
            mv: mv.to_owned(),
            view: Box::new(self.game_session_view(session, UserId::SYSTEM)),
        }));
    }

    /// A realtime session ticked and goes on: its delta when the rule set has one (a
    /// crash round's rise, 10 to 20 times a second, without rebuilding the session's
    /// view), else the whole view like any change.
    fn session_ticked(&mut self, id: GameSessionId, out: &mut Vec<Event>) {
        let session = self.games.sessions.get_mut(&id).expect("ticked session");
        let Some((tick, multiplier)) = session.state.tick_delta() else {
            let change = (SessionChange::Ticked, "");
            return self.session_changed(id, UserId::SYSTEM, change, out);
        };
        session.version += 1;
        out.push(Event::GameSessionTicked(GameSessionTicked {
            session: id,
            version: session.version,
            tick,
            multiplier,
            next_tick_at: session.deadline,
        }));
    }

    /// Moves `amount` between a user's wallet and another account of the session's money
    /// (the escrow, a player's wallet): into the wallet with `credit`, else out of it. The
    /// wallet's history shows it as a `tx_type` transaction of the session.
    #[allow(clippy::too_many_arguments)]
    fn game_money(
        &mut self,
        session: GameSessionId,
        who: (UserId, AccountId),
        other: AccountId,
        amount: i64,
        credit: bool,
        why: (LedgerReason, TxType),
        out: &mut Vec<Event>,
    ) {
        let reference = Reference::Game(session.0);
        self.user_money(reference, who, other, amount, credit, why, out);
    }

    /// Moves `amount` between a user's wallet and `other` (into the wallet with `credit`,
    /// else out of it), recorded in the wallet's history as a completed `tx_type`
    /// transaction of `reference`; nothing moves and nothing is recorded for zero.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn user_money(
        &mut self,
        reference: Reference,
        (user, wallet): (UserId, AccountId),
        other: AccountId,
        amount: i64,
        credit: bool,
        (reason, tx_type): (LedgerReason, TxType),
        out: &mut Vec<Event>,
    ) {
        if amount == 0 {
            return;
        }
        let (debit, credited) = if credit {
            (other, wallet)
        } else {
            (wallet, other)
        };
        let reference_id = match reference {
            Reference::None => 0,
            Reference::Market(id)
            | Reference::P2p(id)
            | Reference::Pool(id)
            | Reference::Game(id)
            | Reference::Tournament(id)
            | Reference::Community(id)
            | Reference::Thread(id)
            | Reference::Group(id) => id,
        };
        self.ledger
            .transfer(debit, credited, amount, false, reason, reference_id, out);
        self.record_tx(
            user,
            wallet,
            tx_type,
            TxStatus::Completed,
            amount,
            0,
            credit,
            reference,
            out,
        );
    }

    /// Moves a stake into the session's escrow.
    fn take_stake(&mut self, id: GameSessionId, player: &Player, out: &mut Vec<Event>) {
        let session = &self.games.sessions[&id];
        let (escrow, stake) = (session.escrow, session.stake);
        let who = (player.user, player.account);
        let why = (LedgerReason::GameStake, TxType::Bet);
        self.game_money(id, who, escrow, stake, false, why, out);
    }

    /// Gives a stake back from the escrow.
    fn refund_stake(&mut self, id: GameSessionId, player: &Player, out: &mut Vec<Event>) {
        let session = &self.games.sessions[&id];
        let (escrow, stake) = (session.escrow, session.stake);
        let who = (player.user, player.account);
        let why = (LedgerReason::Refund, TxType::Refund);
        self.game_money(id, who, escrow, stake, true, why, out);
    }

    pub(crate) fn create_game_session(
        &mut self,
        c: &CreateGameSession,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let game = self.games.game(c.game).ok_or(ResultCode::GameNotFound)?;
        if !game.is_active {
            return Err(ResultCode::GameInactive);
        }
        let settings = game.settings.clone();
        if c.stake.0 < settings.stake_min.0
            || c.stake.0 > settings.stake_max.0
            || c.stake.0 > MONEY_MOVE_MAX
        {
            return Err(ResultCode::InvalidStake);
        }
        let max_players = if c.max_players == 0 {
            settings.max_players
        } else {
            c.max_players
        };
        if !(settings.min_players..=settings.max_players).contains(&max_players) {
            return Err(ResultCode::InvalidGameSettings);
        }
        if c.spectator_fee.0 < 0 || c.spectator_fee.0 > MONEY_MOVE_MAX {
            return Err(ResultCode::InvalidAmount);
        }
        if !self.currency_supported(c.currency) {
            return Err(ResultCode::UnsupportedCurrency);
        }
        let seed = client_seed(&c.client_seed)?;
        if self.games.live.len() >= self.limits.game_sessions_max as usize {
            return Err(ResultCode::TooManyGameSessions);
        }
        self.check_seat_limit(c.actor)?;
        let wallet = self.entry_wallet(c.actor, c.currency, c.stake.0)?;
        // A crash round reserves from the bankroll all it may pay above its stakes.
        let reserve = if settings.rule_set == RuleSet::Crash {
            settings.round_profit_max.0
        } else {
            0
        };
        let bankroll = self.games.bankroll(&self.ledger, c.currency);
        if reserve > 0 && bankroll.is_none_or(|account| self.ledger.available(account) < reserve) {
            return Err(ResultCode::BankrollInsufficient);
        }
        let code = (0..)
            .map(|attempt| session_code(&c.server_seed, attempt))
            .find(|code| !self.games.codes.contains_key(code))
            .expect("a free code among endless candidates");

        self.games.next_session += 1;
        let id = GameSessionId(self.games.next_session);
        // One escrow account per currency holds every live session's stakes; each
        // session's share of it is its pot (`check_games` sums them).
        let escrow = self.system_account(Owner::Games, c.currency);
        let deadline = self
            .now
            .saturating_add_micros(i64::from(settings.start_timeout_secs) * 1_000_000);
        let creator = Player {
            user: c.actor,
            account: wallet,
            status: PlayerStatus::Playing,
            score: 0,
            payout: 0,
            joined_at: self.now,
            client_seed: seed,
        };
        self.games.sessions.insert(
            id,
            GameSession {
                id,
                game: c.game,
                rule_set: settings.rule_set,
                code: code.clone(),
                creator: c.actor,
                status: GameSessionStatus::Waiting,
                end: None,
                stake: c.stake.0,
                currency: c.currency,
                is_private: c.is_private,
                min_players: settings.min_players,
                max_players,
                spectator_fee: c.spectator_fee.0,
                rake_bp: settings.rake_bp,
                spectator_share_bp: settings.spectator_share_bp,
                turn_clock_ms: settings.turn_clock_ms,
                increment_ms: settings.increment_ms,
                tick_hz: settings.tick_hz,
                house_edge_bp: settings.house_edge_bp,
                questions: settings.questions,
                reserve,
                house: 0,
                escrow,
                players: Vec::new(),
                spectators: Vec::new(),
                created_at: self.now,
                start_deadline: deadline,
                started_at: None,
                ended_at: None,
                deadline: None,
                version: 0,
                server_seed: c.server_seed,
                draws: Vec::new(),
                rake: 0,
                state: RuleState::NotStarted,
                tournament: None,
            },
        );
        self.games.live.insert(id);
        self.games.codes.insert(code, id);
        self.games.arm(id, Some(deadline));
        if let Some(bankroll) = bankroll.filter(|_| reserve > 0) {
            self.ledger.transfer(
                bankroll,
                escrow,
                reserve,
                false,
                LedgerReason::Bankroll,
                id.0,
                out,
            );
        }
        self.take_stake(id, &creator, out);
        self.seat_taken(c.actor);
        self.games
            .sessions
            .get_mut(&id)
            .expect("inserted")
            .players
            .push(creator);
        self.session_changed(id, c.actor, (SessionChange::Created, ""), out);
        Ok(Reply::Created(Created { id: id.0 }))
    }

    pub(crate) fn join_game_session(
        &mut self,
        c: &JoinGameSession,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let session = self
            .games
            .sessions
            .get(&c.session)
            .ok_or(ResultCode::GameSessionNotFound)?;
        // A private session's code comes first: without it the session does not exist
        // for the caller, whatever its state.
        if !self.may_see(session, c.actor) && c.code != session.code {
            return Err(ResultCode::GameSessionNotFound);
        }
        self.require_waiting(session)?;
        if session.seat_of(c.actor).is_some() {
            return Err(ResultCode::AlreadyInSession);
        }
        if let Some((tournament, index)) = session.tournament
            && !self.match_players(tournament, index).contains(&c.actor)
        {
            return Err(ResultCode::NotYourMatch);
        }
        if session.players.len() >= session.max_players as usize {
            return Err(ResultCode::GameSessionFull);
        }
        self.check_seat_limit(c.actor)?;
        let (currency, stake, full_at) = (
            session.currency,
            session.stake,
            session.max_players as usize,
        );
        let seed = client_seed(&c.client_seed)?;
        let wallet = self.entry_wallet(c.actor, currency, stake)?;
        let player = Player {
            user: c.actor,
            account: wallet,
            status: PlayerStatus::Playing,
            score: 0,
            payout: 0,
            joined_at: self.now,
            client_seed: seed,
        };
        self.take_stake(c.session, &player, out);
        self.seat_taken(c.actor);
        let session = self.session_mut(c.session)?;
        session.players.push(player);
        let full = session.players.len() == full_at;
        // Spectators of a waiting session are not players: a new player stops watching.
        session.spectators.retain(|s| s.user != c.actor);
        self.session_changed(c.session, c.actor, (SessionChange::Joined, ""), out);
        if full {
            self.begin_game(c.session, c.actor, out);
        }
        Ok(crate::done())
    }

    pub(crate) fn leave_game_session(
        &mut self,
        c: &GameSessionAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let session = self.session_for(c.session, c.actor)?;
        let seat = session.seat_of(c.actor).ok_or(ResultCode::NotInSession)?;
        self.require_waiting(session)?;
        if session.tournament.is_some() {
            return Err(ResultCode::TournamentMatch);
        }
        if session.creator == c.actor {
            return Err(ResultCode::CreatorCannotLeave);
        }
        let player = self.session_mut(c.session)?.players.remove(seat);
        self.refund_stake(c.session, &player, out);
        self.seat_freed(c.actor);
        self.session_changed(c.session, c.actor, (SessionChange::Left, ""), out);
        Ok(crate::done())
    }

    pub(crate) fn cancel_game_session(
        &mut self,
        c: &GameSessionAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let session = self.session_for(c.session, c.actor)?;
        if session.tournament.is_some() {
            return Err(ResultCode::TournamentMatch);
        }
        if session.creator != c.actor && !self.is_admin(c.actor) {
            return Err(ResultCode::NotSessionCreator);
        }
        // After the start deadline the session is the timer's: it expires.
        self.require_waiting(session)?;
        self.cancel_unstarted(c.session, GameEnd::Cancelled, c.actor, out);
        Ok(crate::done())
    }

    pub(crate) fn start_game_session(
        &mut self,
        c: &GameSessionAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let session = self.session_for(c.session, c.actor)?;
        if session.tournament.is_some() {
            return Err(ResultCode::TournamentMatch);
        }
        if session.creator != c.actor {
            return Err(ResultCode::NotSessionCreator);
        }
        self.require_waiting(session)?;
        if session.players.len() < session.min_players as usize {
            return Err(ResultCode::NotEnoughPlayers);
        }
        self.begin_game(c.session, c.actor, out);
        Ok(crate::done())
    }

    pub(crate) fn set_client_seed(
        &mut self,
        c: &SetClientSeed,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let session = self.session_for(c.session, c.actor)?;
        let seat = session.seat_of(c.actor).ok_or(ResultCode::NotInSession)?;
        self.require_waiting(session)?;
        let seed = client_seed(&c.client_seed)?;
        self.session_mut(c.session)?.players[seat].client_seed = seed;
        let change = (SessionChange::ClientSeedSet, "");
        self.session_changed(c.session, c.actor, change, out);
        Ok(crate::done())
    }

    pub(crate) fn game_move(
        &mut self,
        c: &GameMove,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if c.mv.len() > MOVE_TEXT_MAX {
            return Err(ResultCode::IllegalMove);
        }
        let session = self.session_for(c.session, c.actor)?;
        let seat = session.seat_of(c.actor).ok_or(ResultCode::NotInSession)?;
        // A move after the mover's flag fell (its `Tick` not applied yet) is too late; a
        // realtime game's rules price a move by its own time, whatever tick is due.
        if session.rule_set.game_type() == GameType::Realtime {
            if session.status != GameSessionStatus::Active {
                return Err(ResultCode::GameSessionNotActive);
            }
        } else {
            self.require_playing(session)?;
        }
        let now = self.now;
        let session = self.session_mut(c.session)?;
        let rule_set = session.rule_set;
        let outcome = session.state.apply_move(seat, &c.mv, now)?;
        match outcome {
            Some(outcome) => {
                let mv = public_move(rule_set, &c.mv);
                self.settle_game(c.session, outcome, (c.actor, mv), out);
            }
            None => {
                self.arm_turn_clock(c.session);
                let change = (SessionChange::Moved, public_move(rule_set, &c.mv));
                self.session_changed(c.session, c.actor, change, out);
            }
        }
        Ok(crate::done())
    }

    pub(crate) fn resign_game(
        &mut self,
        c: &GameSessionAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        self.forfeit_game(c, GameEnd::Resignation, out)
    }

    /// The actor gives up a game in play (`end` says how): the rule set names the winners.
    fn forfeit_game(
        &mut self,
        c: &GameSessionAction,
        end: GameEnd,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let session = self.session_for(c.session, c.actor)?;
        let seat = session.seat_of(c.actor).ok_or(ResultCode::NotInSession)?;
        self.require_playing(session)?;
        let outcome = self.session_mut(c.session)?.state.forfeit(seat, end)?;
        self.settle_game(c.session, outcome, (c.actor, ""), out);
        Ok(crate::done())
    }

    pub(crate) fn spectate_game_session(
        &mut self,
        c: &GameSessionAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let session = self.session_for(c.session, c.actor)?;
        if session.status.ended() || self.timer_passed(session) {
            return Err(ResultCode::GameSessionNotActive);
        }
        if session.seat_of(c.actor).is_some() {
            return Err(ResultCode::PlayerCannotSpectate);
        }
        if session.spectators.iter().any(|s| s.user == c.actor) {
            // Watching again costs nothing: the fee is paid once per session.
            return Ok(crate::done());
        }
        if session.spectators.len() >= self.limits.spectators_per_session_max as usize {
            return Err(ResultCode::SpectatorsFull);
        }
        let watcher = self.users.get(c.actor).ok_or(ResultCode::UserNotFound)?;
        if watcher.status != betbet_protocol::command::UserStatus::Active {
            return Err(ResultCode::AccountSuspended);
        }
        let (fee, currency, share_bp) = (
            session.spectator_fee,
            session.currency,
            session.spectator_share_bp,
        );
        let players: Vec<(UserId, AccountId)> = session
            .players
            .iter()
            .map(|p| (p.user, p.account))
            .collect();
        if fee > 0 {
            let wallet = self.entry_wallet(c.actor, currency, fee)?;
            let to_players = (i128::from(fee) * i128::from(share_bp) / 10_000) as i64;
            let each = to_players / players.len().max(1) as i64;
            let platform = fee - each * players.len() as i64;
            for &player in &players {
                let why = (LedgerReason::SpectatorFee, TxType::Payout);
                self.game_money(c.session, player, wallet, each, true, why, out);
            }
            let fees = self.system_account(Owner::Fees, currency);
            self.ledger.transfer(
                wallet,
                fees,
                platform,
                false,
                LedgerReason::SpectatorFee,
                c.session.0,
                out,
            );
            self.record_tx(
                c.actor,
                wallet,
                TxType::Fee,
                TxStatus::Completed,
                fee,
                0,
                false,
                Reference::Game(c.session.0),
                out,
            );
        }
        let now = self.now;
        self.session_mut(c.session)?.spectators.push(Spectator {
            user: c.actor,
            fee_paid: fee,
            joined_at: now,
        });
        self.session_changed(c.session, c.actor, (SessionChange::Spectated, ""), out);
        Ok(crate::done())
    }

    /// A player's chat message to the session's room: it takes the session's next
    /// version, so the room's changes and messages share one sequence. Spectators read.
    pub(crate) fn post_game_chat(
        &mut self,
        c: &PostGameChat,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let valid = !c.text.trim().is_empty()
            && c.text.len() <= GAME_CHAT_MAX
            && !c.text.chars().any(|ch| ch.is_control() && ch != '\n');
        let session = self.session_for(c.session, c.actor)?;
        session.seat_of(c.actor).ok_or(ResultCode::NotInSession)?;
        if session.status.ended() {
            return Err(ResultCode::GameSessionNotActive);
        }
        if !valid {
            return Err(ResultCode::InvalidChatMessage);
        }
        let username = self.username(c.actor);
        let now = self.now;
        let session = self.session_mut(c.session)?;
        session.version += 1;
        out.push(Event::GameChatPosted(GameChatPosted {
            session: c.session,
            user: c.actor,
            username,
            text: c.text.clone(),
            version: session.version,
            at: now,
        }));
        Ok(crate::done())
    }

    /// A player's connection dropped and did not come back within the seat's grace period
    /// (the gateway's word): before the start the seat is given up and its stake refunded
    /// (the creator's cancels the session); while playing, the player forfeits.
    pub(crate) fn abandon_game_session(
        &mut self,
        c: &GameSessionAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let session = self.session_for(c.session, c.actor)?;
        session.seat_of(c.actor).ok_or(ResultCode::NotInSession)?;
        match session.status {
            GameSessionStatus::Waiting => {
                self.require_waiting(session)?;
                // A tournament match keeps its seat: the check-in deadline decides.
                if session.tournament.is_some() {
                    return Err(ResultCode::TournamentMatch);
                }
                if session.creator == c.actor {
                    self.cancel_unstarted(c.session, GameEnd::Abandoned, c.actor, out);
                    Ok(crate::done())
                } else {
                    self.leave_game_session(c, out)
                }
            }
            GameSessionStatus::Active => self.forfeit_game(c, GameEnd::Abandoned, out),
            GameSessionStatus::Completed | GameSessionStatus::Cancelled => {
                Err(ResultCode::GameSessionNotActive)
            }
        }
    }

    /// Starts a waiting session: the first draws, the rule set's opening position, the
    /// first turn clock.
    fn begin_game(&mut self, id: GameSessionId, actor: UserId, out: &mut Vec<Event>) {
        let now = self.now;
        let session = self.games.sessions.get_mut(&id).expect("live session");
        let client_seed: Vec<&str> = session
            .players
            .iter()
            .map(|p| p.client_seed.as_str())
            .collect();
        let client_seed = client_seed.join("|");
        let mut draws = Draws::new(&session.server_seed, &client_seed, 0);
        let start = Start {
            players: session.players.len(),
            now,
            turn_clock_ms: session.turn_clock_ms,
            increment_ms: session.increment_ms,
            stake: session.stake,
            tick_hz: session.tick_hz,
            house_edge_bp: session.house_edge_bp,
            round_profit_max: session.reserve,
            questions: session.questions,
        };
        let state = RuleState::start(session.rule_set, &start, &mut draws);
        session.draws = draws.recorded;
        session.state = state;
        session.status = GameSessionStatus::Active;
        session.started_at = Some(now);
        self.arm_turn_clock(id);
        self.session_changed(id, actor, (SessionChange::Started, ""), out);
    }

    /// Arms the clock of the seat to move (or none when nobody's turn it is).
    fn arm_turn_clock(&mut self, id: GameSessionId) {
        let session = &self.games.sessions[&id];
        let at = session.state.turn_deadline(self.now, session.turn_clock_ms);
        self.games.arm(id, at);
    }

    /// Ends a session that had not started: every stake back.
    fn cancel_unstarted(
        &mut self,
        id: GameSessionId,
        end: GameEnd,
        actor: UserId,
        out: &mut Vec<Event>,
    ) {
        let players = std::mem::take(&mut self.games.sessions.get_mut(&id).expect("live").players);
        for player in &players {
            self.refund_stake(id, player, out);
        }
        self.return_to_bankroll(id, self.games.sessions[&id].reserve, out);
        let session = self.games.sessions.get_mut(&id).expect("live");
        session.players = players;
        for player in &mut session.players {
            player.status = PlayerStatus::Refunded;
        }
        session.status = GameSessionStatus::Cancelled;
        session.end = Some(end);
        self.close_session(id, (actor, ""), out);
    }

    /// What a crash session's escrow gives back to the house's bankroll: its reserve at a
    /// cancellation, or at the end its reserve and stakes less the payouts.
    fn return_to_bankroll(&mut self, id: GameSessionId, amount: i64, out: &mut Vec<Event>) {
        if amount == 0 {
            return;
        }
        let session = &self.games.sessions[&id];
        let (escrow, currency) = (session.escrow, session.currency);
        let bankroll = self.system_account(Owner::Bankroll, currency);
        self.ledger.transfer(
            escrow,
            bankroll,
            amount,
            false,
            LedgerReason::Bankroll,
            id.0,
            out,
        );
        self.games.sessions.get_mut(&id).expect("live").house = amount;
    }

    /// Ends a session that was played: the rake to the platform, the rest to the winners
    /// (or, where the rule set decides the amounts, each seat's payout, and the rest back to
    /// the house). `cause` is who ended it and the move that did, if one did.
    fn settle_game(
        &mut self,
        id: GameSessionId,
        outcome: Outcome,
        cause: (UserId, &str),
        out: &mut Vec<Event>,
    ) {
        let session = &self.games.sessions[&id];
        let (escrow, currency, pot) = (session.escrow, session.currency, session.pot());
        let payouts: Vec<i64> = if outcome.payouts.is_empty() {
            let (share, platform) = split_pot(pot, session.rake_bp, outcome.winners.len());
            let payouts = (0..session.players.len())
                .map(|seat| {
                    if outcome.winners.contains(&seat) {
                        share
                    } else {
                        0
                    }
                })
                .collect();
            let fees = self.system_account(Owner::Fees, currency);
            self.ledger.transfer(
                escrow,
                fees,
                platform,
                false,
                LedgerReason::PlatformFee,
                id.0,
                out,
            );
            self.games.sessions.get_mut(&id).expect("live").rake = platform;
            payouts
        } else {
            outcome.payouts.clone()
        };
        let session = &self.games.sessions[&id];
        let players: Vec<(UserId, AccountId)> = session
            .players
            .iter()
            .map(|p| (p.user, p.account))
            .collect();
        let house = pot + session.reserve - session.rake - payouts.iter().sum::<i64>();
        for (&player, &payout) in players.iter().zip(&payouts) {
            let why = (LedgerReason::GamePayout, TxType::Payout);
            self.game_money(id, player, escrow, payout, true, why, out);
        }
        self.return_to_bankroll(id, house, out);
        let draw = outcome.end == GameEnd::Draw;
        let session = self.games.sessions.get_mut(&id).expect("live");
        for (seat, player) in session.players.iter_mut().enumerate() {
            let won = outcome.winners.contains(&seat);
            player.status = match (won, draw) {
                (true, true) => PlayerStatus::Drew,
                (true, false) => PlayerStatus::Won,
                (false, _) => PlayerStatus::Lost,
            };
            player.score = session.state.score(seat).unwrap_or(i64::from(won && !draw));
            player.payout = payouts[seat];
        }
        session.status = GameSessionStatus::Completed;
        session.end = Some(outcome.end);
        self.close_session(id, cause, out);
        self.rate_session(id, out);
    }

    /// The end of every session: no timer, no code, its seats freed, into the ended
    /// window.
    fn close_session(&mut self, id: GameSessionId, cause: (UserId, &str), out: &mut Vec<Event>) {
        let now = self.now;
        self.games.arm(id, None);
        let session = self.games.sessions.get_mut(&id).expect("live");
        session.ended_at = Some(now);
        let code = session.code.clone();
        let players: Vec<UserId> = session.players.iter().map(|p| p.user).collect();
        for user in players {
            self.seat_freed(user);
        }
        self.games.codes.remove(&code);
        self.games.live.remove(&id);
        let (actor, mv) = cause;
        self.session_changed(id, actor, (SessionChange::Ended, mv), out);
        self.games.ended.push_back(id);
        // At least the session just ended stays: its final state is what the reply and
        // the history projection read after this command.
        let kept = (self.limits.game_sessions_kept as usize).max(1);
        while self.games.ended.len() > kept {
            let old = self.games.ended.pop_front().expect("non-empty");
            self.games.sessions.remove(&old);
        }
        self.match_session_ended(id, out);
    }

    /// The two players of a tournament's match (none once the tournament is forgotten).
    fn match_players(
        &self,
        tournament: betbet_protocol::tournaments::TournamentId,
        index: u16,
    ) -> Vec<UserId> {
        let Some(t) = self.games.tournaments.tournaments.get(&tournament) else {
            return Vec::new();
        };
        t.bracket
            .as_ref()
            .and_then(|b| b.matches.get(usize::from(index)))
            .and_then(|m| m.players())
            .map(|seeds| {
                seeds
                    .iter()
                    .map(|&seed| t.entrants[usize::from(seed) - 1].user)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Opens a tournament match's session: no stake, no seat taken yet; its two players
    /// have `check_in_secs` to sit down (it starts when both have), else it expires and
    /// the match is forfeited. Public, so anyone may watch.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open_match_session(
        &mut self,
        game: betbet_protocol::games::GameId,
        currency: betbet_protocol::types::Currency,
        of: (betbet_protocol::tournaments::TournamentId, u16),
        players: [UserId; 2],
        server_seed: [u8; 32],
        check_in_secs: u32,
        out: &mut Vec<Event>,
    ) -> GameSessionId {
        let settings = self
            .games
            .game(game)
            .expect("a tournament's game stays in the catalog")
            .settings
            .clone();
        let code = (0..)
            .map(|attempt| session_code(&server_seed, attempt))
            .find(|code| !self.games.codes.contains_key(code))
            .expect("a free code among endless candidates");
        self.games.next_session += 1;
        let id = GameSessionId(self.games.next_session);
        let escrow = self.system_account(Owner::Games, currency);
        let deadline = self
            .now
            .saturating_add_micros(i64::from(check_in_secs) * 1_000_000);
        self.games.sessions.insert(
            id,
            GameSession {
                id,
                game,
                rule_set: settings.rule_set,
                code: code.clone(),
                creator: players[0],
                status: GameSessionStatus::Waiting,
                end: None,
                stake: 0,
                currency,
                is_private: false,
                min_players: 2,
                max_players: 2,
                spectator_fee: 0,
                rake_bp: 0,
                spectator_share_bp: settings.spectator_share_bp,
                turn_clock_ms: settings.turn_clock_ms,
                increment_ms: settings.increment_ms,
                tick_hz: settings.tick_hz,
                house_edge_bp: settings.house_edge_bp,
                questions: settings.questions,
                reserve: 0,
                house: 0,
                escrow,
                players: Vec::new(),
                spectators: Vec::new(),
                created_at: self.now,
                start_deadline: deadline,
                started_at: None,
                ended_at: None,
                deadline: None,
                version: 0,
                server_seed,
                draws: Vec::new(),
                rake: 0,
                state: RuleState::NotStarted,
                tournament: Some(of),
            },
        );
        self.games.live.insert(id);
        self.games.codes.insert(code, id);
        self.games.arm(id, Some(deadline));
        self.session_changed(id, UserId::SYSTEM, (SessionChange::Created, ""), out);
        id
    }

    /// Every due timer: a waiting session expires, the player to move loses on time.
    pub(crate) fn run_game_timers(&mut self, out: &mut Vec<Event>) {
        let now = self.now;
        while let Some(&(at, id)) = self.games.timers.first() {
            if at > now {
                break;
            }
            let session = self.games.sessions.get_mut(&id).expect("armed session");
            match session.status {
                // A session with the game's minimum starts at its deadline (a crash
                // round's betting window closes); one without is cancelled.
                GameSessionStatus::Waiting
                    if session.players.len() >= session.min_players as usize =>
                {
                    self.begin_game(id, UserId::SYSTEM, out);
                }
                GameSessionStatus::Waiting => {
                    self.cancel_unstarted(id, GameEnd::Expired, UserId::SYSTEM, out);
                }
                GameSessionStatus::Active => match session.state.on_timer(now) {
                    Some(outcome) => self.settle_game(id, outcome, (UserId::SYSTEM, ""), out),
                    None => {
                        self.arm_turn_clock(id);
                        self.session_ticked(id, out);
                    }
                },
                GameSessionStatus::Completed | GameSessionStatus::Cancelled => {
                    unreachable!("ended sessions have no timer")
                }
            }
        }
    }

    /// The games' invariants: each currency's games escrow holds exactly the pots of its
    /// live sessions; every session's state fits its status; timers, codes, seats and the
    /// windows agree with the sessions. A snapshot that breaks one is refused at restore.
    pub(crate) fn check_games(&self) {
        let games = &self.games;
        let mut armed = 0;
        let mut pots: std::collections::BTreeMap<AccountId, i64> = Default::default();
        let mut seats: std::collections::BTreeMap<UserId, u32> = Default::default();
        let highest = games.sessions.keys().next_back().map_or(0, |id| id.0);
        assert!(
            games.next_session >= highest,
            "session ids are never reused"
        );
        for (id, session) in &games.sessions {
            assert_eq!(*id, session.id);
            assert!(games.game(session.game).is_some(), "the game of {id:?}");
            let escrow = self.ledger.get(session.escrow);
            assert_eq!(escrow.owner, Owner::Games, "the games escrow of {id:?}");
            assert_eq!(escrow.currency, session.currency);
            for player in &session.players {
                let wallet = self.ledger.get(player.account);
                assert_eq!(
                    wallet.owner,
                    Owner::User(player.user),
                    "a player's own wallet"
                );
                assert_eq!(wallet.currency, session.currency);
                assert!(
                    !session.spectators.iter().any(|s| s.user == player.user),
                    "a player is not a spectator"
                );
            }
            let live = !session.status.ended();
            assert_eq!(games.live.contains(id), live, "live set of {id:?}");
            match session.status {
                GameSessionStatus::Waiting => {
                    assert_eq!(session.state, RuleState::NotStarted, "{id:?} waits");
                }
                GameSessionStatus::Active => {
                    assert!(
                        session.state.turn_deadline(self.now, 0).is_some(),
                        "{id:?} has a clock or a tick"
                    );
                }
                GameSessionStatus::Completed | GameSessionStatus::Cancelled => {}
            }
            // A round fits its session: its seats, stake and reserve.
            match &session.state {
                RuleState::Crash(round) => {
                    assert_eq!(
                        round.players as usize,
                        session.players.len(),
                        "{id:?} seats"
                    );
                    assert_eq!(round.stake, session.stake, "{id:?} stake");
                    assert_eq!(round.profit_max, session.reserve, "{id:?} reserve");
                }
                RuleState::QuickMath(round) => {
                    assert_eq!(round.answers.len(), session.players.len(), "{id:?} seats");
                }
                RuleState::NotStarted | RuleState::ConnectFour(_) | RuleState::Chess(_) => {}
            }
            if live {
                *pots.entry(session.escrow).or_default() += session.pot() + session.reserve;
                for player in &session.players {
                    *seats.entry(player.user).or_default() += 1;
                }
                assert_eq!(games.codes.get(&session.code), Some(id), "code of {id:?}");
                assert!(session.players.len() <= session.max_players as usize);
                assert!(
                    !session.players.is_empty() || session.tournament.is_some(),
                    "a live session has its creator (a tournament match waits for its players)"
                );
                let deadline = session.deadline.expect("a live session has a timer");
                assert!(games.timers.contains(&(deadline, *id)), "timer of {id:?}");
                armed += 1;
            } else {
                assert!(session.deadline.is_none());
                if session.status == GameSessionStatus::Completed {
                    let paid: i64 = session.players.iter().map(|p| p.payout).sum();
                    assert_eq!(
                        paid + session.rake + session.house,
                        session.pot() + session.reserve,
                        "payouts of {id:?}"
                    );
                }
            }
        }
        for (&account, &pot) in &pots {
            let escrow = self.ledger.get(account);
            assert_eq!(
                escrow.available, pot,
                "the games escrow holds the live pots"
            );
            assert_eq!(escrow.locked, 0);
        }
        for (index, account) in self.ledger.accounts.iter().enumerate() {
            if account.owner == Owner::Games {
                let pot = pots.get(&AccountId(index as u64)).copied().unwrap_or(0);
                assert_eq!(
                    account.balance(),
                    pot,
                    "a games escrow without live sessions is empty"
                );
            }
        }
        assert_eq!(seats, games.seats, "seats per user");
        assert_eq!(
            armed,
            games.timers.len(),
            "timers of ended or unknown sessions"
        );
        assert_eq!(games.live.len(), games.codes.len());
        let mut ended = std::collections::BTreeSet::new();
        for id in &games.ended {
            let session = games
                .sessions
                .get(id)
                .expect("the ended window names kept sessions");
            assert!(
                session.status.ended(),
                "{id:?} in the ended window has ended"
            );
            assert!(ended.insert(*id), "{id:?} is in the ended window once");
        }
        assert_eq!(
            ended.len() + games.live.len(),
            games.sessions.len(),
            "every session is live or in the ended window"
        );
    }
}
