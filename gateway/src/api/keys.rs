//! `/api/v1/api-keys`: keys for the QUIC market-maker feed. The secret is generated here,
//! shown once in the creation response, and kept only sealed.

use super::table::{Access::*, BodyKind::*, DELETE, GET, POST, Routes};
use crate::auth::random_bytes;
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{Body, opt_time, time};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use betbet_protocol::command::{Command, CreateApiKey, RevokeApiKey};
use betbet_protocol::message::Reply;
use betbet_protocol::query::{ApiKeyQuery, Query, QueryReply, UserQuery};
use betbet_protocol::result::ResultCode;
use betbet_protocol::view::ApiKeyView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(
            &[(POST, User, JsonBody), (GET, User, NoBody)],
            routes!(create_api_key, list_api_keys),
        )
        .route(&[(DELETE, Owner, NoBody)], routes!(revoke_api_key))
}

fn public_id(id: u64) -> String {
    format!("key_{id}")
}

fn parse(id: &str) -> ApiResult<u64> {
    betbet_protocol::ids::parse_prefixed(id, "key")
        .ok_or_else(|| crate::ids::invalid_id("API key", id))
}

/// A key of the QUIC feed.
#[derive(Serialize, ToSchema)]
struct ApiKey {
    /// `key_<n>`.
    id: String,
    /// The number the feed's login message carries.
    key_id: u64,
    user_id: String,
    name: String,
    created_at: String,
    #[schema(required = true)]
    revoked_at: Option<String>,
    #[schema(required = true)]
    last_login: Option<String>,
    logins: u64,
    #[schema(pattern = "^(active|revoked)$")]
    status: &'static str,
}

fn key_json(key: &ApiKeyView) -> ApiKey {
    ApiKey {
        id: public_id(key.id),
        key_id: key.id,
        user_id: key.user.public(),
        name: key.name.clone(),
        created_at: time(key.created_at),
        revoked_at: opt_time(key.revoked_at),
        last_login: opt_time(key.last_login),
        logins: key.logins,
        status: if key.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        },
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateApiKeyBody {
    /// What the key is for, shown in the list: one line of at most 100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    name: String,
}

/// A new key, with its secret shown this once.
#[derive(Serialize, ToSchema)]
struct CreatedApiKey {
    #[serde(flatten)]
    key: ApiKey,
    /// URL-safe base64 of 32 random bytes; sign feed logins with HMAC-SHA256 under it.
    secret: String,
    note: &'static str,
}

#[derive(Serialize, ToSchema)]
struct ApiKeyList {
    api_keys: Vec<ApiKey>,
}

/// Creates a key for the QUIC market-maker feed.
#[utoipa::path(post, path = "/api-keys", tag = "api-keys", request_body = CreateApiKeyBody,
    responses((status = 201, description = "The key and its secret", body = CreatedApiKey)))]
async fn create_api_key(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreateApiKeyBody>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let reply = state
        .core
        .execute(Command::CreateApiKey(CreateApiKey {
            actor: caller.user,
            name: body.name,
            sealed_secret: state.keys.seal(secret.as_bytes()),
        }))
        .await?;
    let Reply::Created(created) = reply else {
        return Err(ApiError::internal("unexpected reply"));
    };
    let QueryReply::ApiKey(key) = state
        .query(Query::ApiKey(ApiKeyQuery { key: created.id }))
        .await?
    else {
        return Err(ApiError::from(ResultCode::ApiKeyNotFound));
    };
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: key_json(&key),
            secret,
            note: "The secret is shown only now. Sign feed logins with HMAC-SHA256 under it.",
        }),
    ))
}

/// The caller's keys, revoked ones included.
#[utoipa::path(get, path = "/api-keys", tag = "api-keys",
    responses((status = 200, body = ApiKeyList)))]
async fn list_api_keys(
    State(state): State<AppState>,
    caller: AuthUser,
) -> ApiResult<Json<ApiKeyList>> {
    let QueryReply::ApiKeys(keys) = state
        .query(Query::ApiKeys(UserQuery { user: caller.user }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(ApiKeyList {
        api_keys: keys.iter().map(key_json).collect(),
    }))
}

/// Revokes one of the caller's keys; feed sessions under it end.
#[utoipa::path(delete, path = "/api-keys/{key_id}", tag = "api-keys",
    responses((status = 200, description = "The revoked key", body = ApiKey)))]
async fn revoke_api_key(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(key_id): Path<String>,
) -> ApiResult<Json<ApiKey>> {
    let key = parse(&key_id)?;
    state
        .core
        .execute(Command::RevokeApiKey(RevokeApiKey {
            actor: caller.user,
            key,
        }))
        .await?;
    let QueryReply::ApiKey(view) = state.query(Query::ApiKey(ApiKeyQuery { key })).await? else {
        return Err(ApiError::from(ResultCode::ApiKeyNotFound));
    };
    Ok(Json(key_json(&view)))
}
