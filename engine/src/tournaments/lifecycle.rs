//! A tournament's life and money, in the games family: its matches are game sessions.
//!
//! - Created: the creator's `prize_pool` moves into the tournaments escrow (one account
//!   per currency). Registration is open until `starts_at`: each entrant's `entry_fee`
//!   moves in as they register, and back if they unregister. The creator (or an admin) may
//!   cancel before the start: everything comes back.
//! - At `starts_at` (the engine's clock): with fewer than `min_players` the tournament is
//!   cancelled and refunded; otherwise the entrants are seeded by their rating in the game
//!   (best first; unrated at 1000; then registration order), the game's rake is taken from
//!   the entry fees, and the prize fund is the pool plus the fees less the rake.
//! - Each match whose two players are known becomes a game session at once, with no stake
//!   (the money is the tournament's): only its two players may take its seats, and it
//!   starts when both have. Its server seed is the HMAC-SHA256 of the tournament's secret
//!   seed and the match, so no match's draws can be known before it starts and each is
//!   provably fair like any session.
//! - A session's end is the match's result: its winner (a resignation, an abandoned game and
//!   a flag fall included), a draw (in elimination, the match is played again, up to
//!   [`MATCH_GAMES_MAX`] games; then the better seed goes through), or — when its start
//!   deadline (`check_in_secs`) passes before both sat down — a forfeit by the no-show, or
//!   a double forfeit.
//! - When the bracket is finished the prize fund is paid by the distribution of places
//!   (ties splitting exactly, the indivisible rest to the platform) and the tournament is
//!   completed.

use super::bracket::{Bracket, Format, MatchResult};
use super::prizes;
use super::{Entrant, Tournament};
use crate::Engine;
use crate::ledger::Owner;
use crate::wallet::{MONEY_MOVE_MAX, Reference};
use betbet_protocol::event::{Event, LedgerReason, TxType};
use betbet_protocol::games::{GameSessionId, GameSessionStatus, PlayerStatus, RuleSet};
use betbet_protocol::message::{Created, Reply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::tournaments::{
    CreateTournament, TournamentAction, TournamentChange, TournamentChanged, TournamentFormat,
    TournamentId, TournamentStatus,
};
use betbet_protocol::types::{AccountId, UserId};

/// Games an elimination match may take when they are drawn, before the better seed goes
/// through.
pub const MATCH_GAMES_MAX: usize = 3;
/// Live tournaments at once, and ended ones kept in the core.
pub const TOURNAMENTS_LIVE_MAX: usize = 500;
pub const TOURNAMENTS_KEPT: usize = 200;
pub const TOURNAMENT_NAME_MAX: usize = 100;
/// The largest round robin (496 games); the other formats take up to 256 players.
pub const ROUND_ROBIN_PLAYERS_MAX: u32 = 32;
/// Check-in windows from 10 s to an hour; a start at most 90 days ahead.
pub const CHECK_IN_SECS_MIN: u32 = 10;
pub const CHECK_IN_SECS_MAX: u32 = 3_600;
const STARTS_AHEAD_MAX_MICROS: i64 = 90 * 86_400_000_000;

fn bracket_format(format: TournamentFormat, third_place: bool, rounds: u32) -> Format {
    match format {
        TournamentFormat::SingleElimination => Format::SingleElimination { third_place },
        TournamentFormat::DoubleElimination => Format::DoubleElimination,
        TournamentFormat::RoundRobin => Format::RoundRobin,
        TournamentFormat::Swiss => Format::Swiss {
            rounds: u16::try_from(rounds).unwrap_or(u16::MAX),
        },
    }
}

/// A match's server seed: HMAC-SHA256 of the tournament's secret, the match and its game.
fn match_seed(secret: &[u8; 32], index: u16, game: usize) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(b"betbet tournament match");
    mac.update(&index.to_le_bytes());
    mac.update(&(game as u32).to_le_bytes());
    mac.finalize().into_bytes().into()
}

