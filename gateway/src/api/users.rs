//! `/api/v1/users/*` (profile, stats), `/api/v1/kyc/*` and the admin user routes.

use super::table::{Access::*, BodyKind::*, GET, POST, PUT, Routes};
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{Body, money, opt_time, time};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use betbet_protocol::command::{
    Command, DecideKyc, Role, SetUserRole, SetUserStatus, SubmitKyc, UpdateProfile, UserStatus,
};
use betbet_protocol::message::Reply;
use betbet_protocol::query::{KycDocumentQuery, Query, QueryReply, UserQuery};
use betbet_protocol::types::{KycDocumentId, UserId};
use betbet_protocol::view::{KycDocumentView, UserView};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::routes;

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
    let (schemas, paths, upload) = routes!(submit_kyc);
    let upload = upload.layer(axum::extract::DefaultBodyLimit::max(upload_limit));
    Routes::new()
        .route(
            &[(GET, User, NoBody), (PUT, Owner, JsonBody)],
            routes!(get_profile, update_profile),
        )
        .route(&[(GET, Owner, NoBody)], routes!(user_stats))
        .route(&[(POST, User, MultipartBody)], (schemas, paths, upload))
        .route(&[(GET, Owner, NoBody)], routes!(kyc_status))
        .route(&[(POST, Admin, JsonBody)], routes!(approve_kyc))
        .route(&[(POST, Admin, JsonBody)], routes!(reject_kyc))
        .route(&[(POST, Admin, JsonBody)], routes!(set_user_role))
        .route(&[(POST, Admin, JsonBody)], routes!(set_user_status))
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

/// The profile fields anyone signed in may see.
#[derive(Serialize, ToSchema)]
pub struct PublicProfile {
    display_name: String,
    /// An http(s) URL, or empty.
    avatar_url: String,
    bio: String,
    /// ISO 3166-1 alpha-2, upper case, or empty.
    country_code: String,
    skill_rating: i32,
    verified_expert: bool,
}

fn public_profile(user: &UserView) -> PublicProfile {
    PublicProfile {
        display_name: user.display_name.clone(),
        avatar_url: user.avatar_url.clone(),
        bio: user.bio.clone(),
        country_code: user.country_code.clone(),
        skill_rating: user.skill_rating,
        verified_expert: user.verified_expert,
    }
}

/// What anyone signed in may see of a user.
#[derive(Serialize, ToSchema)]
pub struct PublicUser {
    /// `usr_<n>`.
    id: String,
    username: String,
    created_at: String,
    profile: PublicProfile,
}

/// What anyone signed in may see of a user.
pub fn public_user(user: &UserView) -> PublicUser {
    PublicUser {
        id: user.id.public(),
        username: user.username.clone(),
        created_at: time(user.created_at),
        profile: public_profile(user),
    }
}

/// The whole profile, as the user (or an admin) sees it.
#[derive(Serialize, ToSchema)]
pub struct PrivateProfile {
    #[serde(flatten)]
    public: PublicProfile,
    timezone: String,
    language: String,
    /// The client's own settings: any JSON object, `{}` when none were set.
    #[schema(value_type = Object)]
    settings: Value,
    /// Decimal string.
    total_earnings: String,
    /// Decimal string.
    total_wagered: String,
}

/// What the user (or an admin) sees of a user.
#[derive(Serialize, ToSchema)]
pub struct PrivateUser {
    /// `usr_<n>`.
    id: String,
    username: String,
    email: String,
    #[schema(pattern = "^(user|admin)$")]
    role: &'static str,
    #[schema(pattern = "^(active|suspended)$")]
    status: &'static str,
    /// 0 until a KYC document is approved.
    kyc_level: u8,
    /// The code others register with to be referred by this user.
    referral_code: String,
    /// The referrer's `usr_<n>`, or null.
    #[schema(required = true)]
    referred_by: Option<String>,
    two_fa_enabled: bool,
    created_at: String,
    updated_at: String,
    /// Null until the first login.
    #[schema(required = true)]
    last_login: Option<String>,
    profile: PrivateProfile,
}

