//! `/api/v1/users/*` (profile, stats), `/api/v1/kyc/*` and the admin user routes.

use super::table::{Access::*, BodyKind::*, GET, POST, PUT, Routes};
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{Body, money, opt_time, time};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use betbet_protocol::command::{
    Command, DecideKyc, Role, SetUserRole, SetUserStatus, SubmitKyc, UpdateProfile, UserStatus,
};
use betbet_protocol::message::Reply;
use betbet_protocol::query::{KycDocumentQuery, Query, QueryReply, UserQuery};
use betbet_protocol::types::{KycDocumentId, UserId};
use betbet_protocol::view::{KycDocumentView, UserView};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Accepted KYC uploads: content type, file extension, and the magic bytes the file must
/// start with (the declared type alone proves nothing).
const KYC_TYPES: [(&str, &str, &[u8]); 3] = [
    ("image/jpeg", "jpg", &[0xFF, 0xD8, 0xFF]),
    ("image/png", "png", &[0x89, b'P', b'N', b'G']),
    ("application/pdf", "pdf", b"%PDF"),
];

pub fn routes(config: &crate::config::GatewayConfig) -> Routes<AppState> {
    // Uploads get their own body limit; every other route keeps the small default.
    let upload_limit = config.kyc_upload_limit_bytes + 64 * 1024;
    Routes::new()
        .route(
            "/users/{user_id}",
            &[(GET, User, NoBody), (PUT, Owner, JsonBody)],
            get(get_profile).put(update_profile),
        )
        .route(
            "/users/{user_id}/stats",
            &[(GET, Owner, NoBody)],
            get(stats),
        )
        .route(
            "/kyc/submit",
            &[(POST, User, MultipartBody)],
            post(submit_kyc).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/kyc/status/{user_id}",
            &[(GET, Owner, NoBody)],
            get(kyc_status),
        )
        .route(
            "/admin/kyc/{document_id}/approve",
            &[(POST, Admin, JsonBody)],
            post(approve_kyc),
        )
        .route(
            "/admin/kyc/{document_id}/reject",
            &[(POST, Admin, JsonBody)],
            post(reject_kyc),
        )
        .route(
            "/admin/users/{user_id}/role",
            &[(POST, Admin, JsonBody)],
            post(set_role),
        )
        .route(
            "/admin/users/{user_id}/status",
            &[(POST, Admin, JsonBody)],
            post(set_status),
        )
}

pub fn parse_user(id: &str) -> ApiResult<UserId> {
    crate::ids::parse_path(id, "user")
}

pub async fn fetch_user(state: &AppState, user: UserId) -> ApiResult<UserView> {
    match state.query(Query::User(UserQuery { user })).await? {
        QueryReply::User(view) => Ok(view),
        _ => Err(ApiError::not_found("user")),
    }
}

fn public_profile(user: &UserView) -> Value {
    json!({
        "display_name": user.display_name,
        "avatar_url": user.avatar_url,
        "bio": user.bio,
        "country_code": user.country_code,
        "skill_rating": user.skill_rating,
        "verified_expert": user.verified_expert,
    })
}

/// What anyone signed in may see of a user.
pub fn public_user(user: &UserView) -> Value {
    json!({
        "id": user.id.public(),
        "username": user.username,
        "created_at": time(user.created_at),
        "profile": public_profile(user),
    })
}

/// What the user (or an admin) sees.
pub fn private_user(user: &UserView) -> Value {
    let mut profile = public_profile(user);
    let settings: Value = if user.settings.is_empty() {
        json!({})
    } else {
        serde_json::from_str(&user.settings).unwrap_or_else(|_| json!({}))
    };
    let extra = json!({
        "timezone": user.timezone,
        "language": user.language,
        "settings": settings,
        "total_earnings": money(user.total_earnings),
        "total_wagered": money(user.total_wagered),
    });
    profile
        .as_object_mut()
        .expect("object")
        .extend(extra.as_object().expect("object").clone());
    json!({
        "id": user.id.public(),
        "username": user.username,
        "email": user.email,
        "role": user.role.as_str(),
        "status": user.status.as_str(),
        "kyc_level": user.kyc_level,
        "referral_code": user.referral_code,
        "referred_by": user.referred_by.map(PublicId::public),
        "two_fa_enabled": user.two_fa_enabled,
        "created_at": time(user.created_at),
        "updated_at": time(user.updated_at),
        "last_login": opt_time(user.last_login),
        "profile": profile,
    })
}

async fn get_profile(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = parse_user(&user_id)?;
    let view = fetch_user(&state, user).await?;
    Ok(Json(if caller.may_access(user).is_ok() {
        private_user(&view)
    } else {
        public_user(&view)
    }))
}

/// Only the spec's `user_profiles` fields a user may set; anything else (role, kyc_level,
/// skill_rating, verified_expert, totals…) is an unknown field and a 400.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    display_name: Option<String>,
    avatar_url: Option<String>,
    bio: Option<String>,
    country_code: Option<String>,
    timezone: Option<String>,
    language: Option<String>,
    settings: Option<Value>,
}

