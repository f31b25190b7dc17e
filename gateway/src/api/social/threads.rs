//! Threads: create, read with the reply tree, reply, vote, pay a paywall, edit, delete,
//! moderate, a community's list (hot, new, top) and full-text search. Thread ids are
//! `thr_<n>`, reply ids `rpl_<n>`.
//!
//! The core decides every change and keeps each post's state; the text and the lists are
//! read from the history store once it holds the caller's own changes.

use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{Body, Dec, OptBody, PAGE_MAX, Params, amount, bounded, money, opt_time, time};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use betbet_persistence::schema::{self, PostContent, ThreadRow, Value};
use betbet_protocol::command::Command;
use betbet_protocol::message::Reply;
use betbet_protocol::query::{PAGE_LIMIT_MAX, Query, QueryReply, UserQuery};
use betbet_protocol::result::ResultCode;
use betbet_protocol::social::*;
use betbet_protocol::types::{Amount, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use utoipa::{IntoParams, ToSchema};

/// The most replies below the page's top-level replies that one read returns.
pub const DESCENDANTS_MAX: u32 = 200;

fn parse_thread(id: &str) -> ApiResult<ThreadId> {
    crate::ids::parse_path(id, "thread")
}

fn parse_reply(id: Option<&str>) -> ApiResult<Option<ReplyId>> {
    id.map(|id| crate::ids::parse_path(id, "reply")).transpose()
}

fn format_of(text: Option<&str>, default: ContentFormat) -> ApiResult<ContentFormat> {
    match text {
        None => Ok(default),
        Some(text) => ContentFormat::parse(text)
            .ok_or_else(|| ApiError::bad_request("format is text or markdown")),
    }
}

fn vote_name(vote: VoteDirection) -> Option<&'static str> {
    match vote {
        VoteDirection::Clear => None,
        other => Some(other.as_str()),
    }
}

#[derive(Serialize, ToSchema)]
pub(super) struct ThreadJson {
    id: String,
    community_id: String,
    author_id: String,
    author_username: Option<String>,
    title: String,
    /// The text as written; null without access (a paywall not paid) or once deleted.
    content: Option<String>,
    /// The text as sanitised HTML (Markdown rendered; raw HTML shown as text); null
    /// likewise.
    content_html: Option<String>,
    #[schema(pattern = "^(text|markdown)$")]
    format: String,
    /// The first characters of the content: public, paywall or not.
    preview: String,
    #[schema(pattern = "^(discussion|question|analysis|announcement)$")]
    thread_type: &'static str,
    is_pinned: bool,
    is_locked: bool,
    is_deleted: bool,
    has_paywall: bool,
    paywall_amount: String,
    currency: String,
    /// Whether you may read the content (no paywall, yours, paid for, or you moderate).
    has_access: bool,
    upvotes: u32,
    downvotes: u32,
    score: i64,
    reply_count: u32,
    /// Readers counted once per hour each.
    view_count: u64,
    purchases: u32,
    /// `up`, `down`, or null.
    your_vote: Option<&'static str>,
    created_at: String,
    updated_at: String,
    last_reply_at: Option<String>,
    /// +1 on every change of the thread or its replies.
    version: u64,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ReplyJson {
    id: String,
    thread_id: String,
    parent_reply_id: Option<String>,
    /// 1 for a reply to the thread, up to 8.
    depth: u8,
    author_id: String,
    author_username: Option<String>,
    /// Null once deleted (the reply keeps its place in the tree).
    content: Option<String>,
    content_html: Option<String>,
    upvotes: u32,
    downvotes: u32,
    score: i64,
    is_deleted: bool,
    your_vote: Option<&'static str>,
    created_at: String,
    updated_at: String,
}

struct Names<'a> {
    state: &'a AppState,
    known: HashMap<UserId, Option<String>>,
}

impl Names<'_> {
    async fn of(&mut self, user: UserId) -> ApiResult<Option<String>> {
        if let Some(name) = self.known.get(&user) {
            return Ok(name.clone());
        }
        let name = match self.state.query(Query::User(UserQuery { user })).await? {
            QueryReply::User(u) => Some(u.username),
            _ => None,
        };
        self.known.insert(user, name.clone());
        Ok(name)
    }
}

