//! Communities: the list, create, one community, join, leave, members, moderation and
//! the moderation log.

use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{
    Body, Dec, OptBody, PAGE_MAX, Params, amount, bounded, currency, money, opt_time, time,
    timestamp,
};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use betbet_persistence::schema;
use betbet_protocol::command::Command;
use betbet_protocol::message::Reply;
use betbet_protocol::query::{PAGE_LIMIT_MAX, Query, QueryReply, UserQuery};
use betbet_protocol::result::ResultCode;
use betbet_protocol::social::*;
use betbet_protocol::types::{Amount, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn parse_community(id: &str) -> ApiResult<CommunityId> {
    crate::ids::parse_path(id, "community")
}

#[derive(Serialize, ToSchema)]
pub(super) struct CommunityMember {
    community_id: String,
    user_id: String,
    /// Null if the user is gone from the core.
    username: Option<String>,
    #[schema(pattern = "^(owner|admin|moderator|member)$")]
    role: &'static str,
    /// `active`, or `pending` (asked to join a private community) or `invited`.
    #[schema(pattern = "^(active|pending|invited)$")]
    status: &'static str,
    /// When they joined (or asked to, or were invited).
    joined_at: String,
    /// They may not post until then (past: no longer muted).
    muted_until: Option<String>,
    /// They may not post, read a private community or leave until then.
    banned_until: Option<String>,
    /// What joining cost them.
    fee_paid: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Community {
    id: String,
    name: String,
    description: String,
    category: String,
    /// `public` (join at once), `private` (a request an owner or admin approves, or an
    /// invitation) or `paid` (the fee moves to the owner, less the platform's fee).
    #[serde(rename = "type")]
    #[schema(pattern = "^(public|private|paid)$")]
    kind: &'static str,
    membership_fee: String,
    currency: String,
    owner_id: String,
    member_count: u32,
    /// Pending join requests and invitations.
    pending_count: u32,
    created_at: String,
    last_activity: String,
    /// +1 on every change of the community or its memberships.
    version: u64,
    /// The caller's own membership (absent from lists; null if none).
    #[serde(skip_serializing_if = "Option::is_none")]
    membership: Option<Option<CommunityMember>>,
}

fn member_json(v: &MemberView, username: Option<String>) -> CommunityMember {
    CommunityMember {
        community_id: v.community.public(),
        user_id: v.user.public(),
        username,
        role: v.role.as_str(),
        status: v.status.as_str(),
        joined_at: time(v.joined_at),
        muted_until: opt_time(v.muted_until),
        banned_until: opt_time(v.banned_until),
        fee_paid: money(v.fee_paid),
    }
}

fn community_json(v: &CommunityView, membership: Option<Option<CommunityMember>>) -> Community {
    Community {
        id: v.id.public(),
        name: v.name.clone(),
        description: v.description.clone(),
        category: v.category.clone(),
        kind: v.kind.as_str(),
        membership_fee: money(v.membership_fee),
        currency: v.currency.to_string(),
        owner_id: v.owner.public(),
        member_count: v.member_count,
        pending_count: v.pending_count,
        created_at: time(v.created_at),
        last_activity: time(v.last_activity),
        version: v.version,
        membership,
    }
}

pub(super) async fn username(state: &AppState, user: UserId) -> ApiResult<Option<String>> {
    Ok(match state.query(Query::User(UserQuery { user })).await? {
        QueryReply::User(u) => Some(u.username),
        _ => None,
    })
}

/// The community as `viewer` sees it, or 404.
async fn fetch(
    state: &AppState,
    community: CommunityId,
    viewer: UserId,
) -> ApiResult<CommunityView> {
    match state
        .query(Query::Community(CommunityQuery { community, viewer }))
        .await?
    {
        QueryReply::Community(view) => Ok(view),
        _ => Err(ApiError::from(ResultCode::CommunityNotFound)),
    }
}

/// The community with the caller's membership.
async fn viewed(state: &AppState, community: CommunityId, caller: UserId) -> ApiResult<Community> {
    let view = fetch(state, community, caller).await?;
    let membership = match &view.viewer {
        Some(m) => Some(member_json(m, username(state, caller).await?)),
        None => None,
    };
    Ok(community_json(&view, Some(membership)))
}

/// The caller's active, unbanned role in the community, if any.
fn active_role(view: &CommunityView) -> Option<MemberRole> {
    let now = Timestamp::from_secs(AppState::now_secs());
    view.viewer
        .as_ref()
        .filter(|m| m.status == MemberStatus::Active)
        .filter(|m| m.banned_until.is_none_or(|until| until <= now))
        .map(|m| m.role)
}

/// 403 unless the caller may read the community's threads: a public one unless banned
/// there, any as an active unbanned member, any as a platform admin.
pub(super) async fn require_reader(
    state: &AppState,
    community: CommunityId,
    caller: &AuthUser,
) -> ApiResult<CommunityView> {
    let view = fetch(state, community, caller.user).await?;
    let now = Timestamp::from_secs(AppState::now_secs());
    let banned = view
        .viewer
        .as_ref()
        .is_some_and(|m| m.banned_until.is_some_and(|until| until > now));
    let readable = caller.is_admin()
        || match view.kind {
            CommunityType::Public => !banned,
            CommunityType::Private | CommunityType::Paid => active_role(&view).is_some(),
        };
    if !readable {
        return Err(ApiError::from(ResultCode::MembersOnly));
    }
    Ok(view)
}

/// A new community. `name` is the spec's, unique without regard to case; the rest has
/// defaults.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateCommunityBody {
    /// 1 to 100 characters.
    #[schema(max_length = 100)]
    name: String,
    /// Up to 2 000 characters (default empty).
    #[schema(max_length = 2000)]
    description: Option<String>,
    /// Up to 50 characters, kept in lower case (default none).
    #[schema(max_length = 50)]
    category: Option<String>,
    /// `public` (default), `private` or `paid`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(public|private|paid)$")]
    kind: Option<String>,
    /// A paid community's fee (required there, and nowhere else).
    membership_fee: Option<Dec>,
    /// The fee's currency; default USD. Your wallet of it receives the fees.
    currency: Option<String>,
}

/// Creates a community you own.
#[utoipa::path(post, path = "/communities/create", tag = "social",
    request_body = CreateCommunityBody,
    responses((status = 201, description = "The new community", body = Community)))]