impl Engine {
    fn tournament_mut(&mut self, id: TournamentId) -> Result<&mut Tournament, ResultCode> {
        self.games
            .tournaments
            .tournaments
            .get_mut(&id)
            .ok_or(ResultCode::TournamentNotFound)
    }

    /// A tournament still taking registrations (its start not passed).
    fn open_tournament(&self, id: TournamentId) -> Result<&Tournament, ResultCode> {
        let t = self
            .games
            .tournaments
            .tournaments
            .get(&id)
            .ok_or(ResultCode::TournamentNotFound)?;
        if t.status != TournamentStatus::Registration || t.starts_at <= self.now {
            return Err(ResultCode::TournamentNotOpen);
        }
        Ok(t)
    }

    /// +1 on the version, and the event.
    fn tournament_changed(
        &mut self,
        id: TournamentId,
        user: UserId,
        (change, match_index, session): (TournamentChange, u16, Option<GameSessionId>),
        out: &mut Vec<Event>,
    ) {
        let t = self
            .games
            .tournaments
            .tournaments
            .get_mut(&id)
            .expect("a changed tournament");
        t.version += 1;
        let t = &self.games.tournaments.tournaments[&id];
        out.push(Event::TournamentChanged(TournamentChanged {
            tournament: id,
            user,
            change,
            match_index: u32::from(match_index),
            session,
            status: t.status,
            version: t.version,
            view: Box::new(self.tournament_view(t)),
        }));
    }

    /// Money between a user's wallet and the tournaments escrow (to the user with
    /// `to_user`), recorded as a transaction of the tournament.
    #[allow(clippy::too_many_arguments)]
    fn tournament_money(
        &mut self,
        id: TournamentId,
        who: (UserId, AccountId),
        escrow: AccountId,
        amount: i64,
        to_user: bool,
        why: (LedgerReason, TxType),
        out: &mut Vec<Event>,
    ) {
        let reference = Reference::Tournament(id.0);
        self.user_money(reference, who, escrow, amount, to_user, why, out);
    }