async fn update_profile(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Body(body): Body<Value>,
) -> ApiResult<Json<Value>> {
    let user = parse_user(&user_id)?;
    caller.may_access(user)?;
    // The spec's `profile_data` may come wrapped (`{"profile_data": {…}}`) or as the object.
    let body = match body {
        Value::Object(mut outer) if outer.len() == 1 && outer.contains_key("profile_data") => {
            outer.remove("profile_data").unwrap_or_default()
        }
        plain => plain,
    };
    let body: ProfileBody =
        serde_json::from_value(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let settings = match body.settings {
        None => None,
        Some(value @ Value::Object(_)) => Some(value.to_string()),
        Some(_) => return Err(ApiError::bad_request("settings must be a JSON object")),
    };
    if let Some(url) = &body.avatar_url
        && !url.is_empty()
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(ApiError::bad_request("avatar_url must be an http(s) URL"));
    }
    state
        .core
        .execute(Command::UpdateProfile(UpdateProfile {
            actor: caller.user,
            user,
            display_name: body.display_name,
            avatar_url: body.avatar_url,
            bio: body.bio,
            country_code: body.country_code.map(|c| c.to_ascii_uppercase()),
            timezone: body.timezone,
            language: body.language,
            settings,
        }))
        .await?;
    Ok(Json(private_user(&fetch_user(&state, user).await?)))
}

async fn stats(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = parse_user(&user_id)?;
    caller.may_access(user)?;
    let QueryReply::Stats(stats) = state.query(Query::Stats(UserQuery { user })).await? else {
        return Err(ApiError::not_found("user"));
    };
    let decided = stats.markets_won + stats.markets_lost;
    let win_rate = if decided == 0 {
        Value::Null
    } else {
        // Percent with two decimals, computed in integers.
        let basis_points = u64::from(stats.markets_won) * 10_000 / u64::from(decided);
        Value::String(format!("{}.{:02}", basis_points / 100, basis_points % 100))
    };
    Ok(Json(json!({
        "user_id": user.public(),
        "total_wagered": money(stats.total_wagered),
        "total_earnings": money(stats.total_earnings),
        "orders_placed": stats.orders_placed,
        "trades": stats.trades,
        "markets_traded": stats.markets_traded,
        "markets_won": stats.markets_won,
        "markets_lost": stats.markets_lost,
        "win_rate_percent": win_rate,
        "open_orders": stats.open_orders,
        "open_positions": stats.open_positions,
    })))
}

fn kyc_json(document: &KycDocumentView) -> Value {
    json!({
        "id": document.id.public(),
        "user_id": document.user.public(),
        "document_type": document.document_type,
        "document_url": document.document_url,
        "content_type": document.content_type,
        "size_bytes": document.size_bytes,
        "status": document.status.as_str(),
        "submitted_at": time(document.submitted_at),
        "verified_at": opt_time(document.verified_at),
        "verified_by": document.verified_by.map(PublicId::public),
        "kyc_level": document.kyc_level,
        "notes": document.notes,
    })
}

/// `multipart/form-data` with `document_type` and `document_file`.
async fn submit_kyc(
    State(state): State<AppState>,
    caller: AuthUser,
    mut multipart: Multipart,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let _slot = crate::uploads::slot().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many uploads at once; retry shortly",
        )
    })?;
    let limit = state.config.kyc_upload_limit_bytes;
    let (mut document_type, mut file, mut user_id) = (None, None, None);
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("bad multipart body: {e}")))?
    {
        match field.name() {
            Some("document_type") => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                document_type = Some(text);
            }
            // The spec's user: the caller (or, for an admin, the user they act for).
            Some("user_id") => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                user_id = Some(text);
            }
            Some("document_file") => {
                let declared = field.content_type().unwrap_or("").to_ascii_lowercase();
                let mut bytes = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| ApiError::bad_request(e.to_string()))?
                {
                    if bytes.len() + chunk.len() > limit {
                        return Err(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "file_too_large",
                            format!("documents are at most {limit} bytes"),
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some((declared, bytes));
            }
            Some(other) => {
                return Err(ApiError::bad_request(format!("unknown field `{other}`")));
            }
            None => return Err(ApiError::bad_request("unnamed multipart field")),
        }
    }
    let user = caller.acting_for(user_id.as_deref())?;
    let document_type =
        document_type.ok_or_else(|| ApiError::bad_request("document_type is required"))?;
    let (declared, bytes) =
        file.ok_or_else(|| ApiError::bad_request("document_file is required"))?;
    let Some(&(content_type, extension, magic)) = KYC_TYPES.iter().find(|(t, _, _)| *t == declared)
    else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "documents must be image/jpeg, image/png or application/pdf",
        ));
    };
    if !bytes.starts_with(magic) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("the file is not a {content_type}"),
        ));
    }
    // Everything the core will check of the text, checked before anything is written.
    betbet_engine::text::line(&document_type, betbet_engine::text::DOCUMENT_TYPE_MAX)
        .map_err(ApiError::from)?;
    let sha256: [u8; 32] = Sha256::digest(&bytes).into();
    let name: String = crate::auth::random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let relative = format!("{KYC_AREA}/{}/{name}.{extension}", user.0);
    let size = bytes.len() as u64;
    // Stored under a temporary name until the record is durable; removed if it is refused.
    let staged = crate::uploads::Staged::write(&state.config.data_dir, &relative, bytes)
        .await
        .map_err(|e| ApiError::internal(format!("storing the document failed: {e}")))?;
    let reply = state
        .core
        .execute(Command::SubmitKyc(SubmitKyc {
            user,
            document_type,
            document_url: relative,
            content_type: content_type.to_owned(),
            size_bytes: size,
            sha256,
        }))
        .await?;
    let Reply::Created(created) = reply else {
        return Err(ApiError::internal("unexpected reply to KYC submission"));
    };
    staged
        .commit()
        .await
        .map_err(|e| ApiError::internal(format!("storing the document failed: {e}")))?;
    let document = fetch_kyc(&state, KycDocumentId(created.id)).await?;
    Ok((StatusCode::CREATED, Json(kyc_json(&document))))
}

