//! `/api/v1/auth/*`: register, login, logout, refresh, 2FA.

use super::table::{Access::*, BodyKind::*, POST, Routes};
use crate::auth::{
    check_password, issue_access_token, new_refresh_token, otpauth_uri, random_bytes, refresh_hash,
};
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{Body, OptBody};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use betbet_protocol::command::{
    BeginTwoFa, Command, OpenSession, RefreshSession, RegisterUser, RevokeSession, Role,
    VerifyTwoFa,
};
use betbet_protocol::message::Reply;
use betbet_protocol::query::{LoginQuery, Query, QueryReply, SessionQuery, UserQuery};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{SessionId, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::ToSchema;
use utoipa_axum::routes;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(&[(POST, Public, JsonBody)], routes!(register_user))
        .route(&[(POST, Public, JsonBody)], routes!(login))
        .route(&[(POST, User, MaybeJsonBody)], routes!(logout))
        .route(&[(POST, Public, JsonBody)], routes!(refresh_session))
        .route(&[(POST, User, MaybeJsonBody)], routes!(enable_two_fa))
        .route(&[(POST, User, JsonBody)], routes!(verify_two_fa))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    username: String,
    email: String,
    password: String,
    /// Another user's `referral_code`; empty or absent for none.
    referral_code: Option<String>,
}

/// Creates an account; sign in with `/auth/login` afterwards.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterBody,
    responses((status = 201, description = "The new user", body = super::users::PrivateUser)))]
async fn register_user(
    State(state): State<AppState>,
    Body(body): Body<RegisterBody>,
) -> ApiResult<(StatusCode, Json<super::users::PrivateUser>)> {
    check_password(&body.password)?;
    let password_hash = state.hasher.hash(body.password).await?;
    let reply = state
        .core
        .execute(Command::RegisterUser(RegisterUser {
            username: body.username,
            email: body.email,
            password_hash,
            referral_code: body.referral_code.filter(|c| !c.is_empty()),
        }))
        .await?;
    let Reply::UserRegistered(registered) = reply else {
        return Err(ApiError::internal("unexpected reply to registration"));
    };
    let user = super::users::fetch_user(&state, registered.user).await?;
    Ok((StatusCode::CREATED, Json(super::users::private_user(&user))))
}

/// `username` or `email` names the account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    /// A username or an email address.
    username: Option<String>,
    /// Used when `username` is absent: an email address (or a username).
    email: Option<String>,
    password: String,
    /// The current six-digit code, required once 2FA is on.
    #[schema(pattern = "^[0-9]{6}$")]
    two_fa_code: Option<String>,
}

fn two_fa_code(code: Option<String>) -> ApiResult<Option<u32>> {
    match code {
        None => Ok(None),
        Some(code) => {
            let code = code.trim();
            if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
                Ok(Some(code.parse().expect("six digits")))
            } else {
                Err(ApiError::from(ResultCode::InvalidTwoFaCode))
            }
        }
    }
}

fn device_info(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(500)
        .collect()
}

/// The tokens of a session.
#[derive(Serialize, ToSchema)]
struct TokenPair {
    /// A JWT to send as `Authorization: Bearer <access_token>`.
    access_token: String,
    /// Single use: `/auth/refresh` exchanges it for a new pair. Presenting a used one again
    /// ends the session.
    refresh_token: String,
    #[schema(pattern = "^Bearer$")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    user_id: String,
    /// `ses_<n>`.
    session_id: String,
}

/// Issues an access token for a session and returns the token response body.
fn token_body(
    state: &AppState,
    user: UserId,
    session: SessionId,
    role: Role,
    refresh_token: String,
) -> TokenPair {
    let ttl = state.config.access_token_ttl;
    let access = issue_access_token(&state.keys, user, session, role, AppState::now_secs(), ttl);
    TokenPair {
        access_token: access,
        refresh_token,
        token_type: "Bearer",
        expires_in: ttl.as_secs(),
        user_id: user.public(),
        session_id: session.public(),
    }
}

fn refresh_expiry(state: &AppState) -> Timestamp {
    Timestamp::from_secs(AppState::now_secs() + state.config.refresh_token_ttl.as_secs() as i64)
}