    pub(crate) fn create_tournament(
        &mut self,
        c: &CreateTournament,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let game = self.games.game(c.game).ok_or(ResultCode::GameNotFound)?;
        if !game.is_active {
            return Err(ResultCode::GameInactive);
        }
        let settings = &game.settings;
        // A match is two players of a game of skill.
        if settings.rule_set == RuleSet::Crash
            || !(settings.min_players..=settings.max_players).contains(&2)
        {
            return Err(ResultCode::InvalidTournament);
        }
        let rake_bp = settings.rake_bp;
        crate::text::line(&c.name, TOURNAMENT_NAME_MAX)?;
        if c.name.trim().is_empty() {
            return Err(ResultCode::InvalidTournament);
        }
        let format = bracket_format(c.format, c.third_place, c.rounds);
        // A round robin of n plays n(n − 1)/2 games: it is for small fields.
        let players_max = match c.format {
            TournamentFormat::RoundRobin => ROUND_ROBIN_PLAYERS_MAX,
            _ => u32::from(super::bracket::ENTRANTS_MAX),
        };
        let sizes_fit = 2 <= c.min_players
            && c.min_players <= c.max_players
            && c.max_players <= players_max
            && c.min_players as usize >= c.distribution_bp.len();
        // Swiss rounds must fit the smallest field it may start with.
        let rounds_fit = match c.format {
            TournamentFormat::Swiss => (1..c.min_players.min(33)).contains(&c.rounds),
            _ => c.rounds == 0,
        };
        let third_place_fits = !c.third_place || c.format == TournamentFormat::SingleElimination;
        if !sizes_fit
            || !rounds_fit
            || !third_place_fits
            || prizes::check_distribution(&c.distribution_bp).is_err()
            || !(CHECK_IN_SECS_MIN..=CHECK_IN_SECS_MAX).contains(&c.check_in_secs)
        {
            return Err(ResultCode::InvalidTournament);
        }
        if c.starts_at <= self.now
            || c.starts_at.0 > self.now.0.saturating_add(STARTS_AHEAD_MAX_MICROS)
        {
            return Err(ResultCode::InvalidTournament);
        }
        let money_fits = |a: i64| (0..=MONEY_MOVE_MAX).contains(&a);
        if !money_fits(c.entry_fee.0) || !money_fits(c.prize_pool.0) {
            return Err(ResultCode::InvalidAmount);
        }
        // The fees of a full field and the pool must fit one escrow's money.
        let most =
            i128::from(c.entry_fee.0) * i128::from(c.max_players) + i128::from(c.prize_pool.0);
        if most > i128::from(MONEY_MOVE_MAX) {
            return Err(ResultCode::InvalidAmount);
        }
        if !self.currency_supported(c.currency) {
            return Err(ResultCode::UnsupportedCurrency);
        }
        if self.games.tournaments.live.len() >= TOURNAMENTS_LIVE_MAX {
            return Err(ResultCode::TooManyTournaments);
        }
        let wallet = self.entry_wallet(c.actor, c.currency, c.prize_pool.0)?;
        debug_assert!(Bracket::new(format, c.min_players as u16).is_ok());

        let tournaments = &mut self.games.tournaments;
        tournaments.next += 1;
        let id = TournamentId(tournaments.next);
        let escrow = self.system_account(Owner::Tournaments, c.currency);
        self.games.tournaments.tournaments.insert(
            id,
            Tournament {
                id,
                game: c.game,
                name: c.name.clone(),
                creator: c.actor,
                creator_wallet: wallet,
                format: c.format,
                third_place: c.third_place,
                rounds: c.rounds,
                entry_fee: c.entry_fee.0,
                prize_pool: c.prize_pool.0,
                currency: c.currency,
                rake_bp,
                max_players: c.max_players,
                min_players: c.min_players,
                starts_at: c.starts_at,
                distribution_bp: c.distribution_bp.clone(),
                check_in_secs: c.check_in_secs,
                server_seed: c.server_seed,
                status: TournamentStatus::Registration,
                escrow,
                entrants: Vec::new(),
                bracket: None,
                plays: Default::default(),
                prizes: Vec::new(),
                prizes_total: 0,
                rake: 0,
                version: 0,
                created_at: self.now,
                started_at: None,
                ended_at: None,
            },
        );
        let tournaments = &mut self.games.tournaments;
        tournaments.live.insert(id);
        tournaments.timers.insert((c.starts_at, id));
        let why = (LedgerReason::TournamentEntry, TxType::Bet);
        self.tournament_money(
            id,
            (c.actor, wallet),
            escrow,
            c.prize_pool.0,
            false,
            why,
            out,
        );
        let change = (TournamentChange::Created, 0, None);
        self.tournament_changed(id, c.actor, change, out);
        Ok(Reply::Created(Created { id: id.0 }))
    }

    pub(crate) fn register_tournament(
        &mut self,
        c: &TournamentAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let t = self.open_tournament(c.tournament)?;
        if t.entrants.iter().any(|e| e.user == c.actor) {
            return Err(ResultCode::AlreadyRegistered);
        }
        if t.entrants.len() >= t.max_players as usize {
            return Err(ResultCode::TournamentFull);
        }
        let (currency, fee, escrow) = (t.currency, t.entry_fee, t.escrow);
        let wallet = self.entry_wallet(c.actor, currency, fee)?;
        let why = (LedgerReason::TournamentEntry, TxType::Bet);
        self.tournament_money(
            c.tournament,
            (c.actor, wallet),
            escrow,
            fee,
            false,
            why,
            out,
        );
        let now = self.now;
        self.tournament_mut(c.tournament)?.entrants.push(Entrant {
            user: c.actor,
            account: wallet,
            registered_at: now,
            rating_milli: 0,
        });
        let change = (TournamentChange::Registered, 0, None);
        self.tournament_changed(c.tournament, c.actor, change, out);
        Ok(crate::done())
    }