/// Where KYC documents live under the data directory (`kyc/USER/NAME.EXT`).
const KYC_AREA: &str = "kyc";

/// At start-up: keeps exactly the KYC files that records point at (see [`crate::uploads`]).
pub async fn sweep_kyc_files(state: &AppState) {
    let referenced = async |owner: &str| -> Option<std::collections::HashSet<String>> {
        let user = UserId(owner.parse().ok()?);
        match state.query(Query::Kyc(UserQuery { user })).await {
            Ok(QueryReply::Kyc(view)) => {
                Some(view.documents.into_iter().map(|d| d.document_url).collect())
            }
            // No such user: nothing of theirs is referenced.
            Ok(_) => Some(Default::default()),
            Err(_) => None,
        }
    };
    match crate::uploads::sweep(&state.config.data_dir, KYC_AREA, referenced).await {
        Ok(swept) if swept.restored + swept.removed > 0 => tracing::warn!(
            kept = swept.kept,
            restored = swept.restored,
            removed = swept.removed,
            "KYC files without a record removed, staged ones with a record restored"
        ),
        Ok(_) => {}
        Err(error) => tracing::error!(%error, "could not sweep the KYC files"),
    }
}

async fn fetch_kyc(state: &AppState, id: KycDocumentId) -> ApiResult<KycDocumentView> {
    match state
        .query(Query::KycDocument(KycDocumentQuery { id }))
        .await?
    {
        QueryReply::KycDocument(document) => Ok(document),
        _ => Err(ApiError::not_found("KYC document")),
    }
}

async fn kyc_status(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = parse_user(&user_id)?;
    caller.may_access(user)?;
    let QueryReply::Kyc(status) = state.query(Query::Kyc(UserQuery { user })).await? else {
        return Err(ApiError::not_found("user"));
    };
    let latest = status
        .documents
        .last()
        .map(|d| d.status.as_str())
        .unwrap_or("none");
    Ok(Json(json!({
        "user_id": user.public(),
        "kyc_level": status.kyc_level,
        "status": latest,
        "documents": status.documents.iter().map(kyc_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    kyc_level: u8,
    #[serde(default)]
    notes: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    #[serde(default)]
    notes: String,
}

async fn decide(
    state: &AppState,
    caller: AuthUser,
    id: &str,
    approve: bool,
    level: u8,
    notes: String,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let document: KycDocumentId = crate::ids::parse_path(id, "KYC document")?;
    state
        .core
        .execute(Command::DecideKyc(DecideKyc {
            actor: caller.user,
            document,
            approve,
            kyc_level: level,
            notes,
        }))
        .await?;
    Ok(Json(kyc_json(&fetch_kyc(state, document).await?)))
}

async fn approve_kyc(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Body(body): Body<ApproveBody>,
) -> ApiResult<Json<Value>> {
    if body.kyc_level == 0 || body.kyc_level > 10 {
        return Err(ApiError::bad_request("kyc_level must be 1 to 10"));
    }
    decide(&state, caller, &id, true, body.kyc_level, body.notes).await
}

async fn reject_kyc(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Body(body): Body<RejectBody>,
) -> ApiResult<Json<Value>> {
    decide(&state, caller, &id, false, 0, body.notes).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
}

async fn set_role(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Body(body): Body<RoleBody>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let user = parse_user(&user_id)?;
    let role = Role::parse(&body.role)
        .ok_or_else(|| ApiError::bad_request("role is `user` or `admin`"))?;
    state
        .core
        .execute(Command::SetUserRole(SetUserRole {
            actor: caller.user,
            user,
            role,
        }))
        .await?;
    Ok(Json(private_user(&fetch_user(&state, user).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

async fn set_status(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Body(body): Body<StatusBody>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let user = parse_user(&user_id)?;
    let status = UserStatus::parse(&body.status)
        .ok_or_else(|| ApiError::bad_request("status is `active` or `suspended`"))?;
    state
        .core
        .execute(Command::SetUserStatus(SetUserStatus {
            actor: caller.user,
            user,
            status,
        }))
        .await?;
    Ok(Json(private_user(&fetch_user(&state, user).await?)))
}
