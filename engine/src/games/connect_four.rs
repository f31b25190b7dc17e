//! Connect Four's board: 7 columns × 6 rows with gravity, four in a row in any direction.
//!
//! Cell `row * 7 + column`, row 0 at the bottom; a cell holds 0 (empty), 1 (the first
//! mover's disc) or 2 (the other's). Player 1 moves on even move counts.

pub const COLUMNS: u8 = 7;
pub const ROWS: u8 = 6;
pub const CELLS: usize = 42;

/// The four directions a line can run: right, up, up-right, up-left.
const DIRECTIONS: [(i8, i8); 4] = [(0, 1), (1, 0), (1, 1), (1, -1)];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    pub cells: [u8; CELLS],
    /// Discs in each column.
    pub heights: [u8; COLUMNS as usize],
    pub moves: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ongoing,
    /// `line`: the four cells, ascending.
    Won {
        player: u8,
        line: [u8; 4],
    },
    Draw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveError {
    ColumnOutOfRange,
    ColumnFull,
    GameOver,
}

impl Default for Board {
    fn default() -> Self {
        Board::new()
    }
}

impl Board {
    pub fn new() -> Board {
        Board {
            cells: [0; CELLS],
            heights: [0; COLUMNS as usize],
            moves: 0,
        }
    }

    /// 1 or 2.
    pub fn to_move(&self) -> u8 {
        1 + self.moves % 2
    }

    fn at(&self, row: i8, column: i8) -> Option<u8> {
        ((0..ROWS as i8).contains(&row) && (0..COLUMNS as i8).contains(&column))
            .then(|| self.cells[row as usize * COLUMNS as usize + column as usize])
    }

    /// A four of `player` through (row, column), if any.
    fn line_through(&self, row: i8, column: i8, player: u8) -> Option<[u8; 4]> {
        for (dr, dc) in DIRECTIONS {
            // The run of `player`'s discs along this direction through the cell.
            let mut start = 0;
            while self.at(row - dr * (start + 1), column - dc * (start + 1)) == Some(player) {
                start += 1;
            }
            let mut end = 0;
            while self.at(row + dr * (end + 1), column + dc * (end + 1)) == Some(player) {
                end += 1;
            }
            if start + end + 1 >= 4 {
                let mut line = [0u8; 4];
                for (i, cell) in line.iter_mut().enumerate() {
                    let k = i as i8 - start;
                    *cell = ((row + dr * k) * COLUMNS as i8 + column + dc * k) as u8;
                }
                line.sort_unstable();
                return Some(line);
            }
        }
        None
    }

    /// The outcome, from the whole board.
    pub fn outcome(&self) -> Outcome {
        for cell in 0..CELLS {
            let player = self.cells[cell];
            if player == 0 {
                continue;
            }
            let (row, column) = ((cell / 7) as i8, (cell % 7) as i8);
            if let Some(line) = self.line_through(row, column, player) {
                return Outcome::Won { player, line };
            }
        }
        if usize::from(self.moves) == CELLS {
            Outcome::Draw
        } else {
            Outcome::Ongoing
        }
    }

    /// Drops the mover's disc into `column` and says how the game stands; an error
    /// changes nothing.
    pub fn drop_disc(&mut self, column: u8) -> Result<Outcome, MoveError> {
        if self.outcome() != Outcome::Ongoing {
            return Err(MoveError::GameOver);
        }
        if column >= COLUMNS {
            return Err(MoveError::ColumnOutOfRange);
        }
        let row = self.heights[usize::from(column)];
        if row >= ROWS {
            return Err(MoveError::ColumnFull);
        }
        let player = self.to_move();
        self.cells[usize::from(row) * COLUMNS as usize + usize::from(column)] = player;
        self.heights[usize::from(column)] += 1;
        self.moves += 1;
        Ok(match self.line_through(row as i8, column as i8, player) {
            Some(line) => Outcome::Won { player, line },
            None if usize::from(self.moves) == CELLS => Outcome::Draw,
            None => Outcome::Ongoing,
        })
    }

    /// Six strings of seven characters, top row first: `.` empty, `X` player 1, `O` 2.
    pub fn rows_text(&self) -> [String; ROWS as usize] {
        std::array::from_fn(|i| {
            let row = ROWS as usize - 1 - i;
            self.cells[row * 7..row * 7 + 7]
                .iter()
                .map(|c| match c {
                    1 => 'X',
                    2 => 'O',
                    _ => '.',
                })
                .collect()
        })
    }
}