fn names(state: &AppState) -> Names<'_> {
    Names {
        state,
        known: HashMap::new(),
    }
}

async fn thread_view(state: &AppState, thread: ThreadId, viewer: UserId) -> ApiResult<ThreadView> {
    match state
        .query(Query::Thread(ThreadQuery { thread, viewer }))
        .await?
    {
        QueryReply::Thread(view) => Ok(view),
        _ => Err(ApiError::from(ResultCode::ThreadNotFound)),
    }
}

/// The thread as the caller may see it, or 403 when its community is closed to them.
async fn readable(state: &AppState, thread: ThreadId, caller: &AuthUser) -> ApiResult<ThreadView> {
    let view = thread_view(state, thread, caller.user).await?;
    if !view.viewer_may_read {
        return Err(ApiError::from(ResultCode::MembersOnly));
    }
    Ok(view)
}

/// `$k, $k+1, …` for `ids`, their values appended to `params`: an SQL `IN` list.
fn in_list(params: &mut Vec<Value>, ids: impl IntoIterator<Item = u64>) -> String {
    let mut list = Vec::new();
    for id in ids {
        params.push(schema::id(id));
        list.push(format!("${}", params.len()));
    }
    list.join(", ")
}

/// The stored texts matching `filter`, at most `limit`.
async fn texts(
    state: &AppState,
    filter: &str,
    params: &[Value],
    limit: usize,
) -> ApiResult<Vec<PostContent>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let store = state.store().await?;
    let table = &schema::POST_CONTENTS;
    let limit = limit as u32;
    let (rows, _) = store
        .page(table, filter, params, "", 0, limit, schema::post_content_of)
        .await?;
    Ok(rows)
}

/// The stored texts of some posts of one thread, by reply id (0 for the thread).
async fn contents(
    state: &AppState,
    thread: ThreadId,
    replies: &[u64],
) -> ApiResult<HashMap<u64, PostContent>> {
    let mut params = vec![schema::id(thread.0)];
    let list = in_list(&mut params, replies.iter().copied());
    let filter = format!("thread_id = $1 AND reply_id IN ({list})");
    let rows = texts(state, &filter, &params, replies.len()).await?;
    Ok(rows.into_iter().map(|c| (c.reply, c)).collect())
}

fn thread_json(
    view: &ThreadView,
    text: Option<&PostContent>,
    author_username: Option<String>,
) -> ThreadJson {
    let shown = view.viewer_has_access && !view.is_deleted;
    ThreadJson {
        id: view.id.public(),
        community_id: view.community.public(),
        author_id: view.author.public(),
        author_username,
        // A deleted thread shows none of its text, its title included.
        title: text
            .filter(|_| !view.is_deleted)
            .map(|t| t.title.clone())
            .unwrap_or_default(),
        content: text.filter(|_| shown).map(|t| t.content.clone()),
        content_html: text.filter(|_| shown).map(|t| t.content_html.clone()),
        format: text.map_or_else(|| "text".to_owned(), |t| t.format.clone()),
        preview: if view.is_deleted {
            String::new()
        } else {
            text.map(|t| t.preview.clone()).unwrap_or_default()
        },
        thread_type: view.thread_type.as_str(),
        is_pinned: view.is_pinned,
        is_locked: view.is_locked,
        is_deleted: view.is_deleted,
        has_paywall: view.paywall_amount.0 > 0,
        paywall_amount: money(view.paywall_amount),
        currency: view.currency.to_string(),
        has_access: view.viewer_has_access,
        upvotes: view.upvotes,
        downvotes: view.downvotes,
        score: i64::from(view.upvotes) - i64::from(view.downvotes),
        reply_count: view.reply_count,
        view_count: view.view_count,
        purchases: view.purchases,
        your_vote: vote_name(view.viewer_vote),
        created_at: time(view.created_at),
        updated_at: time(view.updated_at),
        last_reply_at: opt_time(view.last_reply_at),
        version: view.version,
    }
}

