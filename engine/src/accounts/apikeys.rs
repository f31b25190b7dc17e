//! API keys for the market-maker feed.
//!
//! A key belongs to a user. Its secret is generated and shown once by the gateway, which
//! keeps it sealed (AEAD) here so that any gateway can check a login's HMAC; the core never
//! sees the secret in clear. A login is journaled as a command so that its checks are the
//! same on every gateway and survive restarts: the key must not be revoked, the login's
//! timestamp must be within [`LOGIN_SKEW_MICROS`] of the core's clock, and its nonce must not
//! have been seen before within the window (a recorded login cannot be replayed).

use crate::{Engine, done, text};
use betbet_protocol::command::{ApiKeyLogin, CreateApiKey, RevokeApiKey, UserStatus};
use betbet_protocol::event::{ApiKeyRevoked, Event};
use betbet_protocol::feed::LOGIN_SKEW_MICROS;
use betbet_protocol::message::{Authenticated, Created, Reply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{Timestamp, UserId};
use std::collections::{HashMap, VecDeque};

/// Live keys per user.
pub const API_KEYS_PER_USER_MAX: usize = 10;
/// Keys a user may ever create, revoked ones included (revoked keys stay on record).
pub const API_KEYS_PER_USER_EVER_MAX: usize = 100;
/// Nonces remembered per key; the window drops older ones first.
const NONCES_PER_KEY_MAX: usize = 4_096;
pub const API_KEY_NAME_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: u64,
    pub user: UserId,
    pub name: String,
    pub sealed_secret: Vec<u8>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub last_login: Option<Timestamp>,
    pub logins: u64,
    /// (login time, nonce) of recent logins, oldest first.
    pub nonces: VecDeque<(Timestamp, [u8; 16])>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiKeys {
    /// `keys[i]` has id `i + 1`.
    pub keys: Vec<ApiKey>,
    /// Each user's key ids, oldest first.
    pub by_user: HashMap<UserId, Vec<u64>>,
}

impl ApiKeys {
    pub fn get(&self, id: u64) -> Option<&ApiKey> {
        self.keys.get(usize::try_from(id).ok()?.checked_sub(1)?)
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut ApiKey> {
        self.keys.get_mut(usize::try_from(id).ok()?.checked_sub(1)?)
    }

    pub fn of_user(&self, user: UserId) -> impl Iterator<Item = &ApiKey> {
        self.by_user
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|&id| self.get(id))
    }
}

impl Engine {
    pub(crate) fn create_api_key(&mut self, c: &CreateApiKey) -> Result<Reply, ResultCode> {
        text::line(&c.name, API_KEY_NAME_MAX)?;
        if c.sealed_secret.is_empty() || c.sealed_secret.len() > text::SEALED_DETAILS_MAX {
            return Err(ResultCode::InvalidRequest);
        }
        let user = self.users.get(c.actor).ok_or(ResultCode::UserNotFound)?;
        if user.status != UserStatus::Active {
            return Err(ResultCode::AccountSuspended);
        }
        let ever = self.api_keys.of_user(c.actor).count();
        let live = self
            .api_keys
            .of_user(c.actor)
            .filter(|k| k.revoked_at.is_none())
            .count();
        if live >= API_KEYS_PER_USER_MAX
            || ever >= API_KEYS_PER_USER_EVER_MAX
            || self.api_keys.keys.len() >= self.limits.users_max as usize
        {
            return Err(ResultCode::TooManyApiKeys);
        }
        let id = self.api_keys.keys.len() as u64 + 1;
        self.api_keys.keys.push(ApiKey {
            id,
            user: c.actor,
            name: c.name.clone(),
            sealed_secret: c.sealed_secret.clone(),
            created_at: self.now,
            revoked_at: None,
            last_login: None,
            logins: 0,
            nonces: VecDeque::new(),
        });
        self.api_keys.by_user.entry(c.actor).or_default().push(id);
        Ok(Reply::Created(Created { id }))
    }

    pub(crate) fn revoke_api_key(
        &mut self,
        c: &RevokeApiKey,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let is_admin = self.is_admin(c.actor);
        let now = self.now;
        let key = self
            .api_keys
            .get_mut(c.key)
            .filter(|k| k.user == c.actor || is_admin)
            .ok_or(ResultCode::ApiKeyNotFound)?;
        if key.revoked_at.is_some() {
            return Err(ResultCode::ApiKeyRevoked);
        }
        key.revoked_at = Some(now);
        key.nonces.clear();
        out.push(Event::ApiKeyRevoked(ApiKeyRevoked {
            key: key.id,
            user: key.user,
        }));
        Ok(done())
    }

    /// A feed login whose signature the gateway already checked.
    pub(crate) fn api_key_login(&mut self, c: &ApiKeyLogin) -> Result<Reply, ResultCode> {
        let now = self.now;
        let key = self.api_keys.get(c.key).ok_or(ResultCode::ApiKeyNotFound)?;
        if key.revoked_at.is_some() {
            return Err(ResultCode::ApiKeyRevoked);
        }
        if (c.timestamp.0 - now.0).abs() > LOGIN_SKEW_MICROS {
            return Err(ResultCode::StaleTimestamp);
        }
        if key.nonces.iter().any(|&(_, nonce)| nonce == c.nonce) {
            return Err(ResultCode::NonceReused);
        }
        let user = key.user;
        if self
            .users
            .get(user)
            .is_none_or(|u| u.status != UserStatus::Active)
        {
            return Err(ResultCode::AccountSuspended);
        }
        // Nonces older than twice the skew window can no longer pass the timestamp check;
        // within it, every one is kept, so a key that logs in absurdly often is refused
        // rather than allowed to forget a nonce that could still be replayed.
        let horizon = now.saturating_add_micros(-2 * LOGIN_SKEW_MICROS);
        let live = key.nonces.iter().filter(|&&(at, _)| at >= horizon).count();
        if live >= NONCES_PER_KEY_MAX {
            return Err(ResultCode::LimitExceeded);
        }
        let key = self.api_keys.get_mut(c.key).expect("found");
        while key.nonces.front().is_some_and(|&(at, _)| at < horizon) {
            key.nonces.pop_front();
        }
        key.nonces.push_back((now, c.nonce));
        key.last_login = Some(now);
        key.logins += 1;
        Ok(Reply::Authenticated(Authenticated { user, key: c.key }))
    }
}
