//! Groups and their wallets: create, one group, join, leave, members (invite, remove,
//! roles), contributions, payouts and the wallet. Group ids are `grp_<n>`.
//!
//! A private group does not exist for anyone it has not invited (404); a group's member
//! list and wallet are its members' alone — to anyone else the wallet does not exist (404).
//! Every change is a journaled command the core decides; the wallet's history is read
//! from the history store.

use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{Body, Dec, OptBody, PAGE_MAX, Params, amount, bounded, currency, money, time};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use betbet_persistence::schema;
use betbet_protocol::command::Command;
use betbet_protocol::message::Reply;
use betbet_protocol::query::{PAGE_LIMIT_MAX, Query, QueryReply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::social::{
    CreateGroup, GroupAction, GroupId, GroupMemberAction, GroupMoney, GroupQuery, GroupRole,
    GroupType, GroupView, ManageGroupMember, PayoutPolicy,
};
use betbet_protocol::types::{AccountId, Amount, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn parse_group(id: &str) -> ApiResult<GroupId> {
    crate::ids::parse_path(id, "group")
}

#[derive(Serialize, ToSchema)]
pub(super) struct GroupMemberJson {
    user_id: String,
    #[schema(pattern = "^(owner|admin|member)$")]
    role: &'static str,
    /// Invited, not joined yet.
    invited: bool,
    joined_at: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct GroupJson {
    id: String,
    name: String,
    /// `public` (anyone joins while there is room) or `private` (by invitation).
    #[serde(rename = "type")]
    #[schema(pattern = "^(public|private)$")]
    kind: &'static str,
    max_members: u32,
    member_count: u32,
    currency: String,
    owner_id: String,
    /// Who pays out of the wallet: `owner`, or `admins` (the owner and the admins).
    #[schema(pattern = "^(owner|admins)$")]
    payout_policy: &'static str,
    created_at: String,
    /// +1 on every change of the group, its members or its wallet.
    version: u64,
    /// Your role (null if you are not a member) and whether you are invited.
    your_role: Option<&'static str>,
    invited: bool,
    /// Members and invitees, to members only (empty for anyone else).
    members: Vec<GroupMemberJson>,
}

fn group_json(v: &GroupView) -> GroupJson {
    let member = v.viewer_role.is_some();
    GroupJson {
        id: v.id.public(),
        name: v.name.clone(),
        kind: v.kind.as_str(),
        max_members: v.max_members,
        member_count: v.member_count,
        currency: v.currency.to_string(),
        owner_id: v.owner.public(),
        payout_policy: v.payout_policy.as_str(),
        created_at: time(v.created_at),
        version: v.version,
        your_role: v.viewer_role.map(GroupRole::as_str),
        invited: v.viewer_invited,
        members: if member {
            v.members
                .iter()
                .map(|m| GroupMemberJson {
                    user_id: m.user.public(),
                    role: m.role.as_str(),
                    invited: m.invited,
                    joined_at: time(m.joined_at),
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// The group as `viewer` may see it: a private group only to its members and invitees
/// (404 to anyone else).
async fn fetch(state: &AppState, group: GroupId, viewer: UserId) -> ApiResult<GroupView> {
    let query = Query::Group(GroupQuery { group, viewer });
    match state.query(query).await? {
        QueryReply::Group(view)
            if view.kind == GroupType::Public
                || view.viewer_role.is_some()
                || view.viewer_invited =>
        {
            Ok(view)
        }
        _ => Err(ApiError::from(ResultCode::GroupNotFound)),
    }
}

/// A new group. The spec's `name`, `type` and `max_members`; the rest has defaults.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateGroupBody {
    /// 1 to 100 characters, unique without regard to case.
    #[schema(max_length = 100)]
    name: String,
    /// `public` (default) or `private`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(public|private)$")]
    kind: Option<String>,
    /// 2 to 1 000 (default 50).
    #[schema(minimum = 2, maximum = 1000)]
    max_members: Option<u32>,
    /// The wallet's currency; default USD.
    currency: Option<String>,
    /// `owner` (default) or `admins`.
    #[schema(pattern = "^(owner|admins)$")]
    payout_policy: Option<String>,
}

/// Creates a group you own, with a wallet of its own.
#[utoipa::path(post, path = "/groups/create", tag = "social",
    request_body = CreateGroupBody,
    responses((status = 201, description = "The new group", body = GroupJson)))]
pub(super) async fn create_group(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreateGroupBody>,
) -> ApiResult<(StatusCode, Json<GroupJson>)> {
    let kind = match body.kind.as_deref() {
        None => GroupType::Public,
        Some(text) => GroupType::parse(text)
            .ok_or_else(|| ApiError::bad_request("type is public or private"))?,
    };
    let payout_policy = match body.payout_policy.as_deref() {
        None => PayoutPolicy::Owner,
        Some(text) => PayoutPolicy::parse(text)
            .ok_or_else(|| ApiError::bad_request("payout_policy is owner or admins"))?,
    };
    let command = CreateGroup {
        actor: caller.user,
        name: body.name,
        kind,
        max_members: body.max_members.unwrap_or(50),
        currency: currency(body.currency.as_deref().unwrap_or("USD"))?,
        payout_policy,
    };
    let Reply::Created(created) = state.core.execute(Command::CreateGroup(command)).await? else {
        return Err(ApiError::internal("unexpected reply"));
    };
    let view = fetch(&state, GroupId(created.id), caller.user).await?;
    Ok((StatusCode::CREATED, Json(group_json(&view))))
}

/// A group, with your membership.
#[utoipa::path(get, path = "/groups/{group_id}", tag = "social",
    responses((status = 200, description = "The group", body = GroupJson)))]
pub(super) async fn get_group(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(group_id): Path<String>,
) -> ApiResult<Json<GroupJson>> {
    let group = parse_group(&group_id)?;
    Ok(Json(group_json(&fetch(&state, group, caller.user).await?)))
}

/// The spec's `user_id` may be given; it must be the caller.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct JoinGroupBody {
    user_id: Option<String>,
}

/// Joins a group: a public one while it has room, a private one if you were invited.
#[utoipa::path(post, path = "/groups/{group_id}/join", tag = "social",
    request_body(content = Option<JoinGroupBody>, description = "Optional"),
    responses((status = 200, description = "The group, with your membership", body = GroupJson)))]