/// The thread with its text, as the caller sees it.
async fn thread_out(
    state: &AppState,
    thread: ThreadId,
    caller: &AuthUser,
) -> ApiResult<ThreadJson> {
    let view = readable(state, thread, caller).await?;
    let text = contents(state, thread, &[0]).await?;
    let author = names(state).of(view.author).await?;
    Ok(thread_json(&view, text.get(&0), author))
}

/// A new thread. The spec's `community_id`, `title`, `content`, `thread_type`,
/// `has_paywall` and `paywall_amount`; `format` is ours.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateThreadBody {
    community_id: String,
    /// 1 to 300 characters.
    #[schema(max_length = 300)]
    title: String,
    /// 1 to 40 000 characters.
    #[schema(max_length = 40000)]
    content: String,
    /// `discussion` (default), `question`, `analysis`, or `announcement` (moderators).
    #[schema(pattern = "^(discussion|question|analysis|announcement)$")]
    thread_type: Option<String>,
    /// `markdown` (default) or `text`.
    #[schema(pattern = "^(text|markdown)$")]
    format: Option<String>,
    /// With `paywall_amount`: the title and a preview are public, the content is for
    /// readers who pay the amount (to you, less the platform fee).
    #[serde(default)]
    has_paywall: bool,
    /// In the community's currency, which your wallet must hold.
    paywall_amount: Option<Dec>,
}

/// Opens a thread in a community you belong to (not muted or banned).
#[utoipa::path(post, path = "/threads/create", tag = "social",
    request_body = CreateThreadBody,
    responses((status = 201, description = "The new thread", body = ThreadJson)))]
