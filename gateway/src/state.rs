//! Shared gateway state and the authenticated-caller extractor.
//!
//! A request is authenticated by its access token *and* by its session still being alive in
//! the core: gateways keep a short-lived cache of live sessions (refilled by a query) and
//! drop entries the moment the core reports a session revoked or a user changed, so logout,
//! refresh-token theft detection and suspension take effect at once, on every gateway.

use crate::auth::{Keys, PasswordHasherPool, verify_access_token};
use crate::config::GatewayConfig;
use crate::core::Core;
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use betbet_protocol::command::{Role, UserStatus};
use betbet_protocol::event::Event;
use betbet_protocol::message::EventBatch;
use betbet_protocol::query::{Query, QueryReply, SessionQuery};
use betbet_protocol::types::{SessionId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// How long a confirmed-live session is trusted without asking the core again.
const SESSION_CACHE_TTL: Duration = Duration::from_secs(10);
const SESSION_CACHE_MAX: usize = 100_000;

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub config: Arc<GatewayConfig>,
    pub keys: Arc<Keys>,
    pub hasher: PasswordHasherPool,
    pub sessions: Arc<SessionCache>,
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<RateLimiter>,
    pub events: broadcast::Sender<Arc<EventBatch>>,
    /// Routes event batches to the connections they concern.
    pub hub: Arc<crate::hub::Hub>,
    /// Immutable facts about markets (outcomes, tick) for validating orders without a query.
    pub shapes: Arc<Mutex<HashMap<betbet_protocol::types::MarketId, Arc<crate::api::MarketShape>>>>,
    /// The history store, for reads past the core's windows (a gateway in the core's
    /// process; a remote gateway answers from the core's windows only).
    pub history: Option<Arc<crate::history::History>>,
    /// Players' seats held while their game-room connections are away.
    pub seats: Arc<crate::api::games::socket::Seats>,
    /// This gateway's connections to chat rooms and voice channels, for what does not go
    /// through the core (typing indicators, voice signalling).
    pub local_rooms: Arc<crate::api::social::local::LocalRooms>,
}

impl AppState {
    pub fn now_secs() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    pub async fn query(&self, query: Query) -> ApiResult<QueryReply> {
        self.core.query(query).await
    }

    /// The history store as [`AppState::history`] gives it, for routes that read only the
    /// store: without one (a gateway of a remote core) they answer 503.
    pub async fn store(&self) -> ApiResult<&crate::history::History> {
        self.history().await?.ok_or_else(|| {
            crate::error::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "history_unavailable",
                "this gateway has no history store: lists are served by the gateway in the core's process",
            )
        })
    }

    /// The history store, once it holds every record the core had made durable when this
    /// was called (read-your-writes); `None` without a store.
    pub async fn history(&self) -> ApiResult<Option<&crate::history::History>> {
        let (Some(history), Core::Local(handle)) = (&self.history, &self.core) else {
            return Ok(None);
        };
        let head = handle
            .stats()
            .durable_seq
            .load(std::sync::atomic::Ordering::Acquire);
        history.caught_up(head).await?;
        Ok(Some(history))
    }
}

#[derive(Debug, Clone, Copy)]
struct CachedSession {
    user: UserId,
    role: Role,
    checked: Instant,
}

#[derive(Default)]
pub struct SessionCache {
    live: Mutex<HashMap<SessionId, CachedSession>>,
}

impl SessionCache {
    /// Forgets what the core's events say has changed.
    pub fn observe(&self, batch: &EventBatch) {
        let mut live = self.live.lock().expect("session cache lock");
        for event in &batch.events {
            match event {
                Event::SessionRevoked(revoked) => {
                    live.remove(&revoked.session);
                }
                Event::UserChanged(changed) => live.retain(|_, s| s.user != changed.user),
                _ => {}
            }
        }
    }

    fn get(&self, session: SessionId) -> Option<CachedSession> {
        let live = self.live.lock().expect("session cache lock");
        live.get(&session)
            .filter(|s| s.checked.elapsed() < SESSION_CACHE_TTL)
            .copied()
    }

