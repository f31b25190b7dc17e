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
use axum::routing::{delete, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use betbet_protocol::command::{Command, CreateApiKey, RevokeApiKey};
use betbet_protocol::message::Reply;
use betbet_protocol::query::{ApiKeyQuery, Query, QueryReply, UserQuery};
use betbet_protocol::result::ResultCode;
use betbet_protocol::view::ApiKeyView;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(
            "/api-keys",
            &[(POST, User, JsonBody), (GET, User, NoBody)],
            post(create).get(list),
        )
        .route(
            "/api-keys/{key_id}",
            &[(DELETE, Owner, NoBody)],
            delete(revoke),
        )
}

fn public_id(id: u64) -> String {
    format!("key_{id}")
}

fn parse(id: &str) -> ApiResult<u64> {
    id.strip_prefix("key_")
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| crate::ids::invalid_id("API key", id))
}

fn key_json(key: &ApiKeyView) -> Value {
    json!({
        "id": public_id(key.id),
        "key_id": key.id,
        "user_id": key.user.public(),
        "name": key.name,
        "created_at": time(key.created_at),
        "revoked_at": opt_time(key.revoked_at),
        "last_login": opt_time(key.last_login),
        "logins": key.logins,
        "status": if key.revoked_at.is_some() { "revoked" } else { "active" },
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
    let mut body = key_json(&key);
    body["secret"] = secret.into();
    body["note"] =
        "The secret is shown only now. Sign feed logins with HMAC-SHA256 under it.".into();
    Ok((StatusCode::CREATED, Json(body)))
}

async fn list(State(state): State<AppState>, caller: AuthUser) -> ApiResult<Json<Value>> {
    let QueryReply::ApiKeys(keys) = state
        .query(Query::ApiKeys(UserQuery { user: caller.user }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(
        json!({ "api_keys": keys.iter().map(key_json).collect::<Vec<_>>() }),
    ))
}

async fn revoke(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(key_id): Path<String>,
) -> ApiResult<Json<Value>> {
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