pub(super) async fn create_thread(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreateThreadBody>,
) -> ApiResult<(StatusCode, Json<ThreadJson>)> {
    let community = crate::ids::parse_path(&body.community_id, "community")?;
    let thread_type = match body.thread_type.as_deref() {
        None => ThreadType::Discussion,
        Some(text) => ThreadType::parse(text).ok_or_else(|| {
            ApiError::bad_request("thread_type is discussion, question, analysis or announcement")
        })?,
    };
    let paywall_amount = match (body.has_paywall, body.paywall_amount) {
        (false, None) => Amount(0),
        (true, Some(price)) => amount("paywall_amount", price)?,
        (true, None) => return Err(ApiError::bad_request("has_paywall takes a paywall_amount")),
        (false, Some(_)) => {
            return Err(ApiError::bad_request(
                "paywall_amount needs has_paywall: true",
            ));
        }
    };
    let command = CreateThread {
        actor: caller.user,
        community,
        thread_type,
        text: PostText {
            title: body.title,
            content: body.content,
            format: format_of(body.format.as_deref(), ContentFormat::Markdown)?,
        },
        paywall_amount,
    };
    let Reply::Created(created) = state.core.execute(Command::CreateThread(command)).await? else {
        return Err(ApiError::internal("unexpected reply"));
    };
    let thread = thread_out(&state, ThreadId(created.id), &caller).await?;
    Ok((StatusCode::CREATED, Json(thread)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ThreadParams {
    /// How replies are ordered under each parent: `best` (the Wilson score's lower bound;
    /// the default), `new` or `old`.
    #[param(pattern = "^(best|new|old)$")]
    sort: Option<String>,
    /// Pages over the top-level replies.
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Top-level replies per page: 20 by default, at most 100 (with at most 200 replies
    /// below them).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ThreadPage {
    thread: ThreadJson,
    page: u32,
    limit: u32,
    /// Top-level replies in all.
    total: u64,
    /// The page's top-level replies each followed by the replies below it, depth first
    /// (`depth` and `parent_reply_id` give the tree); empty without access.
    replies: Vec<ReplyJson>,
    /// Whether replies below this page's were left out (more than 200).
    replies_truncated: bool,
}

/// A thread with a page of its reply tree. Counts your view (once an hour).
#[utoipa::path(get, path = "/threads/{thread_id}", tag = "social", params(ThreadParams),
    responses((status = 200, description = "The thread and its replies", body = ThreadPage)))]
pub(super) async fn get_thread(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(thread_id): Path<String>,
    Params(params): Params<ThreadParams>,
) -> ApiResult<Json<ThreadPage>> {
    let thread = parse_thread(&thread_id)?;
    let limit = bounded("limit", params.limit, 20, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let order = match params.sort.as_deref() {
        None | Some("best") => "best_rank DESC, id ASC",
        Some("new") => "created_at DESC, id DESC",
        Some("old") => "id ASC",
        Some(_) => return Err(ApiError::bad_request("sort is best, new or old")),
    };
    let before = readable(&state, thread, &caller).await?;
    if !before.is_deleted {
        let view = ThreadReader {
            actor: caller.user,
            thread,
        };
        state.core.execute(Command::ViewThread(view)).await?;
    }
    let view = thread_view(&state, thread, caller.user).await?;
    let store = state.store().await?;
    let mut names = names(&state);
    let (mut replies, mut total, mut truncated) = (Vec::new(), 0, false);
    if view.viewer_has_access {
        let offset = (page - 1).saturating_mul(limit);
        let (top, count) = store
            .page(
                &schema::THREAD_REPLIES,
                "thread_id = $1 AND depth = 1",
                &[schema::id(thread.0)],
                order,
                offset,
                limit,
                schema::reply_view,
            )
            .await?;
        total = count;
        let mut below = Vec::new();
        if !top.is_empty() {
            let mut params: Vec<Value> = vec![schema::id(thread.0)];
            let list = in_list(&mut params, top.iter().map(|r| r.id.0));
            let filter = format!("thread_id = $1 AND depth > 1 AND root_id IN ({list})");
            let (rows, count) = store
                .page(
                    &schema::THREAD_REPLIES,
                    &filter,
                    &params,
                    order,
                    0,
                    DESCENDANTS_MAX,
                    schema::reply_view,
                )
                .await?;
            truncated = count > u64::from(DESCENDANTS_MAX);
            below = rows;
        }
        // Depth first: each parent's children in the page's order.
        let mut children: BTreeMap<u64, Vec<&ReplyView>> = BTreeMap::new();
        for r in &below {
            children
                .entry(r.parent.map_or(0, |p| p.0))
                .or_default()
                .push(r);
        }
        let mut ordered: Vec<&ReplyView> = Vec::with_capacity(top.len() + below.len());
        let mut stack: Vec<&ReplyView> = top.iter().rev().collect();
        while let Some(r) = stack.pop() {
            ordered.push(r);
            if let Some(kids) = children.get(&r.id.0) {
                stack.extend(kids.iter().rev());
            }
        }
        let ids: Vec<u64> = ordered.iter().map(|r| r.id.0).collect();
        let texts = contents(&state, thread, &ids).await?;
        let votes: HashMap<ReplyId, VoteDirection> =
            view.viewer_reply_votes.iter().copied().collect();
        for r in ordered {
            let text = texts.get(&r.id.0).filter(|_| !r.is_deleted);
            replies.push(ReplyJson {
                id: r.id.public(),
                thread_id: thread.public(),
                parent_reply_id: r.parent.map(|p| p.public()),
                depth: r.depth,
                author_id: r.author.public(),
                author_username: names.of(r.author).await?,
                content: text.map(|t| t.content.clone()),
                content_html: text.map(|t| t.content_html.clone()),
                upvotes: r.upvotes,
                downvotes: r.downvotes,
                score: i64::from(r.upvotes) - i64::from(r.downvotes),
                is_deleted: r.is_deleted,
                your_vote: votes.get(&r.id).copied().and_then(vote_name),
                created_at: time(r.created_at),
                updated_at: time(r.updated_at),
            });
        }
    }
    let text = contents(&state, thread, &[0]).await?;
    let author = names.of(view.author).await?;
    Ok(Json(ThreadPage {
        thread: thread_json(&view, text.get(&0), author),
        page,
        limit,
        total,
        replies,
        replies_truncated: truncated,
    }))
}

/// A reply: the spec's `content`; `parent_reply_id` nests it under another reply.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplyBody {
    /// 1 to 10 000 characters.
    #[schema(max_length = 10000)]
    content: String,
    /// The reply this answers (`rpl_<n>`); none for the thread. Replies nest 8 deep.
    parent_reply_id: Option<String>,
    /// `markdown` (default) or `text`.
    #[schema(pattern = "^(text|markdown)$")]
    format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ReplyCreated {
    id: String,
    thread_id: String,
    parent_reply_id: Option<String>,
    depth: u8,
    created_at: String,
}

/// Replies to a thread (not locked, and with access to a paywalled one) or to one of its
/// replies.
#[utoipa::path(post, path = "/threads/{thread_id}/reply", tag = "social",
    request_body = ReplyBody,
    responses((status = 201, description = "The new reply", body = ReplyCreated)))]
pub(super) async fn reply_thread(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(thread_id): Path<String>,
    Body(body): Body<ReplyBody>,
) -> ApiResult<(StatusCode, Json<ReplyCreated>)> {
    let thread = parse_thread(&thread_id)?;
    let command = ReplyThread {
        actor: caller.user,
        thread,
        parent: parse_reply(body.parent_reply_id.as_deref())?,
        text: PostText {
            title: String::new(),
            content: body.content,
            format: format_of(body.format.as_deref(), ContentFormat::Markdown)?,
        },
    };
    let Reply::Created(created) = state.core.execute(Command::ReplyThread(command)).await? else {
        return Err(ApiError::internal("unexpected reply"));
    };
    let reply = ReplyId(created.id);
    let QueryReply::Reply(view) = state
        .query(Query::Reply(ReplyQuery {
            reply,
            viewer: caller.user,
        }))
        .await?
    else {
        return Err(ApiError::internal("the new reply is not in the core"));
    };
    Ok((
        StatusCode::CREATED,
        Json(ReplyCreated {
            id: reply.public(),
            thread_id: thread.public(),
            parent_reply_id: view.parent.map(|p| p.public()),
            depth: view.depth,
            created_at: time(view.created_at),
        }),
    ))
}

/// A vote: the spec's `vote_type`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct VoteBody {
    /// `up` (or `upvote`), `down` (or `downvote`), or `clear` to withdraw your vote.
    #[schema(pattern = "^(up|down|clear|upvote|downvote)$")]
    vote_type: String,
    /// A reply of the thread to vote on instead of the thread.
    reply_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct VoteResult {
    thread_id: String,
    reply_id: Option<String>,
    upvotes: u32,
    downvotes: u32,
    score: i64,
    your_vote: Option<&'static str>,
}

/// Votes on a thread or one of its replies: one vote per user and post, changeable.
#[utoipa::path(post, path = "/threads/{thread_id}/vote", tag = "social",
    request_body = VoteBody,
    responses((status = 200, description = "The post's counts after your vote", body = VoteResult)))]
