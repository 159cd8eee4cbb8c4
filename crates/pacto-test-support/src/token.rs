//! A bearer-token issuer implementing the Docker token protocol for distribution's
//! `auth: token`.
//!
//! `GET /token?service=S&scope=repository:NAME:pull,push` with optional Basic credentials, or the
//! OAuth2 form `POST /token` with `grant_type=password`, answers
//! `{"token","access_token","expires_in","issued_at"}`. The token is a JWT signed `ES256` whose
//! `x5c` header carries the signing certificate, which the registry trusts through its
//! `rootcertbundle` (the test CA).

use std::io;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::error::Error;
use crate::http::{self, Conn, Flow, Handler, Request, Response, Server, lock};
use crate::pki::Pki;
use crate::registry::{Access, TokenUser};

/// The `service` (JWT audience) the registry is configured with.
pub(crate) const SERVICE: &str = "pacto-test-registry";
/// The `iss` claim the registry trusts.
pub(crate) const ISSUER: &str = "pacto-test-support";
/// Token lifetime announced in `expires_in`.
const EXPIRES_IN: u64 = 300;

/// One request the token issuer answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The authenticated user name, `None` for an anonymous request.
    pub account: Option<String>,
    /// The scopes asked for, as sent (e.g. `repository:team/app:pull,push`).
    pub scopes: Vec<String>,
    /// The scopes granted, one entry per requested resource, with only the allowed actions
    /// (e.g. `repository:team/app:pull` for a read-only user). Empty when refused.
    pub granted: Vec<String>,
    /// The HTTP status answered: 200, 400 for a malformed request, 401 for bad credentials.
    pub status: u16,
}

struct IssuerState {
    users: Vec<TokenUser>,
    anonymous: Access,
    pki: Arc<Pki>,
    log: Mutex<Vec<TokenRequest>>,
}

/// The running issuer; stopped on drop.
pub(crate) struct TokenIssuer {
    state: Arc<IssuerState>,
    url: String,
    _server: Server,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    pub(crate) fn start(
        users: Vec<TokenUser>,
        anonymous: Access,
        pki: Arc<Pki>,
        tls: bool,
    ) -> Result<TokenIssuer, Error> {
        let tls_config = if tls {
            Some(pki.server_config()?)
        } else {
            None
        };
        let state = Arc::new(IssuerState {
            users,
            anonymous,
            pki,
            log: Mutex::new(Vec::new()),
        });
        let handler: Arc<dyn Handler> = Arc::new(IssuerHandler(Arc::clone(&state)));
        let server = Server::start("token issuer", handler, tls_config)?;
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{}/token", server.addr());
        Ok(TokenIssuer {
            state,
            url,
            _server: server,
        })
    }

    /// The realm URL (`http(s)://127.0.0.1:PORT/token`).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn log(&self) -> Vec<TokenRequest> {
        lock(&self.state.log).clone()
    }

    pub(crate) fn count(&self) -> usize {
        lock(&self.state.log).len()
    }
}

struct IssuerHandler(Arc<IssuerState>);

impl Handler for IssuerHandler {
    fn handle(&self, request: Request, conn: &mut Conn<'_>) -> io::Result<Flow> {
        let response = if request.path() == "/token" {
            let (response, record) = self.0.answer(&request);
            lock(&self.0.log).push(record);
            response
        } else {
            Response::json(404, &serde_json::json!({"error": "not_found"}))
        };
        let head = request.method.eq_ignore_ascii_case("HEAD");
        http::write_response(conn.stream, &response, head)?;
        Ok(Flow::KeepAlive)
    }
}

fn error_response(status: u16, error: &str, description: &str) -> Response {
    let response = Response::json(
        status,
        &serde_json::json!({"error": error, "error_description": description, "details": description}),
    );
    if status == 401 {
        response.with_header("WWW-Authenticate", "Basic realm=\"pacto-test-token\"")
    } else {
        response
    }
}

