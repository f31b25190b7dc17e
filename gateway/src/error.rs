//! API errors: `{"error": {"code": "...", "message": "..."}}` with a fitting status.
//!
//! Business rejections keep the engine's stable snake_case code; the status is chosen here,
//! per code, so every route answers the same rejection the same way.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use betbet_protocol::result::ResultCode;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Seconds to wait, for 429 and 503.
    pub retry_after: Option<u64>,
    /// Each field of the request that is missing or invalid, with what is wrong with it
    /// (`error.fields` in the body), so a client fixes them all at once.
    pub fields: Vec<(String, String)>,
}

/// Collects every problem of a request's fields, to answer them in one 400.
#[derive(Debug, Default)]
pub struct Problems(Vec<(String, String)>);

impl Problems {
    pub fn add(&mut self, field: &str, problem: impl Into<String>) {
        self.0.push((field.to_owned(), problem.into()));
    }

    /// The value, or `None` with the field noted as missing.
    pub fn require<T>(&mut self, field: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.add(field, "is required");
        }
        value
    }

    /// The value of a check, or `None` with the check's message noted against the field.
    pub fn check<T>(&mut self, field: &str, result: Result<T, ApiError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.message);
                None
            }
        }
    }

    /// `Ok` when nothing was noted; otherwise one 400 naming every field.
    pub fn finish(self) -> ApiResult<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.0.iter().map(|(f, _)| f.as_str()).collect();
        Err(ApiError {
            fields: self.0.clone(),
            ..ApiError::bad_request(format!(
                "{} missing or invalid: {}",
                if names.len() == 1 {
                    "a field is"
                } else {
                    "fields are"
                },
                names.join(", ")
            ))
        })
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
            retry_after: None,
            fields: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "you may not do this")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; slow down",
            )
        }
    }
}