    pub(crate) fn unregister_tournament(
        &mut self,
        c: &TournamentAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let t = self.open_tournament(c.tournament)?;
        let at = t
            .entrants
            .iter()
            .position(|e| e.user == c.actor)
            .ok_or(ResultCode::NotRegistered)?;
        let (fee, escrow) = (t.entry_fee, t.escrow);
        let entrant = self.tournament_mut(c.tournament)?.entrants.remove(at);
        let why = (LedgerReason::Refund, TxType::Refund);
        let who = (entrant.user, entrant.account);
        self.tournament_money(c.tournament, who, escrow, fee, true, why, out);
        let change = (TournamentChange::Unregistered, 0, None);
        self.tournament_changed(c.tournament, c.actor, change, out);
        Ok(crate::done())
    }

    pub(crate) fn cancel_tournament(
        &mut self,
        c: &TournamentAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let t = self
            .games
            .tournaments
            .tournaments
            .get(&c.tournament)
            .ok_or(ResultCode::TournamentNotFound)?;
        if t.creator != c.actor && !self.is_admin(c.actor) {
            return Err(ResultCode::NotTournamentCreator);
        }
        self.open_tournament(c.tournament)?;
        self.cancel_unstarted_tournament(c.tournament, c.actor, out);
        Ok(crate::done())
    }

    /// The creator (or an admin) starts the tournament before `starts_at`, once it has its
    /// minimum of players.
    pub(crate) fn start_tournament_early(
        &mut self,
        c: &TournamentAction,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let t = self.open_tournament(c.tournament)?;
        if t.creator != c.actor && !self.is_admin(c.actor) {
            return Err(ResultCode::NotTournamentCreator);
        }
        if t.entrants.len() < t.min_players as usize {
            return Err(ResultCode::NotEnoughPlayers);
        }
        let starts_at = t.starts_at;
        self.games
            .tournaments
            .timers
            .remove(&(starts_at, c.tournament));
        self.start_tournament(c.tournament, out);
        Ok(crate::done())
    }

    /// Every fee and the pool back; cancelled.
    fn cancel_unstarted_tournament(
        &mut self,
        id: TournamentId,
        actor: UserId,
        out: &mut Vec<Event>,
    ) {
        let t = &self.games.tournaments.tournaments[&id];
        let (fee, escrow, pool) = (t.entry_fee, t.escrow, t.prize_pool);
        let creator = (t.creator, t.creator_wallet);
        let entrants: Vec<(UserId, AccountId)> =
            t.entrants.iter().map(|e| (e.user, e.account)).collect();
        let why = (LedgerReason::Refund, TxType::Refund);
        for who in entrants {
            self.tournament_money(id, who, escrow, fee, true, why, out);
        }
        self.tournament_money(id, creator, escrow, pool, true, why, out);
        self.end_tournament(id, TournamentStatus::Cancelled, actor, out);
    }

    /// Out of the live set and the timers, into the ended window.
    fn end_tournament(
        &mut self,
        id: TournamentId,
        status: TournamentStatus,
        actor: UserId,
        out: &mut Vec<Event>,
    ) {
        let now = self.now;
        let tournaments = &mut self.games.tournaments;
        let t = tournaments
            .tournaments
            .get_mut(&id)
            .expect("a live tournament");
        t.status = status;
        t.ended_at = Some(now);
        let starts_at = t.starts_at;
        tournaments.timers.remove(&(starts_at, id));
        tournaments.live.remove(&id);
        tournaments.ended.push_back(id);
        let change = match status {
            TournamentStatus::Cancelled => TournamentChange::Cancelled,
            _ => TournamentChange::Completed,
        };
        self.tournament_changed(id, actor, (change, 0, None), out);
        let tournaments = &mut self.games.tournaments;
        while tournaments.ended.len() > TOURNAMENTS_KEPT {
            let old = tournaments.ended.pop_front().expect("non-empty");
            tournaments.tournaments.remove(&old);
        }
    }