pub(super) async fn vote_thread(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(thread_id): Path<String>,
    Body(body): Body<VoteBody>,
) -> ApiResult<Json<VoteResult>> {
    let thread = parse_thread(&thread_id)?;
    let reply = parse_reply(body.reply_id.as_deref())?;
    let vote = match body.vote_type.as_str() {
        "up" | "upvote" => VoteDirection::Up,
        "down" | "downvote" => VoteDirection::Down,
        "clear" => VoteDirection::Clear,
        _ => return Err(ApiError::bad_request("vote_type is up, down or clear")),
    };
    let command = VotePost {
        actor: caller.user,
        thread,
        reply,
        vote,
    };
    state.core.execute(Command::VotePost(command)).await?;
    let view = thread_view(&state, thread, caller.user).await?;
    let (upvotes, downvotes, your_vote) = match reply {
        None => (view.upvotes, view.downvotes, view.viewer_vote),
        Some(reply) => {
            let QueryReply::Reply(r) = state
                .query(Query::Reply(ReplyQuery {
                    reply,
                    viewer: caller.user,
                }))
                .await?
            else {
                return Err(ApiError::from(ResultCode::ReplyNotFound));
            };
            let mine = view
                .viewer_reply_votes
                .iter()
                .find(|(id, _)| *id == reply)
                .map_or(VoteDirection::Clear, |&(_, v)| v);
            (r.upvotes, r.downvotes, mine)
        }
    };
    Ok(Json(VoteResult {
        thread_id: thread.public(),
        reply_id: reply.map(|r| r.public()),
        upvotes,
        downvotes,
        score: i64::from(upvotes) - i64::from(downvotes),
        your_vote: vote_name(your_vote),
    }))
}