/// Signs in and opens a session.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, description = "The session's tokens", body = TokenPair),
        (status = 401, body = crate::error::ErrorBody, description =
            "Wrong username or password (`invalid_credentials`), or a missing, wrong or reused \
             second factor (`two_fa_required`, `invalid_two_fa_code`, `two_fa_code_reused`)"),
        (status = 403, body = crate::error::ErrorBody, description =
            "The account is suspended (`account_suspended`)")))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(body): Body<LoginBody>,
) -> ApiResult<Json<TokenPair>> {
    let login = body
        .username
        .or(body.email)
        .filter(|l| !l.is_empty() && l.len() <= 255)
        .ok_or_else(|| ApiError::bad_request("username (or email) is required"))?;
    let code = two_fa_code(body.two_fa_code)?;
    let found = match state
        .query(Query::UserByLogin(LoginQuery { login }))
        .await?
    {
        QueryReply::UserAuth(user) => Some(user),
        _ => None,
    };
    let ok = state
        .hasher
        .verify(
            body.password,
            found.as_ref().map(|u| u.password_hash.clone()),
        )
        .await?;
    let user = match found {
        Some(user) if ok => user,
        _ => return Err(ApiError::from(ResultCode::InvalidCredentials)),
    };
    let (refresh_token, hash) = new_refresh_token();
    let reply = state
        .core
        .execute(Command::OpenSession(OpenSession {
            user: user.user,
            refresh_hash: hash,
            expires_at: refresh_expiry(&state),
            two_fa_code: code,
            device_info: device_info(&headers),
            ip_address: peer.ip().to_string(),
        }))
        .await?;
    let Reply::Session(session) = reply else {
        return Err(ApiError::internal("unexpected reply to login"));
    };
    Ok(Json(token_body(
        &state,
        user.user,
        session.session,
        user.role,
        refresh_token,
    )))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct LogoutBody {
    /// The spec's token: an access token of one of the caller's sessions, which is the one
    /// ended (default: the session of the token this request is made with).
    token: Option<String>,
    /// Must be the caller.
    user_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct LoggedOut {
    logged_out: bool,
    /// The session that ended, `ses_<n>`.
    session_id: String,
}

/// Ends a session of the caller's: its tokens stop working and its sockets close.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    request_body(content = Option<LogoutBody>,
        description = "Optional; without it the session of this request's token ends"),
    responses((status = 200, description = "The session ended", body = LoggedOut)))]
async fn logout(
    State(state): State<AppState>,
    caller: AuthUser,
    OptBody(body): OptBody<LogoutBody>,
) -> ApiResult<Json<LoggedOut>> {
    caller.require_self("user_id", body.user_id.as_deref(), "you log yourself out")?;
    let session = match body.token.as_deref() {
        None => caller.session,
        Some(token) => {
            let claims =
                crate::auth::verify_access_token(&state.keys, token.trim(), AppState::now_secs())
                    .map_err(|e| ApiError::bad_request(format!("token: {e}")))?;
            if UserId::parse(&claims.sub) != Some(caller.user) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "token is not one of your sessions'",
                ));
            }
            SessionId(claims.sid)
        }
    };
    state
        .core
        .execute(Command::RevokeSession(RevokeSession {
            actor: caller.user,
            session,
        }))
        .await?;
    state.sessions.forget(session);
    Ok(Json(LoggedOut {
        logged_out: true,
        session_id: session.public(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    /// The `refresh_token` of the latest pair.
    refresh_token: String,
}

/// Exchanges a refresh token for a new token pair of the same session.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, description = "The session's new tokens", body = TokenPair),
        (status = 401, body = crate::error::ErrorBody, description =
            "The refresh token is unknown, expired or revoked, or was used before \
             (`refresh_token_reused`: the whole session is then revoked)"),
        (status = 403, body = crate::error::ErrorBody, description =
            "The account is suspended (`account_suspended`)")))]