    fn put(&self, session: SessionId, entry: CachedSession) {
        let mut live = self.live.lock().expect("session cache lock");
        if live.len() >= SESSION_CACHE_MAX {
            live.retain(|_, s| s.checked.elapsed() < SESSION_CACHE_TTL);
            if live.len() >= SESSION_CACHE_MAX {
                live.clear();
            }
        }
        live.insert(session, entry);
    }

    /// Forgets everything (after missing events, nothing cached can be trusted).
    pub fn clear(&self) {
        self.live.lock().expect("session cache lock").clear();
    }

    pub fn forget(&self, session: SessionId) {
        self.live
            .lock()
            .expect("session cache lock")
            .remove(&session);
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub user: UserId,
    pub session: SessionId,
    pub role: Role,
    /// When the access token presented expires (Unix seconds): a WebSocket opened with it
    /// ends then unless it was given a fresh token.
    pub token_expires_at: i64,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The user a request acts for: the caller, or (admins only) the user `user_id` names.
    pub fn acting_for(&self, user_id: Option<&str>) -> ApiResult<UserId> {
        match user_id {
            None => Ok(self.user),
            Some(id) => {
                let user = crate::ids::parse_path(id, "user")?;
                self.may_access(user)?;
                Ok(user)
            }
        }
    }

    /// An identity parameter (the spec's `user_id`, `sender_id`, …) that must name the
    /// caller even for an admin: anyone else is a 403 saying `why`, never ignored.
    pub fn require_self(&self, field: &str, user_id: Option<&str>, why: &str) -> ApiResult<()> {
        match user_id {
            Some(id) if crate::ids::parse_path::<UserId>(id, "user")? != self.user => {
                Err(ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("{field} must be the caller: {why}"),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The caller may reach `owner`'s objects: it is the owner, or an admin.
    pub fn may_access(&self, owner: UserId) -> ApiResult<()> {
        if self.user == owner || self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    pub fn require_admin(&self) -> ApiResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

/// Checks an access token and that its session is alive.
pub async fn authenticate(state: &AppState, token: &str) -> ApiResult<AuthUser> {
    let claims = verify_access_token(&state.keys, token, AppState::now_secs())
        .map_err(ApiError::unauthorized)?;
    let user = UserId::parse(&claims.sub).ok_or_else(|| ApiError::unauthorized("bad subject"))?;
    let session = SessionId(claims.sid);
    if let Some(cached) = state.sessions.get(session)
        && cached.user == user
    {
        return Ok(AuthUser {
            user,
            session,
            role: cached.role,
            token_expires_at: claims.exp,
        });
    }
    match session_status(state, session, user).await? {
        SessionStatus::Live(role) => {
            state.sessions.put(
                session,
                CachedSession {
                    user,
                    role,
                    checked: Instant::now(),
                },
            );
            Ok(AuthUser {
                user,
                session,
                role,
                token_expires_at: claims.exp,
            })
        }
        SessionStatus::Suspended => Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "account_suspended",
            "this account is suspended",
        )),
        SessionStatus::Ended => Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "session_revoked",
            "the session has ended; log in again",
        )),
    }
}

/// What the core says of a login session of `user`.
pub enum SessionStatus {
    /// Alive, its user active with this role.
    Live(Role),
    /// Its user is suspended.
    Suspended,
    /// Revoked, expired or unknown.
    Ended,
}

/// Asks the core (never the cache) whether `session` is alive for `user`.
pub async fn session_status(
    state: &AppState,
    session: SessionId,
    user: UserId,
) -> ApiResult<SessionStatus> {
    Ok(
        match state
            .query(Query::Session(SessionQuery { session }))
            .await?
        {
            QueryReply::Session(view) if view.user == user && view.status == UserStatus::Active => {
                SessionStatus::Live(view.role)
            }
            QueryReply::Session(_) => SessionStatus::Suspended,
            _ => SessionStatus::Ended,
        },
    )
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(*user);
        }
        let token = bearer(parts)
            .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <access token>`"))?;
        let user = authenticate(state, token).await?;
        parts.extensions.insert(user);
        Ok(user)
    }
}