pub(super) async fn create_community(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreateCommunityBody>,
) -> ApiResult<(StatusCode, Json<Community>)> {
    let kind = match body.kind.as_deref() {
        None => CommunityType::Public,
        Some(text) => CommunityType::parse(text)
            .ok_or_else(|| ApiError::bad_request("type is public, private or paid"))?,
    };
    let membership_fee = match body.membership_fee {
        None => Amount(0),
        Some(fee) if fee.0.is_zero() => Amount(0),
        Some(fee) => amount("membership_fee", fee)?,
    };
    let command = CreateCommunity {
        actor: caller.user,
        name: body.name,
        description: body.description.unwrap_or_default(),
        category: body.category.unwrap_or_default(),
        kind,
        membership_fee,
        currency: currency(body.currency.as_deref().unwrap_or("USD"))?,
    };
    let Reply::Created(created) = state
        .core
        .execute(Command::CreateCommunity(command))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    let community = viewed(&state, CommunityId(created.id), caller.user).await?;
    Ok((StatusCode::CREATED, Json(community)))
}

/// A community, with your membership.
#[utoipa::path(get, path = "/communities/{community_id}", tag = "social",
    responses((status = 200, description = "The community", body = Community)))]
pub(super) async fn get_community(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(community_id): Path<String>,
) -> ApiResult<Json<Community>> {
    let community = parse_community(&community_id)?;
    Ok(Json(viewed(&state, community, caller.user).await?))
}

/// The spec's `user_id` may be given; it must be the caller.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct JoinCommunityBody {
    user_id: Option<String>,
}

/// Joins a community: a public one at once, a paid one paying its fee from your wallet
/// (to the owner, less the platform's fee), a private one by asking (`status` `pending`
/// until an owner or admin approves) unless you were invited.
#[utoipa::path(post, path = "/communities/{community_id}/join", tag = "social",
    request_body(content = Option<JoinCommunityBody>, description = "Optional"),
    responses((status = 200, description = "The community, with your membership", body = Community)))]
