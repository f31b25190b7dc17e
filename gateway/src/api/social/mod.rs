//! Social routes (spec Service 6): communities, their members and moderation, their
//! threads (`threads`), direct messages and blocks (`messages`), and the chat-room and
//! voice-channel WebSockets (`chat_socket`, `voice`, with `local` for what stays in this
//! gateway). Community ids are `com_<n>`.
//!
//! Joining, leaving and moderation are journaled commands the core decides (it keeps
//! every community and membership); the lists — communities by members, activity or
//! age, a community's members and requests, its moderation log — are read from the
//! history store once it holds every change the caller made (read-your-writes).

pub(crate) mod chat_socket;
mod communities;
mod groups;
pub mod local;
mod messages;
mod threads;
pub(crate) mod voice;

use super::table::{Access::*, BodyKind::*, GET, POST, Routes};
use crate::state::AppState;
use utoipa_axum::routes;

/// The largest body of the routes that take a post's text: 40 000 characters are up to
/// 480 KB of JSON when every character is sent escaped (`\ud83d\ude00`), beyond the
/// other routes' 64 KiB.
pub const POST_BODY_MAX: usize = 512 * 1024;

fn post_body(
    (schemas, paths, handlers): super::table::Documented<AppState>,
) -> super::table::Documented<AppState> {
    let limit = axum::extract::DefaultBodyLimit::max(POST_BODY_MAX);
    (schemas, paths, handlers.layer(limit))
}

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(
            &[(GET, Public, NoBody)],
            routes!(communities::list_communities),
        )
        .route(
            &[(POST, User, JsonBody)],
            routes!(communities::create_community),
        )
        .route(&[(GET, User, NoBody)], routes!(communities::get_community))
        .route(
            &[(POST, User, MaybeJsonBody)],
            routes!(communities::join_community),
        )
        .route(
            &[(POST, User, NoBody)],
            routes!(communities::leave_community),
        )
        .route(
            &[(GET, User, NoBody)],
            routes!(communities::community_members),
        )
        .route(
            &[(POST, Owner, JsonBody)],
            routes!(communities::manage_member),
        )
        .route(
            &[(GET, Owner, NoBody)],
            routes!(communities::moderation_log),
        )
        .route(&[(GET, User, NoBody)], routes!(threads::community_threads))
        .route(
            &[(POST, User, JsonBody)],
            post_body(routes!(threads::create_thread)),
        )
        .route(&[(GET, User, NoBody)], routes!(threads::search_threads))
        .route(&[(GET, User, NoBody)], routes!(threads::get_thread))
        .route(
            &[(POST, User, JsonBody)],
            post_body(routes!(threads::reply_thread)),
        )
        .route(&[(POST, User, JsonBody)], routes!(threads::vote_thread))
        .route(&[(POST, User, NoBody)], routes!(threads::pay_thread))
        .route(
            &[(POST, Owner, JsonBody)],
            routes!(threads::moderate_thread),
        )
        .route(
            &[(POST, Owner, JsonBody)],
            post_body(routes!(threads::edit_post)),
        )
        .route(
            &[(POST, Owner, MaybeJsonBody)],
            routes!(threads::delete_post),
        )
        .route(&[(POST, User, JsonBody)], routes!(messages::send_message))
        .route(
            &[(GET, Owner, NoBody)],
            routes!(messages::list_conversations),
        )
        .route(
            &[(GET, Owner, NoBody)],
            routes!(messages::conversation_messages),
        )
        .route(
            &[(POST, Owner, MaybeJsonBody)],
            routes!(messages::mark_conversation_read),
        )
        .route(&[(POST, User, NoBody)], routes!(messages::block_user))
        .route(&[(POST, User, NoBody)], routes!(messages::unblock_user))
        .route(&[(GET, Owner, NoBody)], routes!(messages::list_blocks))
        .route(&[(POST, User, JsonBody)], routes!(groups::create_group))
        .route(&[(GET, User, NoBody)], routes!(groups::get_group))
        .route(&[(POST, User, MaybeJsonBody)], routes!(groups::join_group))
        .route(&[(POST, User, NoBody)], routes!(groups::leave_group))
        .route(
            &[(POST, Owner, JsonBody)],
            routes!(groups::manage_group_member),
        )
        .route(
            &[(POST, Owner, JsonBody)],
            routes!(groups::contribute_group),
        )
        .route(&[(POST, Owner, JsonBody)], routes!(groups::payout_group))
        .route(&[(GET, Owner, NoBody)], routes!(groups::group_wallet))
}
