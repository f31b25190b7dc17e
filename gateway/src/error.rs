//! API errors: `{"error": {"code": "...", "message": "..."}}` with a fitting status.
//!
//! Business rejections keep the engine's stable snake_case code; the status is chosen here,
//! per code, so every route answers the same rejection the same way.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use betbet_protocol::result::ResultCode;
use serde_json::json;

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
        | InvalidReferralCode | UnsupportedCurrency => StatusCode::BAD_REQUEST,
        Forbidden | NotMarketCreator | NotPoolManager | OracleNotManual | AccountSuspended
        | ResolverMayNotTrade | NotAHolder => StatusCode::FORBIDDEN,
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
        | ApiKeyNotFound => StatusCode::NOT_FOUND,
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
        | AlreadyDisputed => StatusCode::CONFLICT,
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": { "code": self.code, "message": self.message } });
        if !self.fields.is_empty() {
            body["error"]["fields"] = self
                .fields
                .iter()
                .map(|(field, problem)| json!({ "field": field, "problem": problem }))
                .collect();
        }
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
