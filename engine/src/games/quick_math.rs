//! Quick-math countdown: every player gets the same seeded arithmetic questions and one
//! countdown (the session's `turn_clock_ms`); a right answer scores 500 points plus up to
//! 500 for speed (`500 × time left / countdown`, rounded down), a wrong one nothing, and
//! each question is answered once. The round ends when the countdown runs out or every
//! player has answered everything; the most points win, and ties split the pot.
//!
//! The questions come from the session's draws, three per question: the operation
//! (`floor(f × 4)` of `+ − × ÷`) and two operands, each `low + floor(f × n)`: for `+` and
//! `−` both in 1..=99 (for `−` the larger first, so no answer is negative), for `×` both in
//! 2..=12, for `÷` the divisor in 2..=12 and the quotient in 1..=12 (the question is
//! `divisor × quotient ÷ divisor`, always exact).
//!
//! While the round runs, players and spectators see each player's counts and points, and
//! a player sees their own answers; everyone's answers are shown at the end.

use super::rules::{Draws, Outcome, Rules, Start};
use betbet_protocol::games::{
    AnswerView, DrawPurpose, GameEnd, GameStateView, QuestionView, QuickMathView, QuizPlayerView,
};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::Timestamp;

/// A round's questions.
pub const QUESTIONS_MIN: u32 = 5;
pub const QUESTIONS_MAX: u32 = 30;
/// A right answer's points, and the most its speed adds.
const POINTS_RIGHT: i64 = 500;
const POINTS_SPEED: i64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    /// 0 `+`, 1 `−`, 2 `×`, 3 `÷`.
    pub op: u8,
    pub left: i64,
    pub right: i64,
}

impl Question {
    pub fn answer(&self) -> i64 {
        match self.op {
            0 => self.left + self.right,
            1 => self.left - self.right,
            2 => self.left * self.right,
            _ => self.left / self.right,
        }
    }

