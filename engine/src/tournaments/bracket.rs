//! A tournament's matches as a graph: every side of every match says where its player
//! comes from — "seed N", "a bye", "the winner of match X" or "the loser of match X" — so
//! a client can draw the whole bracket before a game is played, and a result fills the
//! sides that name its match.
//!
//! - Single elimination: the field padded to a power of two with byes that go to the top
//!   seeds (1 v 8, 4 v 5, 3 v 6, 2 v 7 for eight; [`seed_order`]), optionally a match for
//!   third place between the semi-finals' losers.
//! - Double elimination: the same winners' bracket; its losers drop into a losers'
//!   bracket (in reversed or half-swapped order, so nobody meets the player who sent them
//!   down at once); the losers' champion meets the winners' champion in a grand final,
//!   which is played again (the reset) when the losers' champion wins it, since only then
//!   has each lost once.
//! - Round robin: every pair once, by the circle method (Berger tables): one player fixed,
//!   the rest rotating; with an odd field one player rests each round. Who moves first
//!   alternates, so each player moves first in half their games (within one).
//! - Swiss: a set number of rounds, each paired when the one before has ended: by score,
//!   the top half of a score group against its bottom half, never a rematch; with an odd
//!   field the lowest-ranked player without a bye gets one, worth a win. When no pairing
//!   without a rematch exists the tournament ends after the rounds played.
//!
//! A side of a later match can turn out empty (the loser of a bye, a double forfeit):
//! a match with one player is a walkover, one with none is void — neither is a game. In
//! the first round no bye ever meets a bye, since the byes are fewer than half the field.
//!
//! Seeds are 1-based, in the order the tournament ranks its entrants (by skill rating,
//! or by registration when unrated). Everything here is deterministic: the same entrants
//! and results always give the same graph.

/// The largest field.
pub const ENTRANTS_MAX: u16 = 256;
/// The most Swiss rounds.
pub const SWISS_ROUNDS_MAX: u16 = 32;
/// The most candidate opponents the Swiss pairing search tries for one round before it
/// gives up (the tournament then ends after the rounds played).
const PAIRING_NODES_MAX: u32 = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    SingleElimination { third_place: bool },
    DoubleElimination,
    RoundRobin,
    Swiss { rounds: u16 },
}

impl Format {
    pub fn is_elimination(self) -> bool {
        matches!(
            self,
            Format::SingleElimination { .. } | Format::DoubleElimination
        )
    }
}

/// Where a side's player comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Seed(u16),
    Bye,
    Winner(u16),
    Loser(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The (only) bracket of single elimination, the winners' of double.
    Winners,
    Losers,
    ThirdPlace,
    GrandFinal,
    /// The grand final's second game, played only when the losers' champion won the first.
    Reset,
    /// A round of round robin or Swiss.
    Round,
}