/// The HTTP status of a business rejection.
pub fn status_of(code: ResultCode) -> StatusCode {
    use ResultCode::*;
    match code {
        Overloaded | Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        InvalidRequest | InvalidAmount | TextTooLong | InvalidTime | InvalidText | InvalidPrice
        | PriceOffTick | InvalidQuantity | InvalidTickSize | InvalidCloseTime | InvalidFee
        | InvalidOutcomes | InvalidMarketType | InvalidScalarRange | InvalidResolution
        | InvalidTimeInForce | ExpiryInPast | InvalidUsername | InvalidEmail
        | InvalidReferralCode | UnsupportedCurrency | InvalidGameSettings | InvalidStake
        | InvalidClientSeed | InvalidChatMessage | InvalidTournament | InvalidCommunity
        | InvalidModeration | InvalidPaywall | CannotMessageSelf | InvalidGroup => {
            StatusCode::BAD_REQUEST
        }
        Forbidden
        | NotMarketCreator
        | NotPoolManager
        | OracleNotManual
        | AccountSuspended
        | ResolverMayNotTrade
        | NotAHolder
        | NotSessionCreator
        | CreatorCannotLeave
        | PlayerCannotSpectate
        | NotInSession
        | NotYourMatch
        | NotTournamentCreator
        | NotCommunityModerator
        | MemberBanned
        | OwnerCannotLeave
        | MemberMuted
        | PaywallRequired
        | CannotVoteOwnPost
        | NotPostAuthor
        | MembersOnly
        | UserBlocked
        | NotMessageSender
        | NotInvited
        | NotGroupAdmin => StatusCode::FORBIDDEN,
        NotFound
        | UnknownAccount
        | DepositNotFound
        | WithdrawalNotFound
        | TransactionNotFound
        | PaymentMethodNotFound
        | MarketNotFound
        | OutcomeNotFound
        | PoolNotFound
        | OrderNotFound
        | PositionNotFound
        | UserNotFound
        | KycDocumentNotFound
        | ApiKeyNotFound
        | GameNotFound
        | GameSessionNotFound
        | TournamentNotFound
        | CommunityNotFound
        | NotMember
        | NoJoinRequest
        | ThreadNotFound
        | ReplyNotFound
        | RoomNotFound
        | MessageNotFound
        | GroupNotFound
        | NotGroupMember => StatusCode::NOT_FOUND,
        IdempotencyKeyConflict
        | WalletExists
        | UsernameTaken
        | EmailTaken
        | DepositNotPending
        | WithdrawalNotPending
        | KycNotPending
        | AlreadyPoolMember
        | TwoFaAlreadyEnabled
        | OrderNotOpen
        | MarketAlreadySettled
        | AmendNoChange
        | ApiKeyRevoked
        | MarketNotClosed
        | ResolutionPending
        | NoResolutionProposed
        | DisputeWindowOver
        | AlreadyDisputed
        | GameInactive
        | GameSessionNotWaiting
        | GameSessionFull
        | AlreadyInSession
        | GameSessionNotActive
        | NotYourTurn
        | TournamentMatch
        | TournamentNotOpen
        | TournamentFull
        | AlreadyRegistered
        | NotRegistered
        | CommunityNameTaken
        | AlreadyMember
        | CommunityFull
        | ThreadLocked
        | PostDeleted
        | ThreadFull
        | MessageTooOld
        | GroupNameTaken
        | AlreadyGroupMember
        | GroupFull => StatusCode::CONFLICT,
        InvalidCredentials | SessionNotFound | SessionExpired | SessionRevoked
        | RefreshTokenReused | TwoFaRequired | InvalidTwoFaCode | TwoFaCodeReused
        | StaleTimestamp | NonceReused | BadSignature => StatusCode::UNAUTHORIZED,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<ResultCode> for ApiError {
    fn from(code: ResultCode) -> Self {
        ApiError {
            retry_after: matches!(code, ResultCode::Overloaded).then_some(1),
            ..ApiError::new(status_of(code), code.name(), code.message())
        }
    }
}

impl ApiError {
    /// The body's `error` object, as REST and the WebSocket send it (the request id is
    /// added by the request middleware).
    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code.clone(),
            message: self.message.clone(),
            request_id: None,
            fields: (!self.fields.is_empty()).then(|| {
                self.fields
                    .iter()
                    .map(|(field, problem)| FieldProblem {
                        field: field.clone(),
                        problem: problem.clone(),
                    })
                    .collect()
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.detail(),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The codes the gateway itself answers with, besides the core's [`ResultCode`]s, and the
/// statuses it answers each with. A unit test holds every `ApiError::new` in the sources to
/// this list.
pub const GATEWAY_CODES: &[(&str, &[u16])] = &[
    // 413 and 415 when the body cannot even be read as JSON.
    ("invalid_request", &[400, 413, 415]),
    ("invalid_id", &[400]),
    ("invalid_amount", &[400]),
    ("invalid_price", &[400]),
    ("invalid_quantity", &[400]),
    ("invalid_password", &[400]),
    ("unsupported_currency", &[400]),
    ("unsupported_media_type", &[415]),
    ("file_too_large", &[413]),
    ("unauthorized", &[401]),
    ("session_revoked", &[401]),
    ("forbidden", &[403]),
    ("account_suspended", &[403]),
    ("origin_not_allowed", &[403]),
    ("not_a_spectator", &[403]),
    ("not_found", &[404]),
    ("route_not_found", &[404]),
    ("method_not_allowed", &[405]),
    ("already_subscribed", &[409]),
    ("channel_full", &[409]),
    ("already_in_channel", &[409]),
    ("not_in_channel", &[404]),
    ("limit_exceeded", &[422]),
    ("rate_limited", &[429]),
    ("too_many_in_flight", &[429]),
    ("internal_error", &[500]),
    ("overloaded", &[503]),
    ("history_lagging", &[503]),
    ("history_unavailable", &[503]),
];

/// Every code an error can carry — of `status`, or of any status: the core's codes
/// answered with it and the gateway's own.
pub fn error_codes(status: Option<u16>) -> Vec<&'static str> {
    let mut codes: Vec<&str> = ResultCode::ALL
        .iter()
        .filter(|code| status.is_none_or(|s| status_of(**code).as_u16() == s))
        .map(|code| code.name())
        .chain(
            GATEWAY_CODES
                .iter()
                .filter(|(_, statuses)| status.is_none_or(|s| statuses.contains(&s)))
                .map(|(code, _)| *code),
        )
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// Every error's body (the OpenAPI document's description of [`ApiError`]'s response).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case; what a client branches on.
    #[schema(schema_with = all_error_codes)]
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
    /// The request's `X-Request-ID`, which the server's log lines carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub request_id: Option<String>,
    /// Each missing or invalid field of the request, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub fields: Option<Vec<FieldProblem>>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

fn all_error_codes() -> utoipa::openapi::schema::Object {
    error_code_schema(None)
}

/// The codes an error (of `status`, or of any) can carry, as a string enumeration.
pub fn error_code_schema(status: Option<u16>) -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(error_codes(status)))
        .description(Some("Stable, snake_case; what a client branches on"))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_NAMES: &[(&str, u16)] = &[
        ("BAD_REQUEST", 400),
        ("UNAUTHORIZED", 401),
        ("FORBIDDEN", 403),
        ("NOT_FOUND", 404),
        ("METHOD_NOT_ALLOWED", 405),
        ("CONFLICT", 409),
        ("PAYLOAD_TOO_LARGE", 413),
        ("UNSUPPORTED_MEDIA_TYPE", 415),
        ("UNPROCESSABLE_ENTITY", 422),
        ("TOO_MANY_REQUESTS", 429),
        ("INTERNAL_SERVER_ERROR", 500),
        ("SERVICE_UNAVAILABLE", 503),
    ];

    /// Every code an `ApiError::new` in the gateway's sources gives is in [`GATEWAY_CODES`]
    /// or is a core code, so the document's `ErrorCode` lists every code a client can get.
    #[test]
    fn every_code_the_gateway_answers_is_documented() {
        fn sources(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        let mut texts = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut texts,
        );
        let mut seen = 0;
        for text in &texts {
            for (at, call) in text.match_indices("ApiError::new(") {
                // The second argument, when it is a literal: past the first top-level comma.
                let rest = &text[at + call.len()..];
                let mut depth = 0usize;
                let Some(comma) = rest.char_indices().find_map(|(i, c)| match c {
                    '(' | '[' | '{' => {
                        depth += 1;
                        None
                    }
                    ')' | ']' | '}' => {
                        depth = depth.saturating_sub(1);
                        None
                    }
                    ',' if depth == 0 => Some(i),
                    _ => None,
                }) else {
                    continue;
                };
                let Some(literal) = rest[comma + 1..].trim_start().strip_prefix('"') else {
                    continue;
                };
                let code = literal.split('"').next().unwrap_or_default();
                let status = rest[..comma].trim();
                seen += 1;
                let listed = GATEWAY_CODES.iter().find(|(c, _)| *c == code);
                assert!(
                    listed.is_some() || ResultCode::ALL.iter().any(|c| c.name() == code),
                    "`{code}` is answered but not in GATEWAY_CODES"
                );
                // A literal status must be one the list gives the code.
                if let (Some((_, statuses)), Some(name)) =
                    (listed, status.strip_prefix("StatusCode::"))
                {
                    let number = STATUS_NAMES
                        .iter()
                        .find(|(n, _)| *n == name)
                        .unwrap_or_else(|| panic!("add StatusCode::{name} to STATUS_NAMES"))
                        .1;
                    assert!(
                        statuses.contains(&number),
                        "`{code}` is answered with {number}, which GATEWAY_CODES does not list"
                    );
                }
            }
        }
        assert!(seen > 10, "found only {seen} ApiError::new calls");
    }
}