pub(super) async fn join_group(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(group_id): Path<String>,
    OptBody(body): OptBody<JoinGroupBody>,
) -> ApiResult<Json<GroupJson>> {
    caller.require_self(
        "user_id",
        body.user_id.as_deref(),
        "a user joins themselves",
    )?;
    let group = parse_group(&group_id)?;
    // A private group you were not invited to does not exist for you.
    fetch(&state, group, caller.user).await?;
    let action = GroupAction {
        actor: caller.user,
        group,
    };
    state.core.execute(Command::JoinGroup(action)).await?;
    Ok(Json(group_json(&fetch(&state, group, caller.user).await?)))
}

/// Leaves a group (or refuses an invitation). What you contributed stays in its wallet;
/// the owner cannot leave.
#[utoipa::path(post, path = "/groups/{group_id}/leave", tag = "social",
    responses((status = 200, description = "Left", body = GroupLeft)))]
pub(super) async fn leave_group(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(group_id): Path<String>,
) -> ApiResult<Json<GroupLeft>> {
    let group = parse_group(&group_id)?;
    fetch(&state, group, caller.user).await?;
    let action = GroupAction {
        actor: caller.user,
        group,
    };
    state.core.execute(Command::LeaveGroup(action)).await?;
    Ok(Json(GroupLeft {
        group_id: group.public(),
        left: true,
    }))
}

#[derive(Serialize, ToSchema)]
pub(super) struct GroupLeft {
    group_id: String,
    left: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ManageGroupMemberBody {
    /// `invite` (owner and admins), `remove` (an invitee, or a member of a lower role), or
    /// `set_role` (the owner: `admin` or `member`).
    #[schema(pattern = "^(invite|remove|set_role)$")]
    action: String,
    #[schema(pattern = "^(admin|member)$")]
    role: Option<String>,
}

/// Acts on `user_id`'s membership: the group's owner or an admin.
#[utoipa::path(post, path = "/groups/{group_id}/members/{user_id}", tag = "social",
    request_body = ManageGroupMemberBody,
    responses((status = 200, description = "The group after the action", body = GroupJson)))]
pub(super) async fn manage_group_member(
    State(state): State<AppState>,
    caller: AuthUser,
    Path((group_id, user_id)): Path<(String, String)>,
    Body(body): Body<ManageGroupMemberBody>,
) -> ApiResult<Json<GroupJson>> {
    let group = parse_group(&group_id)?;
    let user: UserId = crate::ids::parse_path(&user_id, "user")?;
    let action = GroupMemberAction::parse(&body.action)
        .ok_or_else(|| ApiError::bad_request("action is invite, remove or set_role"))?;
    let role = match (action, body.role.as_deref()) {
        (GroupMemberAction::SetRole, Some(text)) => GroupRole::parse(text)
            .filter(|r| *r != GroupRole::Owner)
            .ok_or_else(|| ApiError::bad_request("role is admin or member"))?,
        (GroupMemberAction::SetRole, None) => {
            return Err(ApiError::bad_request("set_role needs a role"));
        }
        (_, Some(_)) => return Err(ApiError::bad_request("role goes with set_role only")),
        (_, None) => GroupRole::Member,
    };
    fetch(&state, group, caller.user).await?;
    let command = ManageGroupMember {
        actor: caller.user,
        group,
        user,
        action,
        role,
    };
    state
        .core
        .execute(Command::ManageGroupMember(command))
        .await?;
    Ok(Json(group_json(&fetch(&state, group, caller.user).await?)))
}