/// Pays a thread's paywall from your wallet (once; to the author, less the platform
/// fee): the content and replies show to you from then on.
#[utoipa::path(post, path = "/threads/{thread_id}/pay", tag = "social",
    responses((status = 200, description = "The thread, with its content", body = ThreadJson)))]
pub(super) async fn pay_thread(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(thread_id): Path<String>,
) -> ApiResult<Json<ThreadJson>> {
    let thread = parse_thread(&thread_id)?;
    let command = ThreadReader {
        actor: caller.user,
        thread,
    };
    state.core.execute(Command::BuyThread(command)).await?;
    Ok(Json(thread_out(&state, thread, &caller).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ModerateBody {
    /// `pin`, `unpin`, `lock` (no more replies) or `unlock`.
    #[schema(pattern = "^(pin|unpin|lock|unlock)$")]
    action: String,
    /// Recorded in the community's moderation log; up to 500 characters.
    #[schema(max_length = 500)]
    reason: Option<String>,
}

/// Pins, unpins, locks or unlocks a thread (the community's moderators and up).
#[utoipa::path(post, path = "/threads/{thread_id}/moderate", tag = "social",
    request_body = ModerateBody,
    responses((status = 200, description = "The thread", body = ThreadJson)))]
pub(super) async fn moderate_thread(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(thread_id): Path<String>,
    Body(body): Body<ModerateBody>,
) -> ApiResult<Json<ThreadJson>> {
    let thread = parse_thread(&thread_id)?;
    let action = ThreadAction::parse(&body.action)
        .ok_or_else(|| ApiError::bad_request("action is pin, unpin, lock or unlock"))?;
    let command = ModerateThread {
        actor: caller.user,
        thread,
        action,
        reason: body.reason.unwrap_or_default(),
    };
    state.core.execute(Command::ModerateThread(command)).await?;
    Ok(Json(thread_out(&state, thread, &caller).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EditBody {
    /// The reply to edit (`rpl_<n>`); none for the thread.
    reply_id: Option<String>,
    /// A thread's new title (default: as it is); a reply has none.
    #[schema(max_length = 300)]
    title: Option<String>,
    #[schema(max_length = 40000)]
    content: String,
    /// Default: as it is.
    #[schema(pattern = "^(text|markdown)$")]
    format: Option<String>,
}

/// Edits your own thread or reply (not once deleted).
#[utoipa::path(post, path = "/threads/{thread_id}/edit", tag = "social",
    request_body = EditBody,
    responses((status = 200, description = "The thread", body = ThreadJson)))]
pub(super) async fn edit_post(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(thread_id): Path<String>,
    Body(body): Body<EditBody>,
) -> ApiResult<Json<ThreadJson>> {
    let thread = parse_thread(&thread_id)?;
    let reply = parse_reply(body.reply_id.as_deref())?;
    if reply.is_some() && body.title.is_some() {
        return Err(ApiError::bad_request("a reply has no title"));
    }
    // Unset fields keep what the post has (the store's text, read-your-writes).
    let current = contents(&state, thread, &[reply.map_or(0, |r| r.0)]).await?;
    let current = current.values().next();
    let kept_format = current
        .and_then(|c| ContentFormat::parse(&c.format))
        .unwrap_or(ContentFormat::Markdown);
    let title = match (reply, body.title) {
        (Some(_), _) => String::new(),
        (None, Some(title)) => title,
        (None, None) => current.map(|c| c.title.clone()).unwrap_or_default(),
    };
    let command = EditPost {
        actor: caller.user,
        thread,
        reply,
        text: PostText {
            title,
            content: body.content,
            format: format_of(body.format.as_deref(), kept_format)?,
        },
    };
    state.core.execute(Command::EditPost(command)).await?;
    Ok(Json(thread_out(&state, thread, &caller).await?))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteBody {
    /// The reply to delete (`rpl_<n>`); none for the thread.
    reply_id: Option<String>,
    /// Recorded in the moderation log when a moderator deletes another's post.
    #[schema(max_length = 500)]
    reason: Option<String>,
}

/// Deletes a thread or reply: your own, or anyone's as a moderator (logged). The post
/// keeps its place; its text no longer shows.
#[utoipa::path(post, path = "/threads/{thread_id}/delete", tag = "social",
    request_body(content = Option<DeleteBody>, description = "Optional"),
    responses((status = 200, description = "The thread", body = ThreadJson)))]
pub(super) async fn delete_post(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(thread_id): Path<String>,
    OptBody(body): OptBody<DeleteBody>,
) -> ApiResult<Json<ThreadJson>> {
    let thread = parse_thread(&thread_id)?;
    let command = DeletePost {
        actor: caller.user,
        thread,
        reply: parse_reply(body.reply_id.as_deref())?,
        reason: body.reason.unwrap_or_default(),
    };
    state.core.execute(Command::DeletePost(command)).await?;
    Ok(Json(thread_out(&state, thread, &caller).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ThreadListParams {
    /// `hot` (Reddit's hot rank; the default), `new` or `top` (score). Pinned threads
    /// come first.
    #[param(pattern = "^(hot|new|top)$")]
    sort: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Threads per page: 20 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ThreadSummary {
    id: String,
    community_id: String,
    author_id: String,
    title: String,
    preview: String,
    thread_type: String,
    is_pinned: bool,
    is_locked: bool,
    has_paywall: bool,
    paywall_amount: String,
    currency: String,
    upvotes: i64,
    downvotes: i64,
    score: i64,
    reply_count: i64,
    view_count: i64,
    created_at: String,
    last_reply_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ThreadList {
    page: u32,
    limit: u32,
    total: u64,
    threads: Vec<ThreadSummary>,
}

fn summary(row: &ThreadRow, text: Option<&PostContent>) -> ThreadSummary {
    ThreadSummary {
        id: ThreadId(row.id).public(),
        community_id: CommunityId(row.community).public(),
        author_id: UserId(row.author).public(),
        title: text.map(|t| t.title.clone()).unwrap_or_default(),
        preview: text.map(|t| t.preview.clone()).unwrap_or_default(),
        thread_type: row.thread_type.clone(),
        is_pinned: row.is_pinned,
        is_locked: row.is_locked,
        has_paywall: row.paywall_amount > 0,
        paywall_amount: money(Amount(row.paywall_amount)),
        currency: row.currency.clone(),
        upvotes: row.upvotes,
        downvotes: row.downvotes,
        score: row.score,
        reply_count: row.reply_count,
        view_count: row.view_count,
        created_at: time(row.created_at),
        last_reply_at: opt_time(row.last_reply_at),
    }
}

/// The titles and previews of threads, by thread id.
async fn thread_texts(state: &AppState, threads: &[u64]) -> ApiResult<HashMap<u64, PostContent>> {
    let mut params = Vec::new();
    let list = in_list(&mut params, threads.iter().copied());
    let filter = format!("reply_id = 0 AND thread_id IN ({list})");
    let rows = texts(state, &filter, &params, threads.len()).await?;
    Ok(rows.into_iter().map(|c| (c.thread, c)).collect())
}

/// A community's threads (not deleted), pinned first, then hot, new or top.
#[utoipa::path(get, path = "/communities/{community_id}/threads", tag = "social",
    params(ThreadListParams),
    responses((status = 200, description = "A page of threads", body = ThreadList)))]
pub(super) async fn community_threads(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(community_id): Path<String>,
    Params(params): Params<ThreadListParams>,
) -> ApiResult<Json<ThreadList>> {
    let community: CommunityId = crate::ids::parse_path(&community_id, "community")?;
    let limit = bounded("limit", params.limit, 20, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let order = match params.sort.as_deref() {
        None | Some("hot") => "is_pinned DESC, hot_rank DESC, id DESC",
        Some("new") => "is_pinned DESC, created_at DESC, id DESC",
        Some("top") => "is_pinned DESC, score DESC, id DESC",
        Some(_) => return Err(ApiError::bad_request("sort is hot, new or top")),
    };
    super::communities::require_reader(&state, community, &caller).await?;
    let offset = (page - 1).saturating_mul(limit);
    let (rows, total) = state
        .store()
        .await?
        .page(
            &schema::THREADS,
            "community_id = $1 AND NOT is_deleted",
            &[schema::id(community.0)],
            order,
            offset,
            limit,
            schema::thread_of,
        )
        .await?;
    let ids: Vec<u64> = rows.iter().map(|r| r.id).collect();
    let texts = thread_texts(&state, &ids).await?;
    Ok(Json(ThreadList {
        page,
        limit,
        total,
        threads: rows.iter().map(|r| summary(r, texts.get(&r.id))).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchParams {
    /// Words to find (all of them; English stemming: "predicted" finds "prediction").
    #[param(min_length = 1, max_length = 200)]
    q: String,
    /// Only in this community.
    community_id: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Results per page: 20 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct SearchHit {
    thread_id: String,
    /// The reply that matched (null: the thread itself).
    reply_id: Option<String>,
    community_id: String,
    /// The thread's title.
    title: String,
    /// The start of the post that matched (a paywalled thread's public preview).
    preview: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct SearchPage {
    page: u32,
    limit: u32,
    total: u64,
    results: Vec<SearchHit>,
}

/// Full-text search over threads and replies you may read: titles and content (a
/// paywalled thread's title and preview only), deleted posts left out, best match first.
#[utoipa::path(get, path = "/threads/search", tag = "social", params(SearchParams),
    responses((status = 200, description = "A page of matches", body = SearchPage)))]
pub(super) async fn search_threads(
    State(state): State<AppState>,
    caller: AuthUser,
    Params(params): Params<SearchParams>,
) -> ApiResult<Json<SearchPage>> {
    let limit = bounded("limit", params.limit, 20, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    if params.q.trim().is_empty() || params.q.chars().count() > 200 {
        return Err(ApiError::bad_request("q is 1 to 200 characters"));
    }
    let within: Option<CommunityId> = params
        .community_id
        .as_deref()
        .map(|id| crate::ids::parse_path(id, "community"))
        .transpose()?;
    let store = state.store().await?;
    // The communities the caller belongs to (and is not banned from) besides public ones.
    let now = Timestamp::from_secs(AppState::now_secs());
    let (memberships, _) = store
        .page(
            &schema::COMMUNITY_MEMBERS,
            "user_id = $1 AND status = 'active'",
            &[schema::id(caller.user.0)],
            "community_id ASC",
            0,
            MEMBERSHIPS_PER_USER_MAX,
            schema::community_member_view,
        )
        .await?;
    let (banned, readable): (Vec<_>, Vec<_>) = memberships
        .iter()
        .partition(|m| m.banned_until.is_some_and(|until| until > now));
    let readable: Vec<u64> = readable.iter().map(|m| m.community.0).collect();
    // A ban closes even a public community's posts to the banned.
    let banned: Vec<u64> = banned.iter().map(|m| m.community.0).collect();
    let offset = (page - 1).saturating_mul(limit);
    let (hits, total) = store
        .store
        .search_posts(
            &params.q,
            (&readable, &banned),
            within.map(|c| c.0),
            limit,
            u64::from(offset),
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "search failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "history_unavailable",
                "the history store cannot be searched right now",
            )
        })?;
    let mut results = Vec::with_capacity(hits.len());
    for (thread, reply) in hits {
        let texts = contents(&state, ThreadId(thread), &[0, reply]).await?;
        let Some(head) = texts.get(&0) else { continue };
        let post = texts.get(&reply).unwrap_or(head);
        results.push(SearchHit {
            thread_id: ThreadId(thread).public(),
            reply_id: (reply != 0).then(|| ReplyId(reply).public()),
            community_id: CommunityId(head.community).public(),
            title: head.title.clone(),
            preview: post.preview.clone(),
        });
    }
    Ok(Json(SearchPage {
        page,
        limit,
        total,
        results,
    }))
}
