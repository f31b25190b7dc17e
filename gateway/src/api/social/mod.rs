//! Social routes (spec Service 6): communities, their members and moderation. Community
//! ids are `com_<n>`.
//!
//! Joining, leaving and moderation are journaled commands the core decides (it keeps
//! every community and membership); the lists — communities by members, activity or
//! age, a community's members and requests, its moderation log — are read from the
//! history store once it holds every change the caller made (read-your-writes).

mod communities;

use super::table::{Access::*, BodyKind::*, GET, POST, Routes};
use crate::state::AppState;
use utoipa_axum::routes;

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
}