/// The group wallet's view for its members (anyone else: 404).
async fn member_view(state: &AppState, group: GroupId, caller: &AuthUser) -> ApiResult<GroupView> {
    let view = fetch(state, group, caller.user).await?;
    if view.viewer_role.is_none() {
        return Err(ApiError::from(ResultCode::GroupNotFound));
    }
    Ok(view)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ContributeBody {
    /// From your wallet of the group's currency.
    amount: Dec,
}

/// Pays `amount` from your wallet into the group's.
#[utoipa::path(post, path = "/groups/{group_id}/contribute", tag = "social",
    request_body = ContributeBody,
    responses((status = 200, description = "The group's wallet after it", body = GroupWallet)))]
pub(super) async fn contribute_group(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(group_id): Path<String>,
    Body(body): Body<ContributeBody>,
) -> ApiResult<Json<GroupWallet>> {
    let group = parse_group(&group_id)?;
    member_view(&state, group, &caller).await?;
    let money = GroupMoney {
        actor: caller.user,
        group,
        user: caller.user,
        amount: amount("amount", body.amount)?,
    };
    state.core.execute(Command::ContributeGroup(money)).await?;
    wallet(&state, group, &caller, 1, 20).await.map(Json)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PayoutBody {
    /// The member paid.
    user_id: String,
    amount: Dec,
}

/// Pays `amount` out of the group's wallet to one of its members: the owner, or an admin
/// when the group's payout policy is `admins`.
#[utoipa::path(post, path = "/groups/{group_id}/payout", tag = "social",
    request_body = PayoutBody,
    responses((status = 200, description = "The group's wallet after it", body = GroupWallet)))]
pub(super) async fn payout_group(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(group_id): Path<String>,
    Body(body): Body<PayoutBody>,
) -> ApiResult<Json<GroupWallet>> {
    let group = parse_group(&group_id)?;
    let user: UserId = crate::ids::parse_path(&body.user_id, "user")?;
    member_view(&state, group, &caller).await?;
    let money = GroupMoney {
        actor: caller.user,
        group,
        user,
        amount: amount("amount", body.amount)?,
    };
    state.core.execute(Command::PayoutGroup(money)).await?;
    wallet(&state, group, &caller, 1, 20).await.map(Json)
}

#[derive(Serialize, ToSchema)]
pub(super) struct GroupMemberMoney {
    user_id: String,
    /// What they paid in, and what was paid out to them.
    contributed: String,
    received: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct GroupWalletEntry {
    /// The group's version the movement made.
    version: u64,
    /// `contributed` (into the wallet) or `paid_out` (out of it).
    #[serde(rename = "type")]
    #[schema(pattern = "^(contributed|paid_out)$")]
    kind: String,
    /// Who moved it (the contributor, or who paid out).
    actor_id: String,
    /// The member whose money it was, or who was paid.
    user_id: String,
    amount: String,
    created_at: String,
}

/// A group's wallet: its balance, what each member put in and took out, and its history
/// (newest first).
#[derive(Serialize, ToSchema)]
pub(super) struct GroupWallet {
    group_id: String,
    wallet_id: String,
    currency: String,
    balance: String,
    members: Vec<GroupMemberMoney>,
    page: u32,
    limit: u32,
    total: u64,
    transactions: Vec<GroupWalletEntry>,
}

async fn wallet(
    state: &AppState,
    group: GroupId,
    caller: &AuthUser,
    page: u32,
    limit: u32,
) -> ApiResult<GroupWallet> {
    let view = member_view(state, group, caller).await?;
    let offset = (page - 1).saturating_mul(limit);
    let (entries, total) = state
        .store()
        .await?
        .page(
            &schema::GROUP_TRANSACTIONS,
            "group_id = $1",
            &[schema::id(group.0)],
            "version DESC",
            offset,
            limit,
            schema::group_transaction_view,
        )
        .await?;
    Ok(GroupWallet {
        group_id: group.public(),
        wallet_id: AccountId(view.wallet.0).public(),
        currency: view.currency.to_string(),
        balance: money(view.balance),
        members: view
            .members
            .iter()
            .filter(|m| !m.invited)
            .map(|m| GroupMemberMoney {
                user_id: m.user.public(),
                contributed: money(m.contributed),
                received: money(m.received),
            })
            .collect(),
        page,
        limit,
        total,
        transactions: entries
            .into_iter()
            .map(
                |(version, actor, user, kind, amount, at)| GroupWalletEntry {
                    version,
                    kind,
                    actor_id: UserId(actor).public(),
                    user_id: UserId(user).public(),
                    amount: money(Amount(amount)),
                    created_at: time(at),
                },
            )
            .collect(),
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct WalletParams {
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// From 1 (default).
    #[param(minimum = 1)]
    page: Option<u32>,
}

/// The group's wallet, to its members only: the balance, each member's contributions and
/// payouts, and the history of its movements.
#[utoipa::path(get, path = "/groups/{group_id}/wallet", tag = "social",
    params(WalletParams),
    responses((status = 200, description = "The group's wallet", body = GroupWallet)))]
pub(super) async fn group_wallet(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(group_id): Path<String>,
    Params(params): Params<WalletParams>,
) -> ApiResult<Json<GroupWallet>> {
    let group = parse_group(&group_id)?;
    let limit = bounded("limit", params.limit, 50, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    wallet(&state, group, &caller, page, limit).await.map(Json)
}