    fn symbol(&self) -> &'static str {
        ["+", "-", "*", "/"][usize::from(self.op.min(3))]
    }

    /// The next question from the draws.
    fn draw(draws: &mut Draws<'_>) -> Question {
        let op = draws.pick(DrawPurpose::QuestionOp, 4) as u8;
        let mut operand = |low: i64, n: u32| {
            draws.draw(DrawPurpose::QuestionOperand, |f| {
                (low + i64::from(super::fairness::pick(f, n))) as u64
            }) as i64
        };
        match op {
            0 => Question {
                op,
                left: operand(1, 99),
                right: operand(1, 99),
            },
            1 => {
                let (a, b) = (operand(1, 99), operand(1, 99));
                Question {
                    op,
                    left: a.max(b),
                    right: a.min(b),
                }
            }
            2 => Question {
                op,
                left: operand(2, 11),
                right: operand(2, 11),
            },
            _ => {
                let divisor = operand(2, 11);
                let quotient = operand(1, 12);
                Question {
                    op,
                    left: divisor * quotient,
                    right: divisor,
                }
            }
        }
    }

    /// Whether a snapshot's question is one the draws could make.
    fn valid(&self) -> bool {
        let within = |v: i64, low: i64, high: i64| (low..=high).contains(&v);
        match self.op {
            0 => within(self.left, 1, 99) && within(self.right, 1, 99),
            1 => within(self.right, 1, 99) && within(self.left, self.right, 99),
            2 => within(self.left, 2, 12) && within(self.right, 2, 12),
            3 => {
                within(self.right, 2, 12)
                    && self.left % self.right == 0
                    && within(self.left / self.right, 1, 12)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub question: u32,
    pub answer: i64,
    pub correct: bool,
    pub points: u32,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickMath {
    pub questions: Vec<Question>,
    pub started: Timestamp,
    /// The countdown, in µs.
    pub round_us: i64,
    /// Each seat's answers, in the order given.
    pub answers: Vec<Vec<Answer>>,
    pub over: bool,
}

impl QuickMath {
    fn ends(&self) -> Timestamp {
        self.started.saturating_add_micros(self.round_us)
    }

    fn points(&self, seat: usize) -> i64 {
        self.answers[seat].iter().map(|a| i64::from(a.points)).sum()
    }

    /// The end: the most points win (every seat on a tie for the top, a draw if all).
    fn finish(&mut self) -> Outcome {
        self.over = true;
        let best = (0..self.answers.len())
            .map(|s| self.points(s))
            .max()
            .unwrap_or(0);
        let winners: Vec<usize> = (0..self.answers.len())
            .filter(|&s| self.points(s) == best)
            .collect();
        Outcome {
            end: if winners.len() == self.answers.len() {
                GameEnd::Draw
            } else {
                GameEnd::Win
            },
            winners,
            payouts: Vec::new(),
        }
    }

    /// A round from what a snapshot keeps, or `None` if its answers do not fit its
    /// questions (each answered once, marked and scored as the rules would).
    pub fn replay(
        questions: Vec<Question>,
        started: Timestamp,
        round_us: i64,
        answers: Vec<Vec<Answer>>,
        over: bool,
    ) -> Option<QuickMath> {
        let game = QuickMath {
            questions,
            started,
            round_us,
            answers,
            over,
        };
        let count = game.questions.len() as u32;
        let valid = (QUESTIONS_MIN..=QUESTIONS_MAX).contains(&count)
            && game.questions.iter().all(Question::valid)
            && round_us > 0
            && (2..=10).contains(&game.answers.len())
            && game.answers.iter().all(|seat| {
                let mut seen = std::collections::BTreeSet::new();
                seat.iter().all(|a| {
                    seen.insert(a.question)
                        && a.question < count
                        && a.correct == (game.questions[a.question as usize].answer() == a.answer)
                        && a.points == game.score(a.correct, a.at)
                })
            });
        valid.then_some(game)
    }

    /// What an answer at `at` scores.
    fn score(&self, correct: bool, at: Timestamp) -> u32 {
        if !correct {
            return 0;
        }
        let left = (self.ends().0 - at.0).clamp(0, self.round_us);
        (POINTS_RIGHT
            + (i128::from(POINTS_SPEED) * i128::from(left) / i128::from(self.round_us)) as i64)
            as u32
    }

    fn player_view(&self, seat: usize, shown: bool) -> QuizPlayerView {
        let answers = &self.answers[seat];
        QuizPlayerView {
            seat: seat as u32,
            answered: answers.len() as u32,
            correct: answers.iter().filter(|a| a.correct).count() as u32,
            points: self.points(seat) as u32,
            answers: if shown {
                answers
                    .iter()
                    .map(|a| AnswerView {
                        question: a.question,
                        answer: a.answer,
                        correct: a.correct,
                        points: a.points,
                        at: a.at,
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

impl Rules for QuickMath {
    /// The countdown is the session's turn clock.
    fn start(start: &Start, draws: &mut Draws<'_>) -> Self {
        let questions = (0..start.questions)
            .map(|_| Question::draw(draws))
            .collect();
        QuickMath {
            questions,
            started: start.now,
            round_us: i64::from(start.turn_clock_ms) * 1_000,
            answers: vec![Vec::new(); start.players],
            over: false,
        }
    }

    /// Everyone plays at once.
    fn to_move(&self) -> Option<usize> {
        None
    }

    /// `"{question}:{answer}"`, e.g. `"3:42"`: question 3 (from 0), answered 42.
    fn apply_move(
        &mut self,
        seat: usize,
        mv: &str,
        now: Timestamp,
    ) -> Result<Option<Outcome>, ResultCode> {
        if self.over || now >= self.ends() {
            return Err(ResultCode::GameSessionNotActive);
        }
        let (question, answer) = mv.split_once(':').ok_or(ResultCode::IllegalMove)?;
        let question: u32 = question.parse().map_err(|_| ResultCode::IllegalMove)?;
        let answer: i64 = answer.parse().map_err(|_| ResultCode::IllegalMove)?;
        let asked = self
            .questions
            .get(question as usize)
            .ok_or(ResultCode::IllegalMove)?;
        if self.answers[seat].iter().any(|a| a.question == question) {
            return Err(ResultCode::IllegalMove);
        }
        let correct = asked.answer() == answer;
        let points = self.score(correct, now);
        self.answers[seat].push(Answer {
            question,
            answer,
            correct,
            points,
            at: now,
        });
        let everyone_done = self.answers.iter().all(|a| a.len() == self.questions.len());
        Ok(everyone_done.then(|| self.finish()))
    }

    /// The countdown's end.
    fn turn_deadline(&self, _now: Timestamp, _turn_clock_ms: u32) -> Option<Timestamp> {
        (!self.over).then(|| self.ends())
    }

    /// The countdown ran out.
    fn on_tick(&mut self, now: Timestamp) -> Option<Outcome> {
        (now >= self.ends()).then(|| self.finish())
    }

    /// Points.
    fn score(&self, seat: usize) -> Option<i64> {
        Some(self.points(seat))
    }

    /// A round is not resigned: a player who goes simply stops answering.
    fn forfeit(&mut self, _seat: usize, _end: GameEnd) -> Result<Outcome, ResultCode> {
        Err(ResultCode::IllegalMove)
    }

    fn view(&self) -> GameStateView {
        self.view_for(None)
    }

    fn view_for(&self, seat: Option<usize>) -> GameStateView {
        GameStateView::QuickMath(QuickMathView {
            questions: self
                .questions
                .iter()
                .map(|q| QuestionView {
                    op: q.symbol().to_owned(),
                    left: q.left,
                    right: q.right,
                })
                .collect(),
            started: self.started,
            ends: self.ends(),
            players: (0..self.answers.len())
                .map(|s| self.player_view(s, self.over || seat == Some(s)))
                .collect(),
            over: self.over,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use betbet_protocol::games::SERVER_SEED_BYTES;

    const START: Timestamp = Timestamp(2_000_000_000);

    fn at_ms(ms: i64) -> Timestamp {
        Timestamp(START.0 + ms * 1_000)
    }

    fn start(players: usize, questions: u32) -> QuickMath {
        let seed = [3u8; SERVER_SEED_BYTES];
        let mut draws = Draws::new(&seed, "p0|p1", 0);
        let start = Start {
            players,
            now: START,
            turn_clock_ms: 10_000,
            increment_ms: 0,
            stake: 1,
            tick_hz: 0,
            house_edge_bp: 0,
            round_profit_max: 0,
            questions,
        };
        QuickMath::start(&start, &mut draws)
    }

    #[test]
    fn questions_come_from_the_draws_within_their_ranges() {
        let seed = [3u8; SERVER_SEED_BYTES];
        let mut draws = Draws::new(&seed, "p0|p1", 0);
        let game = start(2, 30);
        // The same draws again give the same questions, each valid and exact.
        let again: Vec<Question> = (0..30).map(|_| Question::draw(&mut draws)).collect();
        assert_eq!(game.questions, again);
        assert!(game.questions.iter().all(Question::valid));
        assert!(game.questions.iter().all(|q| q.answer() >= 0));
        // Three draws a question, recorded in order: op, then the operands.
        assert_eq!(draws.recorded.len(), 90);
        for (q, d) in game.questions.iter().zip(draws.recorded.chunks(3)) {
            assert_eq!(d[0].purpose, DrawPurpose::QuestionOp);
            assert_eq!(d[0].outcome, u64::from(q.op));
            assert_eq!(d[1].purpose, DrawPurpose::QuestionOperand);
            let (a, b) = (d[1].outcome as i64, d[2].outcome as i64);
            let expected = match q.op {
                0 => (a, b),
                1 => (a.max(b), a.min(b)),
                2 => (a, b),
                _ => (a * b, a),
            };
            assert_eq!((q.left, q.right), expected);
        }
        // All four operations turn up in 30 questions of these seeds.
        for op in 0..4 {
            assert!(game.questions.iter().any(|q| q.op == op), "op {op}");
        }
    }

    #[test]
    fn right_answers_score_for_speed_and_the_best_wins() {
        let mut game = start(3, 5);
        let right = |g: &QuickMath, i: usize| format!("{i}:{}", g.questions[i].answer());
        // Seat 0 answers question 0 at once (1 000 points less a hair), seat 1 after 5 s
        // of the 10 (750), seat 2 wrongly (0).
        let a0 = right(&game, 0);
        assert_eq!(game.apply_move(0, &a0, START), Ok(None));
        assert_eq!(game.answers[0][0].points, 1_000);
        assert_eq!(game.apply_move(1, &a0, at_ms(5_000)), Ok(None));
        assert_eq!(game.answers[1][0].points, 750);
        let wrong = format!("0:{}", game.questions[0].answer() + 1);
        assert_eq!(game.apply_move(2, &wrong, at_ms(1_000)), Ok(None));
        assert_eq!(
            (game.answers[2][0].correct, game.answers[2][0].points),
            (false, 0)
        );
        // Once per question; malformed answers and unknown questions change nothing.
        let before = game.clone();
        for mv in [
            a0.as_str(),
            "0:",
            ":5",
            "9:1",
            "x:1",
            "1:1.5",
            "1:99999999999999999999",
            "",
        ] {
            assert_eq!(
                game.apply_move(0, mv, at_ms(2_000)),
                Err(ResultCode::IllegalMove),
                "{mv}"
            );
        }
        assert_eq!(game, before);
        // The countdown: nothing after it, and its tick ends the round.
        assert_eq!(
            game.apply_move(0, &right(&game, 1), at_ms(10_000)),
            Err(ResultCode::GameSessionNotActive)
        );
        assert_eq!(game.turn_deadline(START, 0), Some(at_ms(10_000)));
        let outcome = game.on_tick(at_ms(10_000)).expect("the end");
        assert_eq!((outcome.end, outcome.winners), (GameEnd::Win, vec![0]));
        assert!(game.over);
        assert_eq!(game.turn_deadline(at_ms(10_000), 0), None);
    }

    #[test]
    fn a_tie_at_the_top_splits_and_a_round_ends_when_everyone_is_done() {
        let mut game = start(2, 5);
        for i in 0..5 {
            let mv = format!("{i}:{}", game.questions[i].answer());
            assert_eq!(game.apply_move(0, &mv, at_ms(1_000)), Ok(None));
            let last = game.apply_move(1, &mv, at_ms(1_000));
            if i < 4 {
                assert_eq!(last, Ok(None));
            } else {
                let outcome = last.unwrap().expect("everyone answered everything");
                assert_eq!((outcome.end, outcome.winners), (GameEnd::Draw, vec![0, 1]));
            }
        }
    }

    #[test]
    fn answers_are_hidden_from_others_until_the_end_and_replay_checks_them() {
        let mut game = start(2, 5);
        let mv = format!("0:{}", game.questions[0].answer());
        game.apply_move(1, &mv, at_ms(3_000)).unwrap();
        let shown = |g: &QuickMath, seat| match g.view_for(seat) {
            GameStateView::QuickMath(v) => v
                .players
                .iter()
                .map(|p| p.answers.len())
                .collect::<Vec<_>>(),
            _ => panic!("quick math"),
        };
        assert_eq!(shown(&game, None), [0, 0], "spectators see counts only");
        assert_eq!(
            shown(&game, Some(0)),
            [0, 0],
            "and so does the other player"
        );
        assert_eq!(shown(&game, Some(1)), [0, 1], "a player sees their own");
        let GameStateView::QuickMath(public) = game.view() else {
            panic!()
        };
        assert_eq!(
            (public.players[1].answered, public.players[1].correct),
            (1, 1)
        );
        let replayed = QuickMath::replay(
            game.questions.clone(),
            game.started,
            game.round_us,
            game.answers.clone(),
            game.over,
        );
        assert_eq!(replayed.as_ref(), Some(&game));
        let mut forged = game.answers.clone();
        forged[0].push(Answer {
            question: 1,
            answer: -5,
            correct: true,
            points: 1_000,
            at: START,
        });
        assert!(
            QuickMath::replay(game.questions.clone(), START, game.round_us, forged, false)
                .is_none()
        );
        game.on_tick(at_ms(10_000));
        assert_eq!(shown(&game, None), [0, 1], "everyone's at the end");
    }
}