/// What the user (or an admin) sees.
pub fn private_user(user: &UserView) -> PrivateUser {
    let settings: Value = if user.settings.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_str(&user.settings).unwrap_or_else(|_| Value::Object(Default::default()))
    };
    PrivateUser {
        id: user.id.public(),
        username: user.username.clone(),
        email: user.email.clone(),
        role: user.role.as_str(),
        status: user.status.as_str(),
        kyc_level: user.kyc_level,
        referral_code: user.referral_code.clone(),
        referred_by: user.referred_by.map(PublicId::public),
        two_fa_enabled: user.two_fa_enabled,
        created_at: time(user.created_at),
        updated_at: time(user.updated_at),
        last_login: opt_time(user.last_login),
        profile: PrivateProfile {
            public: public_profile(user),
            timezone: user.timezone.clone(),
            language: user.language.clone(),
            settings,
            total_earnings: money(user.total_earnings),
            total_wagered: money(user.total_wagered),
        },
    }
}

/// A user as the caller may see them: [`PrivateUser`] for the user themself or an admin,
/// [`PublicUser`] for anyone else.
#[derive(Serialize)]
#[serde(untagged)]
enum UserProfile {
    Private(Box<PrivateUser>),
    Public(PublicUser),
}

/// `anyOf`, not `oneOf`: a private user has every field of a public one.
impl utoipa::PartialSchema for UserProfile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::AnyOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name(PrivateUser::name()))
            .item(utoipa::openapi::Ref::from_schema_name(PublicUser::name()))
            .description(Some(
                "The private view for the user themself or an admin, the public view for \
                 anyone else",
            ))
            .into()
    }
}

impl ToSchema for UserProfile {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((PrivateUser::name().into(), PrivateUser::schema()));
        <PrivateUser as ToSchema>::schemas(schemas);
        schemas.push((PublicUser::name().into(), PublicUser::schema()));
        <PublicUser as ToSchema>::schemas(schemas);
    }
}

/// A user's profile: all of it for the user themself or an admin, the public part otherwise.
#[utoipa::path(get, path = "/users/{user_id}", tag = "users",
    responses((status = 200, description = "The user", body = UserProfile)))]
async fn get_profile(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<UserProfile>> {
    let user = parse_user(&user_id)?;
    let view = fetch_user(&state, user).await?;
    Ok(Json(if caller.may_access(user).is_ok() {
        UserProfile::Private(Box::new(private_user(&view)))
    } else {
        UserProfile::Public(public_user(&view))
    }))
}

/// Only the spec's `user_profiles` fields a user may set; anything else (role, kyc_level,
/// skill_rating, verified_expert, totals…) is an unknown field and a 400.
/// Absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProfileUpdateBody {
    display_name: Option<String>,
    /// An `http://` or `https://` URL; empty clears it.
    avatar_url: Option<String>,
    bio: Option<String>,
    /// ISO 3166-1 alpha-2, any case.
    country_code: Option<String>,
    timezone: Option<String>,
    language: Option<String>,
    /// Any JSON object; it replaces the stored settings.
    #[schema(value_type = Option<Object>)]
    settings: Option<Value>,
}

/// The profile update as the document describes it: the fields, or the spec's
/// `profile_data` wrapping them (read by [`crate::json::unwrap_named`]).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document only")]
enum ProfileUpdateRequest {
    Fields(ProfileUpdateBody),
    Wrapped(ProfileDataWrapper),
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document only")]
struct ProfileDataWrapper {
    profile_data: ProfileUpdateBody,
}

/// Changes the user's profile.
#[utoipa::path(put, path = "/users/{user_id}", tag = "users",
    request_body(content = ProfileUpdateRequest,
        description = "The fields to change, as the object itself or wrapped as \
            `{\"profile_data\": {…}}`"),
    responses((status = 200, description = "The updated user", body = PrivateUser)))]