pub(super) async fn join_community(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(community_id): Path<String>,
    OptBody(body): OptBody<JoinCommunityBody>,
) -> ApiResult<Json<Community>> {
    caller.require_self(
        "user_id",
        body.user_id.as_deref(),
        "a user joins themselves",
    )?;
    let community = parse_community(&community_id)?;
    let action = CommunityAction {
        actor: caller.user,
        community,
    };
    state.core.execute(Command::JoinCommunity(action)).await?;
    Ok(Json(viewed(&state, community, caller.user).await?))
}

/// Leaves a community (or withdraws a request, or refuses an invitation). The owner
/// cannot leave, nor a banned member until the ban ends; a paid fee is not refunded.
#[utoipa::path(post, path = "/communities/{community_id}/leave", tag = "social",
    responses((status = 200, description = "The community, without your membership", body = Community)))]
pub(super) async fn leave_community(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(community_id): Path<String>,
) -> ApiResult<Json<Community>> {
    let community = parse_community(&community_id)?;
    let action = CommunityAction {
        actor: caller.user,
        community,
    };
    state.core.execute(Command::LeaveCommunity(action)).await?;
    Ok(Json(viewed(&state, community, caller.user).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct CommunityListParams {
    /// Communities of this category only.
    #[param(max_length = 50)]
    category: Option<String>,
    /// `members` (most first; the default), `activity` (most recent first) or `new`.
    #[param(pattern = "^(members|activity|new)$")]
    sort: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Communities per page: 20 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct CommunityPage {
    page: u32,
    limit: u32,
    total: u64,
    communities: Vec<Community>,
}

/// Communities, by members, activity or age, of a category if given.
#[utoipa::path(get, path = "/communities", tag = "social", params(CommunityListParams),
    responses((status = 200, description = "A page of communities", body = CommunityPage)))]
pub(super) async fn list_communities(
    State(state): State<AppState>,
    Params(params): Params<CommunityListParams>,
) -> ApiResult<Json<CommunityPage>> {
    let limit = bounded("limit", params.limit, 20, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let order = match params.sort.as_deref() {
        None | Some("members") => "member_count DESC, id DESC",
        Some("activity") => "last_activity DESC, id DESC",
        Some("new") => "created_at DESC, id DESC",
        Some(_) => return Err(ApiError::bad_request("sort is members, activity or new")),
    };
    if params
        .category
        .as_deref()
        .is_some_and(|c| c.chars().count() > COMMUNITY_CATEGORY_MAX)
    {
        return Err(ApiError::bad_request("category has at most 50 characters"));
    }
    let (filter, params) = match params.category {
        Some(category) => (
            "category = $1",
            vec![schema::text(category.trim().to_lowercase())],
        ),
        None => ("", Vec::new()),
    };
    let offset = (page - 1).saturating_mul(limit);
    let (views, total) = state
        .store()
        .await?
        .page(
            &schema::COMMUNITIES,
            filter,
            &params,
            order,
            offset,
            limit,
            schema::community_view,
        )
        .await?;
    Ok(Json(CommunityPage {
        page,
        limit,
        total,
        communities: views.iter().map(|v| community_json(v, None)).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct MemberListParams {
    /// `active` (the default); `pending` (join requests) and `invited` are for the
    /// community's owner and admins.
    #[param(pattern = "^(active|pending|invited)$")]
    status: Option<String>,
    /// Members of this role only.
    #[param(pattern = "^(owner|admin|moderator|member)$")]
    role: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Members per page: 50 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct MemberPage {
    page: u32,
    limit: u32,
    total: u64,
    members: Vec<CommunityMember>,
}

/// A community's members, earliest first (or its pending requests and invitations). A
/// private or paid community's members are listed to its members only.
#[utoipa::path(get, path = "/communities/{community_id}/members", tag = "social",
    params(MemberListParams),
    responses((status = 200, description = "A page of members", body = MemberPage)))]
pub(super) async fn community_members(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(community_id): Path<String>,
    Params(params): Params<MemberListParams>,
) -> ApiResult<Json<MemberPage>> {
    let community = parse_community(&community_id)?;
    let limit = bounded("limit", params.limit, 50, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let status = match params.status.as_deref() {
        None => MemberStatus::Active,
        Some(text) => MemberStatus::parse(text)
            .ok_or_else(|| ApiError::bad_request("status is active, pending or invited"))?,
    };
    let role =
        match params.role.as_deref() {
            None => None,
            Some(text) => Some(MemberRole::parse(text).ok_or_else(|| {
                ApiError::bad_request("role is owner, admin, moderator or member")
            })?),
        };
    let view = fetch(&state, community, caller.user).await?;
    let role_of_caller = active_role(&view).map(MemberRole::rank);
    let allowed = caller.is_admin()
        || match status {
            MemberStatus::Active => view.kind == CommunityType::Public || role_of_caller.is_some(),
            _ => role_of_caller >= Some(MemberRole::Admin.rank()),
        };
    if !allowed {
        return Err(ApiError::from(ResultCode::NotCommunityModerator));
    }
    let mut filter = "community_id = $1 AND status = $2".to_owned();
    let mut values = vec![schema::id(community.0), schema::text(status.as_str())];
    if let Some(role) = role {
        values.push(schema::text(role.as_str()));
        filter.push_str(" AND role = $3");
    }
    let offset = (page - 1).saturating_mul(limit);
    let (views, total) = state
        .store()
        .await?
        .page(
            &schema::COMMUNITY_MEMBERS,
            &filter,
            &values,
            "joined_at ASC, user_id ASC",
            offset,
            limit,
            schema::community_member_view,
        )
        .await?;
    let mut members = Vec::with_capacity(views.len());
    for v in &views {
        members.push(member_json(v, username(&state, v.user).await?));
    }
    Ok(Json(MemberPage {
        page,
        limit,
        total,
        members,
    }))
}

/// What an owner, admin or moderator does to a membership.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ManageMemberBody {
    /// `approve` or `decline` a join request (or `decline` to withdraw an invitation),
    /// `invite` (private and paid communities), `set_role`, `mute`, `unmute`, `ban`,
    /// `unban` or `remove`. Moderators mute, ban and remove members; admins also decide
    /// requests, invite and appoint moderators; the owner appoints admins.
    #[schema(pattern = "^(approve|decline|invite|set_role|mute|unmute|ban|unban|remove)$")]
    action: String,
    /// For `set_role`: `admin`, `moderator` or `member`.
    #[schema(pattern = "^(admin|moderator|member)$")]
    role: Option<String>,
    /// For `mute` and `ban`: when it ends (RFC 3339), at most ten years ahead …
    until: Option<String>,
    /// … or how long it lasts, in seconds (one of the two).
    #[schema(minimum = 1)]
    duration_secs: Option<u64>,
    /// Recorded in the moderation log; up to 500 characters.
    #[schema(max_length = 500)]
    reason: Option<String>,
}

/// Acts on `user_id`'s membership: the moderation log records who did what, and when.
#[utoipa::path(post, path = "/communities/{community_id}/members/{user_id}", tag = "social",
    request_body = ManageMemberBody,
    responses((status = 200, description = "The membership after the action (null once gone)", body = Option<CommunityMember>)))]
pub(super) async fn manage_member(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((community_id, user_id)): Path<(String, String)>,
    Body(body): Body<ManageMemberBody>,
) -> ApiResult<Json<Option<CommunityMember>>> {
    let community = parse_community(&community_id)?;
    let user: UserId = crate::ids::parse_path(&user_id, "user")?;
    let action = MemberAction::parse(&body.action).ok_or_else(|| {
        ApiError::bad_request(
            "action is approve, decline, invite, set_role, mute, unmute, ban, unban or remove",
        )
    })?;
    let role = match (action, body.role.as_deref()) {
        (MemberAction::SetRole, Some(text)) => MemberRole::parse(text)
            .filter(|r| *r != MemberRole::Owner)
            .ok_or_else(|| ApiError::bad_request("role is admin, moderator or member"))?,
        (MemberAction::SetRole, None) => {
            return Err(ApiError::bad_request("set_role takes a role"));
        }
        (_, None) => MemberRole::Member,
        (_, Some(_)) => return Err(ApiError::bad_request("only set_role takes a role")),
    };
    let timed = matches!(action, MemberAction::Mute | MemberAction::Ban);
    let until = match (timed, body.until.as_deref(), body.duration_secs) {
        (true, Some(text), None) => timestamp("until", text)?,
        (true, None, Some(secs)) => {
            let micros = i64::try_from(secs)
                .ok()
                .and_then(|s| s.checked_mul(1_000_000))
                .filter(|&m| m > 0 && m <= MODERATION_MICROS_MAX)
                .ok_or_else(|| {
                    ApiError::bad_request("duration_secs is from 1 to ten years of seconds")
                })?;
            // From now to the microsecond: the core compares with its own clock, which is
            // at or after this one.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i64);
            Timestamp(now).saturating_add_micros(micros)
        }
        (true, _, _) => {
            return Err(ApiError::bad_request(
                "mute and ban take one of until and duration_secs",
            ));
        }
        (false, None, None) => Timestamp::ZERO,
        (false, _, _) => {
            return Err(ApiError::bad_request(
                "only mute and ban take until or duration_secs",
            ));
        }
    };
    let command = ManageMember {
        actor: caller.user,
        community,
        user,
        action,
        role,
        until,
        reason: body.reason.unwrap_or_default(),
    };
    state.core.execute(Command::ManageMember(command)).await?;
    let member = match state
        .query(Query::CommunityMember(CommunityMemberQuery {
            community,
            user,
        }))
        .await?
    {
        QueryReply::CommunityMember(m) => Some(member_json(&m, username(&state, user).await?)),
        _ => None,
    };
    Ok(Json(member))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ModerationParams {
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Entries per page: 50 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ModerationEntry {
    /// The community's version the action made.
    version: u64,
    /// Who acted.
    actor_id: String,
    /// On whom.
    user_id: String,
    #[schema(
        pattern = "^(approved|declined|invited|role_set|muted|unmuted|banned|unbanned|removed|thread_pinned|thread_unpinned|thread_locked|thread_unlocked|post_removed)$"
    )]
    action: &'static str,
    /// The role given (`role_set`), or the member's role when acted on.
    role: &'static str,
    /// When a mute or ban ends.
    until: Option<String>,
    reason: String,
    /// The post acted on (`thread_*`, `post_removed`).
    thread_id: Option<String>,
    reply_id: Option<String>,
    at: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ModerationPage {
    page: u32,
    limit: u32,
    total: u64,
    entries: Vec<ModerationEntry>,
}

/// The community's moderation log, newest first: for its owner and admins.
#[utoipa::path(get, path = "/communities/{community_id}/moderation", tag = "social",
    params(ModerationParams),
    responses((status = 200, description = "A page of the log", body = ModerationPage)))]
pub(super) async fn moderation_log(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(community_id): Path<String>,
    Params(params): Params<ModerationParams>,
) -> ApiResult<Json<ModerationPage>> {
    let community = parse_community(&community_id)?;
    let limit = bounded("limit", params.limit, 50, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let view = fetch(&state, community, caller.user).await?;
    let admin = active_role(&view).is_some_and(|r| r.rank() >= MemberRole::Admin.rank());
    if !admin && !caller.is_admin() {
        return Err(ApiError::from(ResultCode::NotCommunityModerator));
    }
    let offset = (page - 1).saturating_mul(limit);
    let (rows, total) = state
        .store()
        .await?
        .page(
            &schema::COMMUNITY_MODERATION,
            "community_id = $1",
            &[schema::id(community.0)],
            "version DESC",
            offset,
            limit,
            schema::moderation_entry,
        )
        .await?;
    let entries = rows
        .iter()
        .map(|(e, at)| ModerationEntry {
            version: e.version,
            actor_id: e.actor.public(),
            user_id: e.user.public(),
            action: e.change.as_str(),
            role: e.role.as_str(),
            until: opt_time(e.until),
            reason: e.reason.clone(),
            thread_id: e.thread.map(|t| t.public()),
            reply_id: e.reply.map(|r| r.public()),
            at: time(*at),
        })
        .collect();
    Ok(Json(ModerationPage {
        page,
        limit,
        total,
        entries,
    }))
}