async fn refresh_session(
    State(state): State<AppState>,
    Body(body): Body<RefreshBody>,
) -> ApiResult<Json<TokenPair>> {
    if body.refresh_token.len() > 128 {
        return Err(ApiError::from(ResultCode::SessionNotFound));
    }
    let (refresh_token, next_hash) = new_refresh_token();
    let reply = state
        .core
        .command(Command::RefreshSession(RefreshSession {
            presented_hash: refresh_hash(&body.refresh_token),
            next_hash,
            expires_at: refresh_expiry(&state),
        }))
        .await?;
    let session = match reply.response {
        betbet_protocol::message::Response::Accepted(Reply::Session(session)) => session,
        betbet_protocol::message::Response::Rejected(code) => {
            if code == ResultCode::RefreshTokenReused {
                tracing::warn!(
                    "a rotated refresh token was presented again; its session is revoked"
                );
            }
            return Err(ApiError::from(code));
        }
        _ => return Err(ApiError::internal("unexpected reply to refresh")),
    };
    let role = match state
        .query(Query::Session(SessionQuery {
            session: session.session,
        }))
        .await?
    {
        QueryReply::Session(view) => view.role,
        _ => return Err(ApiError::from(ResultCode::SessionNotFound)),
    };
    Ok(Json(token_body(
        &state,
        session.user,
        session.session,
        role,
        refresh_token,
    )))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct TwoFaEnableBody {
    /// The caller (default), or for an admin any user.
    user_id: Option<String>,
}

/// The user a 2FA route acts on: the caller, unless an admin names someone else.
fn two_fa_target(caller: &AuthUser, user_id: Option<&str>) -> ApiResult<UserId> {
    match user_id {
        None => Ok(caller.user),
        Some(id) => {
            let user = UserId::parse(id).ok_or_else(|| ApiError::not_found("user"))?;
            caller.may_access(user)?;
            Ok(user)
        }
    }
}

/// A TOTP secret waiting for its first code.
#[derive(Serialize, ToSchema)]
struct TwoFaSetup {
    /// The TOTP secret, base32 (SHA-1, 6 digits, 30 s).
    secret: String,
    /// The same secret as an `otpauth://totp/…` URI, for a QR code.
    otpauth_uri: String,
    /// Still false: 2FA is on once `/auth/2fa/verify` accepts a code.
    two_fa_enabled: bool,
    next: &'static str,
}

/// Starts turning on two-factor authentication: returns a new TOTP secret.
#[utoipa::path(post, path = "/auth/2fa/enable", tag = "auth",
    request_body(content = Option<TwoFaEnableBody>,
        description = "Optional; without it the caller's 2FA is set up"),
    responses((status = 200, description = "The secret to verify", body = TwoFaSetup)))]
async fn enable_two_fa(
    State(state): State<AppState>,
    caller: AuthUser,
    OptBody(body): OptBody<TwoFaEnableBody>,
) -> ApiResult<Json<TwoFaSetup>> {
    let user = two_fa_target(&caller, body.user_id.as_deref())?;
    let username = match state.query(Query::User(UserQuery { user })).await? {
        QueryReply::User(view) => view.username,
        _ => return Err(ApiError::not_found("user")),
    };
    let secret = random_bytes::<20>();
    state
        .core
        .execute(Command::BeginTwoFa(BeginTwoFa { user, secret }))
        .await?;
    Ok(Json(TwoFaSetup {
        secret: crate::auth::base32(&secret),
        otpauth_uri: otpauth_uri(&username, &secret),
        two_fa_enabled: false,
        next: "POST /api/v1/auth/2fa/verify with a current code to turn it on",
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TwoFaVerifyBody {
    /// The current six-digit code of the secret `/auth/2fa/enable` returned.
    #[schema(pattern = "^[0-9]{6}$")]
    code: String,
    /// The caller (default), or for an admin any user.
    user_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct TwoFaVerified {
    two_fa_enabled: bool,
    user_id: String,
}

/// Turns two-factor authentication on with a first valid code.
#[utoipa::path(post, path = "/auth/2fa/verify", tag = "auth", request_body = TwoFaVerifyBody,
    responses((status = 200, description = "2FA is on", body = TwoFaVerified)))]
async fn verify_two_fa(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<TwoFaVerifyBody>,
) -> ApiResult<Json<TwoFaVerified>> {
    let user = two_fa_target(&caller, body.user_id.as_deref())?;
    let code = two_fa_code(Some(body.code))?.expect("some code");
    state
        .core
        .execute(Command::VerifyTwoFa(VerifyTwoFa { user, code }))
        .await?;
    Ok(Json(TwoFaVerified {
        two_fa_enabled: true,
        user_id: user.public(),
    }))
}