async fn update_profile(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Body(body): Body<Value>,
) -> ApiResult<Json<PrivateUser>> {
    let user = parse_user(&user_id)?;
    caller.may_access(user)?;
    // The spec's `profile_data` may come wrapped (`{"profile_data": {…}}`) or as the object.
    let body: ProfileUpdateBody = crate::json::unwrap_named(body, "profile_data")?;
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

/// A user's trading record.
#[derive(Serialize, ToSchema)]
struct UserStats {
    user_id: String,
    /// Decimal string.
    total_wagered: String,
    /// Decimal string.
    total_earnings: String,
    orders_placed: u64,
    trades: u64,
    markets_traded: u32,
    markets_won: u32,
    markets_lost: u32,
    /// Markets won out of those won or lost, in percent with two decimals (`"66.66"`,
    /// truncated); null before any is decided.
    #[schema(pattern = r"^[0-9]{1,3}\.[0-9]{2}$")]
    #[schema(required = true)]
    win_rate_percent: Option<String>,
    open_orders: u32,
    open_positions: u32,
}

/// The user's trading statistics.
#[utoipa::path(get, path = "/users/{user_id}/stats", tag = "users",
    responses((status = 200, description = "The statistics", body = UserStats)))]
async fn user_stats(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<UserStats>> {
    let user = parse_user(&user_id)?;
    caller.may_access(user)?;
    let QueryReply::Stats(stats) = state.query(Query::Stats(UserQuery { user })).await? else {
        return Err(ApiError::not_found("user"));
    };
    let decided = stats.markets_won + stats.markets_lost;
    let win_rate = if decided == 0 {
        None
    } else {
        // Percent with two decimals, computed in integers.
        let basis_points = u64::from(stats.markets_won) * 10_000 / u64::from(decided);
        Some(format!("{}.{:02}", basis_points / 100, basis_points % 100))
    };
    Ok(Json(UserStats {
        user_id: user.public(),
        total_wagered: money(stats.total_wagered),
        total_earnings: money(stats.total_earnings),
        orders_placed: stats.orders_placed,
        trades: stats.trades,
        markets_traded: stats.markets_traded,
        markets_won: stats.markets_won,
        markets_lost: stats.markets_lost,
        win_rate_percent: win_rate,
        open_orders: stats.open_orders,
        open_positions: stats.open_positions,
    }))
}

/// A submitted KYC document and its review.
#[derive(Serialize, ToSchema)]
struct KycDocument {
    /// `kyc_<n>`.
    id: String,
    user_id: String,
    document_type: String,
    /// Where the file is stored, relative to the server's data directory.
    document_url: String,
    #[schema(pattern = "^(image/jpeg|image/png|application/pdf)$")]
    content_type: String,
    size_bytes: u64,
    #[schema(pattern = "^(pending|approved|rejected)$")]
    status: &'static str,
    submitted_at: String,
    /// When it was approved or rejected; null while pending.
    #[schema(required = true)]
    verified_at: Option<String>,
    /// The admin who decided, `usr_<n>`; null while pending.
    #[schema(required = true)]
    verified_by: Option<String>,
    /// The level an approval granted; 0 otherwise.
    kyc_level: u8,
    /// The reviewer's notes.
    notes: String,
}

fn kyc_json(document: &KycDocumentView) -> KycDocument {
    KycDocument {
        id: document.id.public(),
        user_id: document.user.public(),
        document_type: document.document_type.clone(),
        document_url: document.document_url.clone(),
        content_type: document.content_type.clone(),
        size_bytes: document.size_bytes,
        status: document.status.as_str(),
        submitted_at: time(document.submitted_at),
        verified_at: opt_time(document.verified_at),
        verified_by: document.verified_by.map(PublicId::public),
        kyc_level: document.kyc_level,
        notes: document.notes.clone(),
    }
}

/// The parts of a KYC upload (for the document only; the handler reads the parts itself).
#[derive(ToSchema)]
#[expect(dead_code, reason = "it only describes the parts to the document")]
struct KycUpload {
    /// What the document is (`passport`, `id_card`, …); one line of text.
    document_type: String,
    /// The file: a JPEG, PNG or PDF, with that part's `Content-Type` set to match (the
    /// file's first bytes are checked too), at most the server's upload limit.
    #[schema(value_type = String, format = Binary)]
    document_file: Vec<u8>,
    /// The user it is for: the caller, or whom an admin acts for (default: the caller).
    user_id: Option<String>,
}

/// Submits a KYC document for review.
#[utoipa::path(post, path = "/kyc/submit", tag = "kyc",
    request_body(content = KycUpload, content_type = "multipart/form-data"),
    responses((status = 201, description = "The document, pending review", body = KycDocument)))]