    /// Tournaments whose start is due: cancelled with too few players, else seeded and
    /// begun.
    pub(crate) fn run_tournament_timers(&mut self, out: &mut Vec<Event>) {
        let now = self.now;
        while let Some(&(at, id)) = self.games.tournaments.timers.first() {
            if at > now {
                break;
            }
            self.games.tournaments.timers.remove(&(at, id));
            let t = &self.games.tournaments.tournaments[&id];
            if t.entrants.len() < t.min_players as usize {
                self.cancel_unstarted_tournament(id, UserId::SYSTEM, out);
            } else {
                self.start_tournament(id, out);
            }
        }
    }

    fn start_tournament(&mut self, id: TournamentId, out: &mut Vec<Event>) {
        let now = self.now;
        let game = self.games.tournaments.tournaments[&id].game;
        let ratings: Vec<i64> = self.games.tournaments.tournaments[&id]
            .entrants
            .iter()
            .map(|e| {
                self.games
                    .ratings
                    .get(&(e.user, game))
                    .map_or(super::rating::RATING_DEFAULT * 1_000, |r| {
                        r.rating.rating_milli
                    })
            })
            .collect();
        let fees_account = self.system_account(
            Owner::Fees,
            self.games.tournaments.tournaments[&id].currency,
        );
        let t = self
            .games
            .tournaments
            .tournaments
            .get_mut(&id)
            .expect("live");
        for (entrant, rating) in t.entrants.iter_mut().zip(ratings) {
            entrant.rating_milli = rating;
        }
        // Seeds: the best rating first, then the earliest registration.
        t.entrants
            .sort_by_key(|e| (-e.rating_milli, e.registered_at, e.user));
        let fees = t.entry_fee * t.entrants.len() as i64;
        let rake = (i128::from(fees) * i128::from(t.rake_bp) / 10_000) as i64;
        t.rake = rake;
        t.prizes_total = t.prize_pool + fees - rake;
        let format = bracket_format(t.format, t.third_place, t.rounds);
        let field = t.entrants.len() as u16;
        t.bracket = Some(Bracket::new(format, field).expect("a field the tournament admits"));
        t.status = TournamentStatus::Running;
        t.started_at = Some(now);
        let escrow = t.escrow;
        if rake > 0 {
            self.ledger.transfer(
                escrow,
                fees_account,
                rake,
                false,
                LedgerReason::PlatformFee,
                id.0,
                out,
            );
        }
        self.tournament_changed(
            id,
            UserId::SYSTEM,
            (TournamentChange::Started, 0, None),
            out,
        );
        self.advance_tournament(id, out);
    }

    /// Opens a session for every playable match that has none live; completes the
    /// tournament when its bracket is finished.
    fn advance_tournament(&mut self, id: TournamentId, out: &mut Vec<Event>) {
        let t = &self.games.tournaments.tournaments[&id];
        let bracket = t.bracket.as_ref().expect("a running tournament's bracket");
        if bracket.is_finished() {
            return self.complete_tournament(id, out);
        }
        // Round robin and Swiss play a round at a time: a player has one game at once, as in
        // elimination, where a match is playable only once its players' last one ended.
        let round = (!bracket.format.is_elimination()).then(|| bracket.current_round());
        let waiting: Vec<u16> = bracket
            .playable()
            .filter(|&index| round.is_none_or(|r| bracket.matches[usize::from(index)].round == r))
            .filter(|index| {
                t.plays
                    .get(index)
                    .and_then(|p| p.last())
                    .is_none_or(|s| self.games.sessions.get(s).is_none_or(|s| s.status.ended()))
            })
            .collect();
        for index in waiting {
            self.open_match(id, index, out);
        }
    }

    fn open_match(&mut self, id: TournamentId, index: u16, out: &mut Vec<Event>) {
        let t = &self.games.tournaments.tournaments[&id];
        let played = t.plays.get(&index).map_or(0, Vec::len);
        let seed = match_seed(&t.server_seed, index, played);
        let players = t.bracket.as_ref().expect("running").matches[usize::from(index)]
            .players()
            .expect("a playable match");
        let users = players.map(|s| t.entrants[usize::from(s) - 1].user);
        let (game, currency, check_in) = (t.game, t.currency, t.check_in_secs);
        let session =
            self.open_match_session(game, currency, (id, index), users, seed, check_in, out);
        let t = self
            .games
            .tournaments
            .tournaments
            .get_mut(&id)
            .expect("live");
        t.plays.entry(index).or_default().push(session);
        let change = (TournamentChange::MatchReady, index, Some(session));
        self.tournament_changed(id, UserId::SYSTEM, change, out);
    }