impl IssuerState {
    fn answer(&self, request: &Request) -> (Response, TokenRequest) {
        let mut record = TokenRequest {
            account: None,
            scopes: Vec::new(),
            granted: Vec::new(),
            status: 400,
        };
        let mut service = None;
        let mut credentials = None;
        match request.method.as_str() {
            "GET" => {
                for (key, value) in http::parse_query(request.query(), false) {
                    match key.as_str() {
                        "scope" => record.scopes.extend(
                            value
                                .split(' ')
                                .filter(|s| !s.is_empty())
                                .map(str::to_owned),
                        ),
                        "service" => service = Some(value),
                        _ => {}
                    }
                }
                match request.headers.get("Authorization").map(parse_basic) {
                    None => {}
                    Some(Some(pair)) => credentials = Some(pair),
                    Some(None) => {
                        return (
                            error_response(
                                400,
                                "invalid_request",
                                "malformed Authorization header",
                            ),
                            record,
                        );
                    }
                }
            }
            "POST" => {
                let form = String::from_utf8_lossy(&request.body).into_owned();
                let mut grant = None;
                let (mut username, mut password) = (None, None);
                for (key, value) in http::parse_query(&form, true) {
                    match key.as_str() {
                        "scope" => record.scopes.extend(
                            value
                                .split(' ')
                                .filter(|s| !s.is_empty())
                                .map(str::to_owned),
                        ),
                        "service" => service = Some(value),
                        "grant_type" => grant = Some(value),
                        "username" => username = Some(value),
                        "password" => password = Some(value),
                        _ => {}
                    }
                }
                if grant.as_deref() != Some("password") {
                    return (
                        error_response(
                            400,
                            "unsupported_grant_type",
                            "only grant_type=password is supported",
                        ),
                        record,
                    );
                }
                match (username, password) {
                    (Some(user), Some(pass)) => credentials = Some((user, pass)),
                    _ => {
                        return (
                            error_response(
                                400,
                                "invalid_request",
                                "username and password are required",
                            ),
                            record,
                        );
                    }
                }
            }
            _ => {
                return (
                    error_response(405, "invalid_request", "use GET or POST"),
                    record,
                );
            }
        }
        if service.as_deref().is_some_and(|s| s != SERVICE) {
            return (
                error_response(
                    400,
                    "invalid_request",
                    &format!("unknown service, this issuer serves {SERVICE:?}"),
                ),
                record,
            );
        }
        let access =
            match &credentials {
                None => self.anonymous,
                Some((user, pass)) => {
                    record.account = Some(user.clone());
                    match self.users.iter().find(|u| {
                        u.credentials.username == *user && u.credentials.password == *pass
                    }) {
                        Some(found) => found.access,
                        None => {
                            record.status = 401;
                            return (
                                error_response(401, "unauthorized", "invalid username or password"),
                                record,
                            );
                        }
                    }
                }
            };
        let mut claims_access = Vec::new();
        for scope in &record.scopes {
            let Some((kind, name, actions)) = parse_scope(scope) else {
                return (
                    error_response(400, "invalid_scope", &format!("malformed scope {scope:?}")),
                    record,
                );
            };
            let allowed: Vec<&str> = actions
                .split(',')
                .filter(|a| permits(access, kind, a))
                .collect();
            claims_access.push(serde_json::json!({"type": kind, "name": name, "actions": allowed}));
            record
                .granted
                .push(format!("{kind}:{name}:{}", allowed.join(",")));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let subject = record.account.clone().unwrap_or_default();
        let token = match self.sign(&subject, &claims_access, now) {
            Ok(token) => token,
            Err(message) => {
                record.status = 500;
                return (error_response(500, "server_error", &message), record);
            }
        };
        record.status = 200;
        let body = serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": EXPIRES_IN,
            "issued_at": rfc3339(now),
        });
        (Response::json(200, &body), record)
    }

    fn sign(
        &self,
        subject: &str,
        access: &[serde_json::Value],
        now: u64,
    ) -> Result<String, String> {
        let rng = ring::rand::SystemRandom::new();
        let mut jti = [0u8; 16];
        ring::rand::SecureRandom::fill(&rng, &mut jti)
            .map_err(|_| "no randomness for the token id".to_owned())?;
        let header = serde_json::json!({
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [STANDARD.encode(&self.pki.signer_cert_der)],
        });
        let claims = serde_json::json!({
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + EXPIRES_IN,
            "nbf": now.saturating_sub(10),
            "iat": now,
            "jti": crate::digest::sha256_hex(jti),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .pki
            .signer_key
            .sign(&rng, signing_input.as_bytes())
            .map_err(|_| "signing the token failed".to_owned())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }
}

/// Decodes `Basic base64(user:pass)`.
pub(crate) fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// Splits `type:name:actions`; the name may itself hold `:` (e.g. a registry host with a port).
fn parse_scope(scope: &str) -> Option<(&str, &str, &str)> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    (!kind.is_empty() && !name.is_empty()).then_some((kind, name, actions))
}

fn permits(access: Access, kind: &str, action: &str) -> bool {
    match (kind, access) {
        ("repository", Access::PullPush) => matches!(action, "pull" | "push" | "delete" | "*"),
        ("repository", Access::Pull) => action == "pull",
        ("registry", Access::PullPush) => true,
        _ => false,
    }
}

/// Formats Unix seconds as RFC 3339 UTC (`2026-01-02T03:04:05Z`).
fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant), valid for any date after 1970.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_767_225_599, "2025-12-31T23:59:59Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
        ];
        for (secs, text) in cases {
            assert_eq!(rfc3339(secs), text);
        }
    }

    #[test]
    fn parses_scopes() {
        assert_eq!(
            parse_scope("repository:a/b:pull,push"),
            Some(("repository", "a/b", "pull,push"))
        );
        assert_eq!(
            parse_scope("repository:host:5000/a:pull"),
            Some(("repository", "host:5000/a", "pull"))
        );
        assert_eq!(
            parse_scope("registry:catalog:*"),
            Some(("registry", "catalog", "*"))
        );
        assert_eq!(parse_scope("repository:pull"), None);
        assert_eq!(parse_scope(":a:pull"), None);
    }

    #[test]
    fn grants_follow_access() {
        let table = [
            (Access::PullPush, "repository", "push", true),
            (Access::PullPush, "repository", "delete", true),
            (Access::PullPush, "registry", "*", true),
            (Access::Pull, "repository", "pull", true),
            (Access::Pull, "repository", "push", false),
            (Access::Pull, "registry", "*", false),
            (Access::None, "repository", "pull", false),
        ];
        for (access, kind, action, expected) in table {
            assert_eq!(
                permits(access, kind, action),
                expected,
                "{access:?} {kind} {action}"
            );
        }
    }

    #[test]
    fn decodes_basic_credentials() {
        assert_eq!(
            parse_basic("Basic dXNlcjpwYTpzcw=="),
            Some(("user".into(), "pa:ss".into()))
        );
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }
}