/// A side once its slot is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Its source match has not ended.
    Pending,
    /// Nobody: a bye, or the winner or loser of a match that had none.
    Empty,
    Player(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchResult {
    /// The side (0 or 1) won the game, or the other side forfeited.
    Won(u8),
    /// A round robin or Swiss game drawn (an elimination match cannot end drawn).
    Drawn,
    /// Neither side showed: both lose, and in elimination nobody advances.
    DoubleForfeit,
    /// The side had no opponent (in Swiss, a bye: worth a win).
    Walkover(u8),
    /// Nobody on either side, or a reset the grand final made unnecessary.
    Void,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub stage: Stage,
    /// 1-based, within the stage.
    pub round: u16,
    pub slots: [Slot; 2],
    pub sides: [Entry; 2],
    pub result: Option<MatchResult>,
}

impl Match {
    fn new(stage: Stage, round: u16, slots: [Slot; 2]) -> Match {
        Match {
            stage,
            round,
            slots,
            sides: [Entry::Pending; 2],
            result: None,
        }
    }

    /// Both players known and no result yet: a game to play.
    pub fn is_playable(&self) -> bool {
        self.result.is_none() && self.players().is_some()
    }

    /// The two players, once both sides hold one.
    pub fn players(&self) -> Option<[u16; 2]> {
        match self.sides {
            [Entry::Player(a), Entry::Player(b)] => Some([a, b]),
            _ => None,
        }
    }

    /// Who goes on from an ended match, as its winner and as its loser.
    fn outcome(&self) -> Option<(Entry, Entry)> {
        Some(match self.result? {
            MatchResult::Won(side) => (
                self.sides[usize::from(side)],
                self.sides[usize::from(1 - side)],
            ),
            MatchResult::Walkover(side) => (self.sides[usize::from(side)], Entry::Empty),
            MatchResult::Drawn | MatchResult::DoubleForfeit | MatchResult::Void => {
                (Entry::Empty, Entry::Empty)
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BracketError {
    /// Fewer than two entrants or more than [`ENTRANTS_MAX`].
    FieldSize,
    /// Swiss rounds outside 1 ..= min(entrants − 1, [`SWISS_ROUNDS_MAX`]).
    Rounds,
    /// The match is not waiting for a game, or the result does not fit it (a draw in
    /// elimination, a walkover between two players).
    NotPlayable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bracket {
    pub format: Format,
    pub entrants: u16,
    pub matches: Vec<Match>,
    /// Swiss: the rounds paired so far; when pairing failed, the tournament ended there.
    pub rounds_paired: u16,
    pub ended_early: bool,
}

/// The first round's seeds, top to bottom, for a power-of-two field: each round's order
/// splits every seed s into s against (2n + 1 − s), mirrored on every other line, so the
/// top two seeds can meet only in the final, the top four only in the semi-finals, …
pub fn seed_order(size: u16) -> Vec<u16> {
    assert!(size.is_power_of_two() && size >= 2);
    let mut order = vec![1u16];
    while order.len() < usize::from(size) {
        let next = 2 * order.len() as u16 + 1;
        order = order
            .iter()
            .enumerate()
            .flat_map(|(line, &s)| {
                if line % 2 == 0 {
                    [s, next - s]
                } else {
                    [next - s, s]
                }
            })
            .collect();
    }
    order
}

impl Bracket {
    pub fn new(format: Format, entrants: u16) -> Result<Bracket, BracketError> {
        if !(2..=ENTRANTS_MAX).contains(&entrants) {
            return Err(BracketError::FieldSize);
        }
        if let Format::Swiss { rounds } = format
            && !(1..=(entrants - 1).min(SWISS_ROUNDS_MAX)).contains(&rounds)
        {
            return Err(BracketError::Rounds);
        }
        let mut bracket = Bracket {
            format,
            entrants,
            matches: Vec::new(),
            rounds_paired: 0,
            ended_early: false,
        };
        match format {
            Format::SingleElimination { third_place } => bracket.elimination(third_place, false),
            Format::DoubleElimination => bracket.elimination(false, true),
            Format::RoundRobin => bracket.round_robin(),
            Format::Swiss { .. } => {}
        }
        bracket.resolve();
        Ok(bracket)
    }

    fn push(&mut self, stage: Stage, round: u16, slots: [Slot; 2]) -> u16 {
        self.matches.push(Match::new(stage, round, slots));
        (self.matches.len() - 1) as u16
    }

    /// The winners' bracket, then (double) the losers' bracket and the grand final with its
    /// reset, or (single, if asked) the third-place match. Every match comes after the
    /// matches it names, so one pass in order resolves the graph.
    fn elimination(&mut self, third_place: bool, double: bool) {
        let size = self.entrants.next_power_of_two();
        let rounds = size.trailing_zeros() as u16;
        let slot = |seed: u16| {
            if seed <= self.entrants {
                Slot::Seed(seed)
            } else {
                Slot::Bye
            }
        };
        // The better seed of each first-round pair takes the first side (it moves first).
        let first: Vec<[Slot; 2]> = seed_order(size)
            .chunks(2)
            .map(|pair| [slot(pair[0].min(pair[1])), slot(pair[0].max(pair[1]))])
            .collect();
        let mut winners: Vec<Vec<u16>> = Vec::new();
        winners.push(
            first
                .into_iter()
                .map(|slots| self.push(Stage::Winners, 1, slots))
                .collect(),
        );
        for round in 2..=rounds {
            let previous = winners.last().expect("a first round").clone();
            let matches = previous
                .chunks(2)
                .map(|pair| {
                    let slots = [Slot::Winner(pair[0]), Slot::Winner(pair[1])];
                    self.push(Stage::Winners, round, slots)
                })
                .collect();
            winners.push(matches);
        }
        let final_match = winners[usize::from(rounds) - 1][0];
        if !double {
            if third_place && rounds >= 2 {
                let semis = &winners[usize::from(rounds) - 2];
                let slots = [Slot::Loser(semis[0]), Slot::Loser(semis[1])];
                // After the final in the list: both come from the semi-finals.
                self.push(Stage::ThirdPlace, 1, slots);
            }
            return;
        }
        // The losers' bracket: round 1 pairs the first round's losers; each even round
        // takes the next winners' round's losers against the survivors, each odd round
        // halves the survivors.
        let mut survivors: Vec<u16> = Vec::new();
        let mut round = 0;
        if rounds >= 2 {
            round = 1;
            survivors = winners[0]
                .chunks(2)
                .map(|pair| {
                    let slots = [Slot::Loser(pair[0]), Slot::Loser(pair[1])];
                    self.push(Stage::Losers, 1, slots)
                })
                .collect();
            for (drop, winners_round) in winners.iter().enumerate().skip(1) {
                let mut dropped = winners_round.clone();
                if drop % 2 == 1 {
                    dropped.reverse();
                } else if dropped.len() >= 2 {
                    let half = dropped.len() / 2;
                    dropped.rotate_left(half);
                }
                round += 1;
                survivors = survivors
                    .iter()
                    .zip(&dropped)
                    .map(|(&survivor, &loser)| {
                        let slots = [Slot::Winner(survivor), Slot::Loser(loser)];
                        self.push(Stage::Losers, round, slots)
                    })
                    .collect();
                if survivors.len() >= 2 {
                    round += 1;
                    survivors = survivors
                        .chunks(2)
                        .map(|pair| {
                            let slots = [Slot::Winner(pair[0]), Slot::Winner(pair[1])];
                            self.push(Stage::Losers, round, slots)
                        })
                        .collect();
                }
            }
        }
        let challenger = match survivors.as_slice() {
            [last] => Slot::Winner(*last),
            _ => Slot::Loser(final_match),
        };
        debug_assert!(round == 0 || round == 2 * (rounds - 1));
        let slots = [Slot::Winner(final_match), challenger];
        self.push(Stage::GrandFinal, 1, slots);
        self.push(Stage::Reset, 1, slots);
    }

    /// The circle method: position 0 fixed, the others rotating one step a round; table i
    /// pairs position i with position n − 1 − i. An odd field gets a resting position.
    fn round_robin(&mut self) {
        let n = self.entrants + self.entrants % 2;
        let mut positions: Vec<u16> = (1..=n).collect();
        for round in 0..n - 1 {
            for table in 0..n / 2 {
                let (a, b) = (
                    positions[usize::from(table)],
                    positions[usize::from(n - 1 - table)],
                );
                if a > self.entrants || b > self.entrants {
                    continue;
                }
                let (first, second) = if table == 0 && round % 2 == 1 {
                    (b, a)
                } else {
                    (a, b)
                };
                self.push(
                    Stage::Round,
                    round + 1,
                    [Slot::Seed(first), Slot::Seed(second)],
                );
            }
            positions[1..].rotate_right(1);
        }
        self.rounds_paired = n - 1;
    }

    /// Fills every side whose source has ended, settles walkovers and void matches, and
    /// pairs the next Swiss round when one has ended; until nothing changes.
    fn resolve(&mut self) {
        loop {
            let mut changed = false;
            for index in 0..self.matches.len() {
                if self.matches[index].result.is_some() {
                    continue;
                }
                if self.matches[index].stage == Stage::Reset {
                    // The reset's sides are the grand final's, if the challenger won it.
                    let grand_final = &self.matches[index - 1];
                    match grand_final.result {
                        None => continue,
                        Some(MatchResult::Won(1)) => {
                            self.matches[index].sides = grand_final.sides;
                        }
                        Some(_) => {
                            self.matches[index].result = Some(MatchResult::Void);
                            changed = true;
                            continue;
                        }
                    }
                }
                for side in 0..2 {
                    if self.matches[index].sides[side] != Entry::Pending {
                        continue;
                    }
                    let entry = match self.matches[index].slots[side] {
                        Slot::Seed(seed) => Entry::Player(seed),
                        Slot::Bye => Entry::Empty,
                        Slot::Winner(source) => self.matches[usize::from(source)]
                            .outcome()
                            .map_or(Entry::Pending, |(winner, _)| winner),
                        Slot::Loser(source) => self.matches[usize::from(source)]
                            .outcome()
                            .map_or(Entry::Pending, |(_, loser)| loser),
                    };
                    if entry != Entry::Pending {
                        self.matches[index].sides[side] = entry;
                        changed = true;
                    }
                }
                let result = match self.matches[index].sides {
                    [Entry::Empty, Entry::Empty] => Some(MatchResult::Void),
                    [Entry::Player(_), Entry::Empty] => Some(MatchResult::Walkover(0)),
                    [Entry::Empty, Entry::Player(_)] => Some(MatchResult::Walkover(1)),
                    _ => None,
                };
                if result.is_some() {
                    self.matches[index].result = result;
                    changed = true;
                }
            }
            if let Format::Swiss { rounds } = self.format
                && !self.ended_early
                && self.rounds_paired < rounds
                && self.matches.iter().all(|m| m.result.is_some())
            {
                self.pair_swiss_round();
                changed = true;
            }
            if !changed {
                return;
            }
        }
    }

    /// Records a game's result (or a forfeit) for a playable match.
    pub fn record(&mut self, index: u16, result: MatchResult) -> Result<(), BracketError> {
        let m = self
            .matches
            .get(usize::from(index))
            .ok_or(BracketError::NotPlayable)?;
        let fits = match result {
            MatchResult::Won(side) => side <= 1,
            MatchResult::Drawn => !self.format.is_elimination(),
            MatchResult::DoubleForfeit => true,
            MatchResult::Walkover(_) | MatchResult::Void => false,
        };
        if !m.is_playable() || !fits {
            return Err(BracketError::NotPlayable);
        }
        self.matches[usize::from(index)].result = Some(result);
        self.resolve();
        Ok(())
    }

    /// The matches waiting for a game.
    pub fn playable(&self) -> impl Iterator<Item = u16> + '_ {
        (0..self.matches.len() as u16).filter(|&i| self.matches[usize::from(i)].is_playable())
    }

    /// Every match has a result and no round is left to pair.
    pub fn is_finished(&self) -> bool {
        let paired = match self.format {
            Format::Swiss { rounds } => self.ended_early || self.rounds_paired == rounds,
            _ => true,
        };
        paired && self.matches.iter().all(|m| m.result.is_some())
    }

    /// The earliest round with a match not ended, per stage order (0 once finished).
    pub fn current_round(&self) -> u16 {
        self.matches
            .iter()
            .find(|m| m.result.is_none())
            .map_or(0, |m| m.round)
    }

    /// Who has met whom (a match with both sides players, ended or not), as a square of
    /// flags indexed by seed.
    fn met(&self) -> Met {
        let n = usize::from(self.entrants) + 1;
        let mut met = Met {
            n,
            flags: vec![false; n * n],
        };
        for [a, b] in self.matches.iter().filter_map(Match::players) {
            met.flags[usize::from(a) * n + usize::from(b)] = true;
            met.flags[usize::from(b) * n + usize::from(a)] = true;
        }
        met
    }

    fn had_bye(&self, seed: u16) -> bool {
        self.matches
            .iter()
            .any(|m| m.slots == [Slot::Seed(seed), Slot::Bye])
    }

    fn first_moves(&self, seed: u16) -> usize {
        self.matches
            .iter()
            .filter(|m| m.slots[0] == Slot::Seed(seed) && m.slots[1] != Slot::Bye)
            .count()
    }

    /// Pairs the next Swiss round: the bye (if the field is odd) to the lowest-ranked
    /// player without one for whom the rest can still be paired, then a depth-first
    /// search for a pairing without rematches that prefers, for the highest unpaired
    /// player, the player half a score group below, then the rest of the group, then lower
    /// groups.
    fn pair_swiss_round(&mut self) {
        let standings = self.standings();
        // Rank order: points, then seed (the standings' tiebreaks do not pair).
        let mut ranked: Vec<(u32, u16)> =
            standings.iter().map(|s| (s.points_half, s.seed)).collect();
        ranked.sort_by_key(|&(points, seed)| (std::cmp::Reverse(points), seed));
        let round = self.rounds_paired + 1;
        let met = self.met();
        let mut budget = PAIRING_NODES_MAX;
        let pairing = if ranked.len() % 2 == 1 {
            (0..ranked.len()).rev().find_map(|bye| {
                let seed = ranked[bye].1;
                if self.had_bye(seed) {
                    return None;
                }
                let mut rest = ranked.clone();
                rest.remove(bye);
                pair(&met, &rest, &mut budget).map(|pairs| (pairs, Some(seed)))
            })
        } else {
            pair(&met, &ranked, &mut budget).map(|pairs| (pairs, None))
        };
        let Some((pairs, bye)) = pairing else {
            self.ended_early = true;
            return;
        };
        for (a, b) in pairs {
            // Who moves first: whoever has moved first less; else the higher-ranked in
            // odd rounds.
            let (fa, fb) = (self.first_moves(a), self.first_moves(b));
            let a_first = fa < fb || (fa == fb && round % 2 == 1);
            let slots = if a_first {
                [Slot::Seed(a), Slot::Seed(b)]
            } else {
                [Slot::Seed(b), Slot::Seed(a)]
            };
            self.push(Stage::Round, round, slots);
        }
        if let Some(seed) = bye {
            self.push(Stage::Round, round, [Slot::Seed(seed), Slot::Bye]);
        }
        self.rounds_paired = round;
    }

    /// Every entrant's standing: place (tied entrants share it), record and tiebreaks.
    ///
    /// Elimination ranks by how far each got (champion, runner-up, the third-place match,
    /// then the round each was knocked out in, tied within it); round robin by points
    /// then Sonneborn–Berger; Swiss by points, then Buchholz (the sum of the opponents'
    /// points), then Sonneborn–Berger (the points of the opponents beaten, and half of
    /// those drawn). A win is 1 point and a draw ½ (a Swiss bye is a win with no
    /// opponent, and adds nothing to Buchholz).
    pub fn standings(&self) -> Vec<Standing> {
        let n = usize::from(self.entrants);
        let mut table: Vec<Standing> = (1..=self.entrants)
            .map(|seed| Standing {
                seed,
                place: 0,
                wins: 0,
                draws: 0,
                losses: 0,
                points_half: 0,
                buchholz_half: 0,
                sonneborn_berger_quarter: 0,
                reached: 0,
            })
            .collect();
        let at = |seed: u16| usize::from(seed) - 1;
        for m in &self.matches {
            let Some(result) = m.result else { continue };
            let [a, b] = m.sides;
            let (a, b) = match (a, b) {
                (Entry::Player(a), Entry::Player(b)) => (Some(a), Some(b)),
                (Entry::Player(a), _) => (Some(a), None),
                (_, Entry::Player(b)) => (None, Some(b)),
                _ => (None, None),
            };
            let sides = [a, b];
            match result {
                MatchResult::Won(side) => {
                    let (w, l) = (sides[usize::from(side)], sides[usize::from(1 - side)]);
                    let (w, l) = (w.expect("a winner"), l.expect("a loser"));
                    table[at(w)].wins += 1;
                    table[at(w)].points_half += 2;
                    table[at(l)].losses += 1;
                }
                MatchResult::Drawn => {
                    for seed in sides.into_iter().flatten() {
                        table[at(seed)].draws += 1;
                        table[at(seed)].points_half += 1;
                    }
                }
                MatchResult::DoubleForfeit => {
                    for seed in sides.into_iter().flatten() {
                        table[at(seed)].losses += 1;
                    }
                }
                MatchResult::Walkover(side) => {
                    // A Swiss bye counts as a win; an elimination walkover only advances.
                    if matches!(self.format, Format::Swiss { .. }) {
                        let seed = sides[usize::from(side)].expect("a walkover's player");
                        table[at(seed)].wins += 1;
                        table[at(seed)].points_half += 2;
                    }
                }
                MatchResult::Void => {}
            }
        }
        if self.format.is_elimination() {
            self.reached(&mut table);
        } else {
            let points: Vec<u32> = table.iter().map(|s| s.points_half).collect();
            for m in &self.matches {
                let (Some([a, b]), Some(result)) = (m.players(), m.result) else {
                    continue;
                };
                // Quarter points: the opponent's half points times 2 for a win, 1 for a
                // draw.
                let (score_a, score_b) = match result {
                    MatchResult::Won(0) => (2, 0),
                    MatchResult::Won(_) => (0, 2),
                    MatchResult::Drawn => (1, 1),
                    _ => (0, 0),
                };
                table[at(a)].buchholz_half += points[at(b)];
                table[at(b)].buchholz_half += points[at(a)];
                table[at(a)].sonneborn_berger_quarter += score_a * points[at(b)];
                table[at(b)].sonneborn_berger_quarter += score_b * points[at(a)];
            }
        }
        let swiss = matches!(self.format, Format::Swiss { .. });
        let key = |s: &Standing| -> (u32, u32, u32) {
            if self.format.is_elimination() {
                (s.reached, 0, 0)
            } else if swiss {
                (s.points_half, s.buchholz_half, s.sonneborn_berger_quarter)
            } else {
                (s.points_half, s.sonneborn_berger_quarter, 0)
            }
        };
        let keys: Vec<(u32, u32, u32)> = table.iter().map(key).collect();
        for i in 0..n {
            table[i].place = 1 + keys.iter().filter(|&&k| k > keys[i]).count() as u16;
        }
        table.sort_by_key(|s| (s.place, s.seed));
        table
    }

    /// How far each elimination entrant got, as a rank (higher is better): knocked out in
    /// winners' round r (single) or losers' round r (double) → r; the third-place match's
    /// loser and winner, the runner-up and the champion above every round; still in →
    /// above everyone knocked out.
    fn reached(&self, table: &mut [Standing]) {
        const IN: u32 = 500;
        const THIRD_LOST: u32 = 997;
        const THIRD_WON: u32 = 998;
        const RUNNER_UP: u32 = 999;
        const CHAMPION: u32 = 1000;
        let double = self.format == Format::DoubleElimination;
        let rounds = self.entrants.next_power_of_two().trailing_zeros() as u16;
        for standing in table.iter_mut() {
            standing.reached = IN;
        }
        let mut set = |seed: u16, rank: u32| {
            let standing = &mut table[usize::from(seed) - 1];
            standing.reached = if standing.reached == IN {
                rank
            } else {
                standing.reached.max(rank)
            };
        };
        for m in &self.matches {
            let Some((winner, loser)) = m.outcome() else {
                continue;
            };
            let mut losers: Vec<u16> = Vec::new();
            if let Entry::Player(seed) = loser {
                losers.push(seed);
            }
            if m.result == Some(MatchResult::DoubleForfeit) {
                losers.extend(m.players().into_iter().flatten());
            }
            let final_match = match m.stage {
                Stage::GrandFinal | Stage::Reset => true,
                Stage::Winners => !double && m.round == rounds,
                _ => false,
            };
            if final_match {
                if m.stage == Stage::GrandFinal && m.result == Some(MatchResult::Won(1)) {
                    // The champion of the winners' side lost once: the reset decides.
                    continue;
                }
                if let Entry::Player(seed) = winner {
                    set(seed, CHAMPION);
                }
                for seed in losers {
                    set(seed, RUNNER_UP);
                }
                continue;
            }
            let (won, lost) = match m.stage {
                Stage::ThirdPlace => (THIRD_WON, THIRD_LOST),
                Stage::Winners if !double => (IN, u32::from(m.round)),
                Stage::Losers => (IN, u32::from(m.round)),
                // A winners'-bracket loss in double elimination knocks nobody out (a
                // double forfeit does: both are out there).
                Stage::Winners if m.result == Some(MatchResult::DoubleForfeit) => (IN, 0),
                _ => continue,
            };
            if let (Entry::Player(seed), true) = (winner, won != IN) {
                set(seed, won);
            }
            for seed in losers {
                set(seed, lost);
            }
        }
    }
}

/// Pairs that have met.
struct Met {
    n: usize,
    flags: Vec<bool>,
}

impl Met {
    fn get(&self, a: u16, b: u16) -> bool {
        self.flags[usize::from(a) * self.n + usize::from(b)]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub seed: u16,
    /// 1-based; tied entrants share the best of their places.
    pub place: u16,
    pub wins: u16,
    pub draws: u16,
    pub losses: u16,
    /// Points in halves (a win is 2, a draw 1).
    pub points_half: u32,
    pub buchholz_half: u32,
    pub sonneborn_berger_quarter: u32,
    /// Elimination: how far the entrant got (see [`Bracket::standings`]).
    pub reached: u32,
}

/// A pairing of `ranked` (an even number of (points, seed), best first) without
/// rematches, or none within the budget.
fn pair(met: &Met, ranked: &[(u32, u16)], budget: &mut u32) -> Option<Vec<(u16, u16)>> {
    let mut paired = vec![false; ranked.len()];
    let mut pairs = Vec::with_capacity(ranked.len() / 2);
    pair_from(met, ranked, &mut paired, &mut pairs, budget).then_some(pairs)
}

fn pair_from(
    met: &Met,
    ranked: &[(u32, u16)],
    paired: &mut [bool],
    pairs: &mut Vec<(u16, u16)>,
    budget: &mut u32,
) -> bool {
    let Some(top) = paired.iter().position(|&p| !p) else {
        return true;
    };
    let (points, seed) = ranked[top];
    let unpaired: Vec<usize> = (top + 1..ranked.len()).filter(|&i| !paired[i]).collect();
    // The top player's score group among the unpaired (the top player first).
    let group = 1 + unpaired
        .iter()
        .take_while(|&&i| ranked[i].0 == points)
        .count();
    let half = group / 2;
    let mut candidates: Vec<usize> = Vec::with_capacity(unpaired.len());
    if group > 1 {
        // Positions within the group counted from the top player (0).
        candidates.extend(unpaired[half - 1..group - 1].iter());
        candidates.extend(unpaired[..half - 1].iter().rev());
    }
    candidates.extend(unpaired[group - 1..].iter());
    paired[top] = true;
    for other in candidates {
        // Every candidate tried counts, so a field with no pairing left gives up after a
        // bounded amount of work.
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        let opponent = ranked[other].1;
        if met.get(seed, opponent) {
            continue;
        }
        paired[other] = true;
        pairs.push((seed, opponent));
        if pair_from(met, ranked, paired, pairs, budget) {
            return true;
        }
        pairs.pop();
        paired[other] = false;
    }
    paired[top] = false;
    false
}