    /// A tournament match's session ended (played, or expired before both sat down): its
    /// result into the bracket, and on.
    pub(crate) fn match_session_ended(&mut self, session: GameSessionId, out: &mut Vec<Event>) {
        let s = &self.games.sessions[&session];
        let Some((id, index)) = s.tournament else {
            return;
        };
        let t = &self.games.tournaments.tournaments[&id];
        let players = t.bracket.as_ref().expect("running").matches[usize::from(index)]
            .players()
            .expect("a match being played has its players");
        let users = players.map(|seed| t.entrants[usize::from(seed) - 1].user);
        let side_of = |user: UserId| u8::from(users[1] == user);
        let elimination = bracket_format(t.format, t.third_place, t.rounds).is_elimination();
        let games = t.plays.get(&index).map_or(0, Vec::len);
        let result = match s.status {
            GameSessionStatus::Completed => {
                let winner = s.players.iter().find(|p| p.status == PlayerStatus::Won);
                match winner {
                    Some(p) => MatchResult::Won(side_of(p.user)),
                    None if !elimination => MatchResult::Drawn,
                    // A drawn elimination match is played again, up to its limit; then
                    // the better seed (side 0 has the lower number in the first round,
                    // not always later) goes through.
                    None if games < MATCH_GAMES_MAX => {
                        self.open_match(id, index, out);
                        return;
                    }
                    None => MatchResult::Won(u8::from(players[1] < players[0])),
                }
            }
            _ => match s.players.first() {
                // Only one of them sat down: the other did not show.
                Some(p) => MatchResult::Won(side_of(p.user)),
                None => MatchResult::DoubleForfeit,
            },
        };
        let t = self
            .games
            .tournaments
            .tournaments
            .get_mut(&id)
            .expect("live");
        t.bracket
            .as_mut()
            .expect("running")
            .record(index, result)
            .expect("a match being played takes its result");
        let change = (TournamentChange::MatchEnded, index, Some(session));
        self.tournament_changed(id, UserId::SYSTEM, change, out);
        self.advance_tournament(id, out);
    }

    /// Pays the prizes by the final standings and ends the tournament.
    fn complete_tournament(&mut self, id: TournamentId, out: &mut Vec<Event>) {
        let t = &self.games.tournaments.tournaments[&id];
        let standings = t.bracket.as_ref().expect("finished").standings();
        // By seed: standings come sorted by place.
        let mut places = vec![0u16; t.entrants.len()];
        for s in &standings {
            places[usize::from(s.seed) - 1] = s.place;
        }
        let (prizes, rest) = prizes::distribute(t.prizes_total, &t.distribution_bp, &places);
        let escrow = t.escrow;
        let winners: Vec<(UserId, AccountId)> =
            t.entrants.iter().map(|e| (e.user, e.account)).collect();
        let fees = self.system_account(Owner::Fees, t.currency);
        let why = (LedgerReason::TournamentPrize, TxType::Payout);
        for (&who, &prize) in winners.iter().zip(&prizes) {
            self.tournament_money(id, who, escrow, prize, true, why, out);
        }
        if rest > 0 {
            self.ledger.transfer(
                escrow,
                fees,
                rest,
                false,
                LedgerReason::PlatformFee,
                id.0,
                out,
            );
        }
        let t = self
            .games
            .tournaments
            .tournaments
            .get_mut(&id)
            .expect("live");
        t.rake += rest;
        t.prizes = prizes;
        self.end_tournament(id, TournamentStatus::Completed, UserId::SYSTEM, out);
    }

