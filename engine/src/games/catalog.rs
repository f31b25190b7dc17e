//! The game catalog: admins create, update and deactivate games.

use super::crash::{HOUSE_EDGE_BP_MAX, TICK_HZ_MAX, TICK_HZ_MIN};
use super::quick_math::{QUESTIONS_MAX, QUESTIONS_MIN};
use super::{
    GAME_NAME_MAX, GAME_RULES_MAX, Game, INCREMENT_MS_MAX, RAKE_BP_MAX, SHARE_BP_MAX,
    START_TIMEOUT_SECS_MAX, START_TIMEOUT_SECS_MIN, THUMBNAIL_URL_MAX, TURN_CLOCK_MS_MAX,
    TURN_CLOCK_MS_MIN,
};
use crate::wallet::MONEY_MOVE_MAX;
use crate::{Engine, text};
use betbet_protocol::event::Event;
use betbet_protocol::games::{CreateGame, GameChanged, GameId, GameSettings, RuleSet, UpdateGame};
use betbet_protocol::message::{Created, Reply};
use betbet_protocol::result::ResultCode;

/// A crash game ticks at 10 to 20 Hz with a house edge and a payout cap, and takes no rake
/// (the edge is the house's); no other game has any of these.
fn crash_settings(settings: &GameSettings) -> bool {
    if settings.rule_set == RuleSet::Crash {
        (TICK_HZ_MIN..=TICK_HZ_MAX).contains(&settings.tick_hz)
            && settings.house_edge_bp <= HOUSE_EDGE_BP_MAX
            && settings.round_profit_max.0 > 0
            && settings.round_profit_max.0 <= MONEY_MOVE_MAX
            && settings.rake_bp == 0
    } else {
        settings.tick_hz == 0 && settings.house_edge_bp == 0 && settings.round_profit_max.0 == 0
    }
}

/// Every setting within its bounds and the rule set's player counts.
fn validate(settings: &GameSettings) -> Result<(), ResultCode> {
    text::line(&settings.name, GAME_NAME_MAX)?;
    text::line(&settings.category, text::CATEGORY_MAX)?;
    text::optional_line(&settings.subcategory, text::CATEGORY_MAX)?;
    text::body(&settings.description, text::DESCRIPTION_MAX)?;
    text::body(&settings.rules, GAME_RULES_MAX)?;
    text::optional_line(&settings.thumbnail_url, THUMBNAIL_URL_MAX)?;
    let (min, max) = settings.rule_set.players();
    let valid = (min..=max).contains(&settings.min_players)
        && (settings.min_players..=max).contains(&settings.max_players)
        && (TURN_CLOCK_MS_MIN..=TURN_CLOCK_MS_MAX).contains(&settings.turn_clock_ms)
        && settings.increment_ms <= INCREMENT_MS_MAX
        // A per-move clock restarts on every move: an increment means nothing to it.
        && (settings.rule_set == RuleSet::Chess || settings.increment_ms == 0)
        && crash_settings(settings)
        && (if settings.rule_set == RuleSet::QuickMath {
            (QUESTIONS_MIN..=QUESTIONS_MAX).contains(&settings.questions)
        } else {
            settings.questions == 0
        })
        && (START_TIMEOUT_SECS_MIN..=START_TIMEOUT_SECS_MAX).contains(&settings.start_timeout_secs)
        && settings.rake_bp <= RAKE_BP_MAX
        && settings.spectator_share_bp <= SHARE_BP_MAX
        && settings.stake_min.0 > 0
        && settings.stake_min.0 <= settings.stake_max.0
        && settings.stake_max.0 <= MONEY_MOVE_MAX;
    if valid {
        Ok(())
    } else {
        Err(ResultCode::InvalidGameSettings)
    }
}

impl Engine {
    pub(crate) fn create_game(
        &mut self,
        c: &CreateGame,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if !self.is_admin(c.actor) {
            return Err(ResultCode::Forbidden);
        }
        validate(&c.settings)?;
        if self.games.games.len() >= self.limits.games_max as usize {
            return Err(ResultCode::TooManyGames);
        }
        let id = GameId(self.games.games.len() as u64 + 1);
        self.games.games.push(Game {
            id,
            settings: c.settings.clone(),
            is_active: true,
            created_at: self.now,
            updated_at: self.now,
        });
        out.push(Event::GameChanged(GameChanged { game: id }));
        Ok(Reply::Created(Created { id: id.0 }))
    }

    pub(crate) fn update_game(
        &mut self,
        c: &UpdateGame,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if !self.is_admin(c.actor) {
            return Err(ResultCode::Forbidden);
        }
        let game = self.games.game(c.game).ok_or(ResultCode::GameNotFound)?;
        if game.settings.rule_set != c.settings.rule_set {
            // Live sessions play by their game's rule set.
            return Err(ResultCode::InvalidGameSettings);
        }
        validate(&c.settings)?;
        let now = self.now;
        let game = self.games.game_mut(c.game).expect("found");
        game.settings = c.settings.clone();
        game.is_active = c.is_active;
        game.updated_at = now;
        out.push(Event::GameChanged(GameChanged { game: c.game }));
        Ok(crate::done())
    }
}