/// A full-board game with no four in a row (the integration tests replay it over HTTP).
#[cfg(test)]
pub const DRAW_SEQUENCE: &str = "146660203633536103043506522512202545444111";

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays `moves` (column digits); the outcome of the last one, or the first error.
    fn play(moves: &str) -> (Board, Result<Outcome, MoveError>) {
        let mut board = Board::new();
        let mut last = Ok(Outcome::Ongoing);
        for c in moves.bytes() {
            last = board.drop_disc(c - b'0');
            if last.is_err() {
                break;
            }
        }
        (board, last)
    }

    fn won(player: u8, line: [u8; 4]) -> Result<Outcome, MoveError> {
        Ok(Outcome::Won { player, line })
    }

    #[test]
    fn outcomes_of_known_games() {
        // Each expected outcome was computed by an independent Python model of the rules.
        let cases: &[(&str, &str, Result<Outcome, MoveError>)] = &[
            ("vertical", "0101010", won(1, [0, 7, 14, 21])),
            ("horizontal", "0011223", won(1, [0, 1, 2, 3])),
            (
                "horizontal at the right edge",
                "6655443",
                won(1, [3, 4, 5, 6]),
            ),
            ("diagonal /", "01122323353", won(1, [0, 8, 16, 24])),
            ("diagonal \\", "65544343313", won(1, [6, 12, 18, 24])),
            ("the second player's four", "01020364", won(2, [1, 2, 3, 4])),
            (
                "vertical up to the top row",
                "666060616",
                won(1, [20, 27, 34, 41]),
            ),
            ("a column holds six", "0000000", Err(MoveError::ColumnFull)),
            ("off the board", "7", Err(MoveError::ColumnOutOfRange)),
            ("nothing after a win", "01010102", Err(MoveError::GameOver)),
            ("ongoing", "3", Ok(Outcome::Ongoing)),
            (
                "a full board with no four",
                DRAW_SEQUENCE,
                Ok(Outcome::Draw),
            ),
        ];
        for (name, moves, expected) in cases {
            let (board, got) = play(moves);
            assert_eq!(&got, expected, "{name}: {moves}");
            if let Ok(outcome) = got {
                assert_eq!(
                    board.outcome(),
                    outcome,
                    "{name}: the whole-board scan agrees"
                );
            }
        }
    }

    #[test]
    fn a_refused_move_changes_nothing() {
        let (mut board, _) = play("000000");
        let before = board.clone();
        assert_eq!(board.drop_disc(0), Err(MoveError::ColumnFull));
        assert_eq!(board.drop_disc(9), Err(MoveError::ColumnOutOfRange));
        assert_eq!(board, before);
    }

    #[test]
    fn the_draw_fills_the_board_and_the_text_shows_it() {
        let (board, got) = play(DRAW_SEQUENCE);
        assert_eq!(got, Ok(Outcome::Draw));
        assert!(board.cells.iter().all(|&c| c != 0));
        let text = board.rows_text();
        assert!(text.iter().all(|row| row.len() == 7 && !row.contains('.')));
        let xs: usize = text.iter().map(|r| r.matches('X').count()).sum();
        assert_eq!(xs, 21);
    }

    #[test]
    fn incremental_and_whole_board_outcomes_agree_on_random_games() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2_000 {
            let mut board = Board::new();
            loop {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                match board.drop_disc((state % 7) as u8) {
                    Ok(outcome) => {
                        // One disc may complete two lines: the scan may report the other,
                        // but never another winner, and the reported line is that
                        // player's four.
                        match (outcome, board.outcome()) {
                            (Outcome::Won { player, line }, Outcome::Won { player: p, .. }) => {
                                assert_eq!(player, p);
                                assert!(line.iter().all(|&c| board.cells[usize::from(c)] == p));
                            }
                            (a, b) => assert_eq!(a, b),
                        }
                        if outcome != Outcome::Ongoing {
                            break;
                        }
                    }
                    Err(MoveError::ColumnFull) => {}
                    Err(other) => panic!("{other:?}"),
                }
            }
        }
    }
}
