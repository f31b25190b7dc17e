//! The route table: every route is declared once, with who may call it and what body it
//! takes, and the router is built from the same declarations — so the table cannot leave a
//! route out. `betbet routes` prints it; the security matrix test
//! (`tests/tests/matrix.rs`) walks it, so a new route is covered without anyone
//! remembering to add it there.

use axum::Router;
use axum::http::Method;
use axum::routing::MethodRouter;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

pub const GET: Method = Method::GET;
pub const POST: Method = Method::POST;
pub const PUT: Method = Method::PUT;
pub const DELETE: Method = Method::DELETE;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in, active user.
    User,
    /// A signed-in user, on an object the path names that is theirs (or that they manage);
    /// anyone else gets 403 or 404. Admins may act for others.
    Owner,
    /// Admins only.
    Admin,
    /// No token: the request carries its own signature (payment provider webhooks).
    Signed,
}

/// What a route's request body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// None is read.
    NoBody,
    /// A JSON object; unknown fields are refused.
    JsonBody,
    /// A JSON object, or nothing at all.
    MaybeJsonBody,
    /// `multipart/form-data` (uploads).
    MultipartBody,
    /// Raw bytes checked against a signature.
    RawBody,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::User => "user",
            Access::Owner => "owner",
            Access::Admin => "admin",
            Access::Signed => "signed",
        }
    }
}

impl BodyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BodyKind::NoBody => "empty",
            BodyKind::JsonBody => "json",
            BodyKind::MaybeJsonBody => "optional_json",
            BodyKind::MultipartBody => "multipart",
            BodyKind::RawBody => "raw",
        }
    }
}

/// Bodies a bodiless route may still be sent: nothing, or an empty JSON object.
const EMPTY_BODY_MAX: usize = 1024;

async fn refuse_body(
    bodiless: std::sync::Arc<Vec<Method>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !bodiless.contains(request.method()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, EMPTY_BODY_MAX).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return crate::error::ApiError::bad_request("this route takes no request body")
                .into_response();
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let trimmed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !(trimmed.is_empty() || trimmed == "{}") {
        return crate::error::ApiError::bad_request(
            "this route takes no request body (its parameters are in the path and the token)",
        )
        .into_response();
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// One method of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    pub method: Method,
    /// The full path, `{param}` placeholders included.
    pub path: String,
    pub access: Access,
    pub body: BodyKind,
}

/// What `utoipa_axum::routes!` gives for the handlers of one path: the schemas their
/// annotations use, their documented operations, and the method router that serves them.
pub type Documented<S> = (
    Vec<(String, RefOr<Schema>)>,
    utoipa::openapi::path::Paths,
    MethodRouter<S>,
);

/// A router, the table of what it serves and its OpenAPI paths, built together from the
/// same declarations.
pub struct Routes<S> {
    router: Router<S>,
    entries: Vec<RouteEntry>,
    paths: utoipa::openapi::path::Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            entries: Vec::new(),
            paths: utoipa::openapi::path::Paths::new(),
            schemas: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves the handlers of one path, as `utoipa_axum::routes!` gives them (their
    /// `#[utoipa::path]` annotations name the path and methods); `spec` names each method
    /// with its access and body. The two must agree, method for method: the table, the
    /// router and the document cannot drift apart. Each operation gets from `spec` its
    /// security requirement, its path parameters' id formats and the error responses its
    /// access and body imply, when the document is made (from the full paths).
    pub fn route(
        mut self,
        spec: &[(Method, Access, BodyKind)],
        (schemas, paths, handlers): Documented<S>,
    ) -> Self {
        let mut items = paths.paths.into_iter();
        let (path, item) = items.next().expect("routes! of no handler");
        assert!(
            items.next().is_none(),
            "{path}: one route declaration serves one path"
        );
        let path = path.as_str();
        assert!(!spec.is_empty(), "{path}: a route without methods");
        let documented: Vec<Method> = super::doc::operations(&item)
            .map(|(method, _)| method)
            .collect();
        let declared: Vec<Method> = spec.iter().map(|(method, _, _)| method.clone()).collect();
        for method in &declared {
            assert!(
                documented.contains(method),
                "{method} {path}: declared in the table but no handler is documented for it"
            );
        }
        for method in &documented {
            assert!(
                declared.contains(method),
                "{method} {path}: a handler is documented for it but the table omits it"
            );
        }
        self.paths.paths.insert(path.to_owned(), item);
        self.schemas.extend(schemas);
        for (method, access, body) in spec {
            self.entries.push(RouteEntry {
                method: method.clone(),
                path: path.to_owned(),
                access: *access,
                body: *body,
            });
        }
        // The methods that take no body refuse one (an empty object aside), so a field sent
        // to them is never silently ignored.
        let bodiless: Vec<Method> = spec
            .iter()
            .filter(|(_, _, body)| *body == BodyKind::NoBody)
            .map(|(method, _, _)| method.clone())
            .collect();
        let handlers = if bodiless.is_empty() {
            handlers
        } else {
            let bodiless = std::sync::Arc::new(bodiless);
            handlers.route_layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    refuse_body(std::sync::Arc::clone(&bodiless), request, next)
                },
            ))
        };
        self.router = self.router.route(path, handlers);
        self
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.entries.extend(other.entries);
        self.paths.paths.extend(other.paths.paths);
        self.schemas.extend(other.schemas);
        self
    }

    pub fn nest(mut self, prefix: &str, other: Routes<S>) -> Self {
        self.router = self.router.nest(prefix, other.router);
        self.entries
            .extend(other.entries.into_iter().map(|mut entry| {
                entry.path = format!("{prefix}{}", entry.path);
                entry
            }));
        self.paths.paths.extend(
            other
                .paths
                .paths
                .into_iter()
                .map(|(path, item)| (format!("{prefix}{path}"), item)),
        );
        self.schemas.extend(other.schemas);
        self
    }

    pub fn into_parts(self) -> (Router<S>, Vec<RouteEntry>) {
        (self.router, self.entries)
    }

    /// The OpenAPI document of these routes.
    pub fn document(&self) -> utoipa::openapi::OpenApi {
        super::doc::document(self.paths.clone(), self.schemas.clone(), &self.entries)
    }
}