async fn submit_kyc(
    State(state): State<AppState>,
    caller: AuthUser,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<KycDocument>)> {
    let mut multipart = multipart.map_err(|rejection| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "expected a multipart/form-data body with user_id, document_type and \
                 document_file: {}",
                rejection.body_text()
            ),
        )
    })?;
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

/// A user's KYC level and documents.
#[derive(Serialize, ToSchema)]
struct UserKycStatus {
    user_id: String,
    kyc_level: u8,
    /// The status of the latest document, or `none` when there is none.
    #[schema(pattern = "^(none|pending|approved|rejected)$")]
    status: &'static str,
    /// Oldest first.
    documents: Vec<KycDocument>,
}

/// The user's KYC level and submitted documents.
#[utoipa::path(get, path = "/kyc/status/{user_id}", tag = "kyc",
    responses((status = 200, description = "The KYC status", body = UserKycStatus)))]
async fn kyc_status(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<UserKycStatus>> {
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
    Ok(Json(UserKycStatus {
        user_id: user.public(),
        kyc_level: status.kyc_level,
        status: latest,
        documents: status.documents.iter().map(kyc_json).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct KycApproveBody {
    /// The level the user gets.
    #[schema(minimum = 1, maximum = 10)]
    kyc_level: u8,
    /// For the record (default: empty).
    #[serde(default)]
    notes: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct KycRejectBody {
    /// Why, for the record (default: empty).
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
) -> ApiResult<Json<KycDocument>> {
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

/// Approves a pending KYC document, giving its user a KYC level.
#[utoipa::path(post, path = "/admin/kyc/{document_id}/approve", tag = "admin",
    request_body = KycApproveBody,
    responses((status = 200, description = "The approved document", body = KycDocument)))]
async fn approve_kyc(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Body(body): Body<KycApproveBody>,
) -> ApiResult<Json<KycDocument>> {
    if body.kyc_level == 0 || body.kyc_level > 10 {
        return Err(ApiError::bad_request("kyc_level must be 1 to 10"));
    }
    decide(&state, caller, &id, true, body.kyc_level, body.notes).await
}

/// Rejects a pending KYC document.
#[utoipa::path(post, path = "/admin/kyc/{document_id}/reject", tag = "admin",
    request_body = KycRejectBody,
    responses((status = 200, description = "The rejected document", body = KycDocument)))]
async fn reject_kyc(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Body(body): Body<KycRejectBody>,
) -> ApiResult<Json<KycDocument>> {
    decide(&state, caller, &id, false, 0, body.notes).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SetRoleBody {
    #[schema(pattern = "^(user|admin)$")]
    role: String,
}

/// Sets a user's role.
#[utoipa::path(post, path = "/admin/users/{user_id}/role", tag = "admin",
    request_body = SetRoleBody,
    responses((status = 200, description = "The user", body = PrivateUser)))]
async fn set_user_role(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Body(body): Body<SetRoleBody>,
) -> ApiResult<Json<PrivateUser>> {
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SetStatusBody {
    /// `suspended` closes the user's sockets and refuses their requests.
    #[schema(pattern = "^(active|suspended)$")]
    status: String,
}

/// Suspends or reactivates a user.
#[utoipa::path(post, path = "/admin/users/{user_id}/status", tag = "admin",
    request_body = SetStatusBody,
    responses((status = 200, description = "The user", body = PrivateUser)))]
async fn set_user_status(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Body(body): Body<SetStatusBody>,
) -> ApiResult<Json<PrivateUser>> {
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