    /// What the tournaments escrow of each currency must hold: every live tournament's
    /// pool and fees before its start, its prize fund while it runs.
    pub(crate) fn check_tournaments(&self) {
        let tournaments = &self.games.tournaments;
        let mut held: std::collections::BTreeMap<AccountId, i64> = Default::default();
        let mut timers = 0;
        for (id, t) in &tournaments.tournaments {
            assert_eq!(*id, t.id);
            let live = matches!(
                t.status,
                TournamentStatus::Registration | TournamentStatus::Running
            );
            assert_eq!(tournaments.live.contains(id), live, "live set of {id:?}");
            assert_eq!(self.ledger.get(t.escrow).owner, Owner::Tournaments);
            assert!(t.entrants.len() <= t.max_players as usize);
            match t.status {
                TournamentStatus::Registration => {
                    assert!(tournaments.timers.contains(&(t.starts_at, *id)));
                    timers += 1;
                    assert!(t.bracket.is_none());
                    *held.entry(t.escrow).or_default() +=
                        t.prize_pool + t.entry_fee * t.entrants.len() as i64;
                }
                TournamentStatus::Running => {
                    let bracket = t.bracket.as_ref().expect("a running bracket");
                    assert_eq!(usize::from(bracket.entrants), t.entrants.len());
                    assert!(!bracket.is_finished(), "{id:?} would have completed");
                    let fees = t.entry_fee * t.entrants.len() as i64;
                    assert_eq!(t.prizes_total + t.rake, t.prize_pool + fees);
                    *held.entry(t.escrow).or_default() += t.prizes_total;
                    // Every playable match (of the round being played, in round robin
                    // and Swiss) has a live session, and every live match session is a
                    // playable match's last.
                    let round = (!bracket.format.is_elimination()).then(|| bracket.current_round());
                    for index in bracket.playable() {
                        let m = &bracket.matches[usize::from(index)];
                        if round.is_some_and(|r| m.round != r) {
                            assert!(!t.plays.contains_key(&index), "a later round's match waits");
                            continue;
                        }
                        let session = t.plays[&index].last().expect("a session");
                        let s = &self.games.sessions[session];
                        assert!(!s.status.ended(), "{id:?} match {index} has a live session");
                        assert_eq!(s.tournament, Some((*id, index)));
                    }
                }
                TournamentStatus::Completed => {
                    // Every unit of the pool and the fees went to a prize or the platform.
                    let paid: i64 = t.prizes.iter().sum();
                    let fees = t.entry_fee * t.entrants.len() as i64;
                    assert_eq!(paid + t.rake, t.prize_pool + fees, "{id:?} paid out");
                }
                TournamentStatus::Cancelled => {}
            }
        }
        assert_eq!(
            timers,
            tournaments.timers.len(),
            "timers of live tournaments only"
        );
        // A live match session is the current session of a playable match of a running
        // tournament (so its end always finds its match).
        for (id, session) in &self.games.sessions {
            let (Some((tournament, index)), false) = (session.tournament, session.status.ended())
            else {
                continue;
            };
            let t = &tournaments.tournaments[&tournament];
            assert_eq!(
                t.status,
                TournamentStatus::Running,
                "{id:?} of {tournament:?}"
            );
            let bracket = t.bracket.as_ref().expect("running");
            let m = &bracket.matches[usize::from(index)];
            assert!(m.is_playable(), "{id:?} plays a match waiting for its game");
            assert_eq!(
                t.plays[&index].last(),
                Some(id),
                "{id:?} is its match's current"
            );
        }
        for (index, account) in self.ledger.accounts.iter().enumerate() {
            if account.owner == Owner::Tournaments {
                let expected = held.get(&AccountId(index as u64)).copied().unwrap_or(0);
                assert_eq!(account.available, expected, "the tournaments escrow");
                assert_eq!(account.locked, 0);
            }
        }
        for id in &tournaments.ended {
            assert!(tournaments.tournaments.contains_key(id));
        }
        let highest = tournaments
            .tournaments
            .keys()
            .next_back()
            .map_or(0, |i| i.0);
        assert!(
            tournaments.next >= highest,
            "tournament ids are never reused"
        );
    }
}
