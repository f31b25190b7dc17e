//! Public ids in the gateway's answers: the ids themselves are the protocol's
//! ([`betbet_protocol::ids`]); a path id of the wrong kind is a 400 here.

pub use betbet_protocol::ids::PublicId;

/// The answer to a path id that is not an id of the kind the route takes (wrong prefix, not
/// a number): a 400, distinct from the 404 of a well-formed id that names nothing.
pub fn invalid_id(what: &str, text: &str) -> crate::error::ApiError {
    let shown: String = text.chars().take(64).collect();
    crate::error::ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "invalid_id",
        format!("`{shown}` is not a {what} id"),
    )
}

/// Parses a path id of kind `T`, or answers [`invalid_id`].
pub fn parse_path<T: PublicId>(text: &str, what: &str) -> crate::error::ApiResult<T> {
    T::parse(text).ok_or_else(|| invalid_id(what, text))
}
