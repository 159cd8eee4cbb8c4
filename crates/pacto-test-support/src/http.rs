//! Minimal HTTP/1.1 over `std::net` (and rustls), shared by the token issuer, the fault proxy,
//! the blob origin and the raw client.
//!
//! Only what those need: Content-Length and chunked bodies, keep-alive on the server side,
//! one request per connection on the client side. Every read is bounded in size and time.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::pki_types::ServerName;

use crate::error::Error;

/// Largest request or status line plus headers accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Most header fields accepted in one message.
const MAX_HEADERS: usize = 256;
/// Largest body accepted (tests push archives up to a few tens of MiB).
const MAX_BODY: usize = 512 * 1024 * 1024;
/// Read/write timeout on client sockets and for idle server connections.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Timeout for establishing a TCP connection to a loopback address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream (plain TCP or TLS over TCP).
pub(crate) trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// Locks a mutex, ignoring poisoning: the data under our locks stays consistent even if a
/// holder panicked (a panicking test must not cascade into unrelated failures).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Header fields in order, names compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Headers(Vec<(String, String)>);

impl Headers {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header (e.g. `Connection`) lists `token`.
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    pub(crate) fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub(crate) fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.push(name, value);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub(crate) fn to_vec(&self) -> Vec<(String, String)> {
        self.0.clone()
    }
}

/// An HTTP request (body fully read).
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The request target as sent: path plus query.
    pub(crate) target: String,
    pub(crate) headers: Headers,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn new(method: &str, target: impl Into<String>) -> Self {
        Request {
            method: method.to_owned(),
            target: target.into(),
            ..Request::default()
        }
    }

    /// The target without its query string.
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The raw query string (after `?`), or "".
    pub(crate) fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
}

/// An HTTP response (body fully read).
#[derive(Debug, Clone, Default)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) headers: Headers,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(status: u16) -> Self {
        Response {
            status,
            reason: reason(status).to_owned(),
            ..Response::default()
        }
    }

    pub(crate) fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push(name, value);
        self
    }

    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Self {
        let mut response =
            Response::new(status).with_header("Content-Type", "application/json; charset=utf-8");
        response.body = value.to_string().into_bytes();
        response
    }

    /// The start of the body as text, for error messages.
    pub(crate) fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(300) {
            Some((cut, _)) => format!("{}...", &text[..cut]),
            None => text.to_owned(),
        }
    }
}

/// The standard reason phrase of the statuses test support produces.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Reads one line (without CR LF), charging it to `budget`. `None` at a clean end of stream.
fn read_line(reader: &mut impl BufRead, budget: &mut usize) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let limit = u64::try_from(*budget).unwrap_or(u64::MAX);
    let read = reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if read >= *budget {
            invalid("http head too large")
        } else {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-line")
        });
    }
    *budget -= read;
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| invalid("http head is not utf-8"))
}

/// Reads a start line and header fields. `None` if the stream ended before the first byte.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<(String, Headers)>> {
    let mut budget = MAX_HEAD;
    let start = loop {
        match read_line(reader, &mut budget)? {
            None => return Ok(None),
            // Tolerate empty lines before a message (RFC 9112 section 2.2).
            Some(line) if line.is_empty() => {}
            Some(line) => break line,
        }
    };
    let mut headers = Headers::default();
    loop {
        let line = read_line(reader, &mut budget)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in http head",
            )
        })?;
        if line.is_empty() {
            return Ok(Some((start, headers)));
        }
        if headers.0.len() >= MAX_HEADERS {
            return Err(invalid("too many header fields"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("malformed header field {line:?}")))?;
        if name.is_empty() || name.starts_with([' ', '\t']) {
            return Err(invalid(format!("malformed header field {line:?}")));
        }
        headers.push(name.trim(), value.trim());
    }
}

fn read_exact_body(reader: &mut impl BufRead, length: usize) -> io::Result<Vec<u8>> {
    if length > MAX_BODY {
        return Err(invalid(format!(
            "body of {length} bytes is over the {MAX_BODY} byte limit"
        )));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut budget = MAX_HEAD;
        let line = read_line(reader, &mut budget)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in chunked body",
            )
        })?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailer fields, up to the empty line.
            loop {
                match read_line(reader, &mut budget)? {
                    Some(trailer) if !trailer.is_empty() => {}
                    _ => return Ok(body),
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(invalid(format!(
                "chunked body over the {MAX_BODY} byte limit"
            )));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(invalid("chunk not followed by CRLF"));
        }
    }
}

fn content_length(headers: &Headers) -> io::Result<Option<usize>> {
    headers
        .get("Content-Length")
        .map(|v| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| invalid(format!("bad Content-Length {v:?}")))
        })
        .transpose()
}

/// Reads one request from a client. `None` when the client closed the connection cleanly.
///
/// Answers `Expect: 100-continue` itself, before reading the body.
pub(crate) fn read_request<S: Read + Write>(
    reader: &mut BufReader<S>,
) -> io::Result<Option<Request>> {
    let Some((start, headers)) = read_head(reader)? else {
        return Ok(None);
    };
    let mut parts = start.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("malformed request line {start:?}")));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || target.is_empty() {
        return Err(invalid(format!("unsupported request line {start:?}")));
    }
    if headers.has_token("Expect", "100-continue") {
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        reader.get_mut().flush()?;
    }
    let body = if headers.has_token("Transfer-Encoding", "chunked") {
        read_chunked(reader)?
    } else {
        read_exact_body(reader, content_length(&headers)?.unwrap_or(0))?
    };
    Ok(Some(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body,
    }))
}

/// Reads one response to a request with `method`, skipping interim (1xx) responses.
pub(crate) fn read_response(reader: &mut impl BufRead, method: &str) -> io::Result<Response> {
    loop {
        let (start, headers) = read_head(reader)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            )
        })?;
        let mut parts = start.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let status = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|s| (100..=999).contains(s))
            .ok_or_else(|| invalid(format!("malformed status line {start:?}")))?;
        if !version.starts_with("HTTP/1.") {
            return Err(invalid(format!("unsupported status line {start:?}")));
        }
        if (100..200).contains(&status) {
            continue;
        }
        let reason = parts.next().unwrap_or("").to_owned();
        let body = if method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 {
            Vec::new()
        } else if headers.has_token("Transfer-Encoding", "chunked") {
            read_chunked(reader)?
        } else if let Some(length) = content_length(&headers)? {
            read_exact_body(reader, length)?
        } else {
            let mut body = Vec::new();
            reader.take(MAX_BODY as u64 + 1).read_to_end(&mut body)?;
            if body.len() > MAX_BODY {
                return Err(invalid("response body over the limit"));
            }
            body
        };
        return Ok(Response {
            status,
            reason,
            headers,
            body,
        });
    }
}

/// Writes a request with an exact Content-Length (no chunking).
pub(crate) fn write_request(writer: &mut impl Write, request: &Request) -> io::Result<()> {
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in request.headers.iter() {
        if name.eq_ignore_ascii_case("Content-Length")
            || name.eq_ignore_ascii_case("Transfer-Encoding")
        {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let method = request.method.to_ascii_uppercase();
    if !request.body.is_empty() || matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    writer.write_all(&request.body)?;
    writer.flush()
}

/// The head of a response: status line and headers, with framing for `body_len` bytes.
///
/// For a HEAD request the response's own Content-Length is kept (it describes the GET body).
pub(crate) fn response_head(response: &Response, head_request: bool) -> String {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, response.reason);
    let bodiless =
        response.status == 204 || response.status == 304 || (100..200).contains(&response.status);
    for (name, value) in response.headers.iter() {
        if name.eq_ignore_ascii_case("Transfer-Encoding")
            || (name.eq_ignore_ascii_case("Content-Length") && !head_request)
        {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !head_request && !bodiless {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    head.push_str("\r\n");
    head
}

/// Writes a whole response (no body for HEAD requests).
pub(crate) fn write_response(
    writer: &mut dyn Write,
    response: &Response,
    head_request: bool,
) -> io::Result<()> {
    writer.write_all(response_head(response, head_request).as_bytes())?;
    if !head_request {
        writer.write_all(&response.body)?;
    }
    writer.flush()
}

/// An absolute `http`/`https` URL split into what the client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) tls: bool,
    /// `host:port` (IPv6 hosts in brackets).
    pub(crate) authority: String,
    /// Path plus query, starting with `/`.
    pub(crate) target: String,
}

impl Url {
    /// Parses `http(s)://host:port[/path]`. A missing port means 80/443.
    pub(crate) fn parse(url: &str) -> Result<Url, Error> {
        let bad = || Error::InvalidUrl {
            url: url.to_owned(),
        };
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() || authority.contains(['@', ' ']) {
            return Err(bad());
        }
        let port = match authority.rfind(']') {
            Some(close) => authority[close..].split_once(':').map(|(_, port)| port),
            None => authority.split_once(':').map(|(_, port)| port),
        };
        if port.is_some_and(|port| port.parse::<u16>().is_err()) {
            return Err(bad());
        }
        let authority = if port.is_some() {
            authority.to_owned()
        } else {
            format!("{authority}:{}", if tls { 443 } else { 80 })
        };
        Ok(Url {
            tls,
            authority,
            target,
        })
    }

    /// Resolves a `Location` header value against this URL.
    pub(crate) fn join(&self, location: &str) -> Result<Url, Error> {
        if location.starts_with("http://") || location.starts_with("https://") {
            Url::parse(location)
        } else if location.starts_with('/') {
            Ok(Url {
                target: location.to_owned(),
                ..self.clone()
            })
        } else {
            Err(Error::InvalidUrl {
                url: location.to_owned(),
            })
        }
    }

    /// The host without port or brackets.
    pub(crate) fn host(&self) -> &str {
        let host = match self.authority.rfind(':') {
            Some(i) if !self.authority[i..].contains(']') => &self.authority[..i],
            _ => self.authority.as_str(),
        };
        host.trim_start_matches('[').trim_end_matches(']')
    }

    pub(crate) fn origin(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.authority
        )
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.origin(), self.target)
    }
}

/// Connects to `authority` (`host:port`), which must resolve to loopback addresses only.
pub(crate) fn connect_tcp(authority: &str) -> Result<TcpStream, Error> {
    let addrs: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .map_err(|e| Error::io(format!("resolve {authority}"), e))?
        .collect();
    if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
        return Err(Error::NotLoopback {
            host: authority.to_owned(),
        });
    }
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                let setup = stream
                    .set_read_timeout(Some(IO_TIMEOUT))
                    .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
                    .and_then(|()| stream.set_nodelay(true));
                setup.map_err(|e| {
                    Error::io(format!("configure the connection to {authority}"), e)
                })?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(Error::io(
        format!("connect to {authority}"),
        last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")),
    ))
}

/// Connects to `url`'s origin, with TLS when the URL is `https`.
pub(crate) fn connect(
    url: &Url,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Box<dyn Stream>, Error> {
    let tcp = connect_tcp(&url.authority)?;
    if !url.tls {
        return Ok(Box::new(tcp));
    }
    let config = match tls {
        Some(config) => Arc::clone(config),
        None => {
            return Err(Error::Unsupported {
                reason: format!(
                    "{} is https but no CA is configured: build the endpoint from the TestRegistry or use Endpoint::with_ca_file",
                    url.origin()
                ),
            });
        }
    };
    let name = ServerName::try_from(url.host().to_owned())
        .map_err(|e| Error::crypto(format!("use {} as a tls server name", url.host()), e))?;
    let connection = rustls::ClientConnection::new(config, name)
        .map_err(|e| Error::crypto(format!("start a tls session with {}", url.origin()), e))?;
    Ok(Box::new(rustls::StreamOwned::new(connection, tcp)))
}

/// Sends one request on a fresh connection and reads the response.
pub(crate) fn exchange(
    url: &Url,
    tls: Option<&Arc<rustls::ClientConfig>>,
    mut request: Request,
) -> Result<Response, Error> {
    let method = request.method.clone();
    let transport = |source| Error::Http {
        method: method.clone(),
        url: url.to_string(),
        source,
    };
    request.target.clone_from(&url.target);
    request.headers.set("Host", url.authority.clone());
    request.headers.set("Connection", "close");
    let mut stream = connect(url, tls)?;
    write_request(&mut stream, &request).map_err(&transport)?;
    let mut reader = BufReader::new(stream);
    read_response(&mut reader, &request.method).map_err(&transport)
}

/// What a handler wants done with the connection after answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    KeepAlive,
    Close,
}

/// The connection a handler answers on.
pub(crate) struct Conn<'a> {
    pub(crate) stream: &'a mut dyn Stream,
    /// The underlying socket, for timeouts.
    pub(crate) socket: &'a TcpStream,
}

/// Answers requests for a [`Server`].
pub(crate) trait Handler: Send + Sync + 'static {
    fn handle(&self, request: Request, conn: &mut Conn<'_>) -> io::Result<Flow>;
}

struct ServerState {
    shutdown: AtomicBool,
    next_id: AtomicU64,
    /// Sockets of live connections, shut down when the server stops.
    connections: Mutex<HashMap<u64, TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// A threaded HTTP/1.1 server on `127.0.0.1:0`, stopped (and its threads joined) on drop.
pub(crate) struct Server {
    addr: SocketAddr,
    state: Arc<ServerState>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    pub(crate) fn start(
        name: &str,
        handler: Arc<dyn Handler>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Server, Error> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| Error::io(format!("bind the {name} on 127.0.0.1"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io(format!("read the {name} address"), e))?;
        let state = Arc::new(ServerState {
            shutdown: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            connections: Mutex::new(HashMap::new()),
            workers: Mutex::new(Vec::new()),
        });
        let accept_state = Arc::clone(&state);
        let acceptor = std::thread::Builder::new()
            .name(format!("{name} accept"))
            .spawn(move || accept_loop(&listener, &accept_state, &handler, tls.as_ref()))
            .map_err(|e| Error::io(format!("spawn the {name} thread"), e))?;
        Ok(Server {
            addr,
            state,
            acceptor: Some(acceptor),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn accept_loop(
    listener: &TcpListener,
    state: &Arc<ServerState>,
    handler: &Arc<dyn Handler>,
    tls: Option<&Arc<rustls::ServerConfig>>,
) {
    for incoming in listener.incoming() {
        if state.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let Ok(socket) = incoming else { continue };
        let Ok(registered) = socket.try_clone() else {
            continue;
        };
        let id = state.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&state.connections).insert(id, registered);
        let worker_state = Arc::clone(state);
        let handler = Arc::clone(handler);
        let tls = tls.cloned();
        let spawned = std::thread::Builder::new()
            .name("test-support conn".to_owned())
            .spawn(move || {
                serve_connection(socket, handler.as_ref(), tls);
                lock(&worker_state.connections).remove(&id);
            });
        match spawned {
            Ok(worker) => {
                let mut workers = lock(&state.workers);
                workers.retain(|w| !w.is_finished());
                workers.push(worker);
            }
            Err(_) => {
                if let Some(socket) = lock(&state.connections).remove(&id) {
                    let _ = socket.shutdown(Shutdown::Both);
                }
            }
        }
    }
}

fn serve_connection(
    socket: TcpStream,
    handler: &dyn Handler,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let setup = socket
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| socket.set_write_timeout(Some(IO_TIMEOUT)))
        .and_then(|()| socket.set_nodelay(true));
    let Ok(control) = setup.and_then(|()| socket.try_clone()) else {
        return;
    };
    let stream: Box<dyn Stream> = match tls {
        None => Box::new(socket),
        Some(config) => match rustls::ServerConnection::new(config) {
            Ok(connection) => Box::new(rustls::StreamOwned::new(connection, socket)),
            Err(_) => return,
        },
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(error) => {
                if error.kind() == io::ErrorKind::InvalidData {
                    let answer = Response::new(400).with_header("Connection", "close");
                    let _ = write_response(reader.get_mut(), &answer, false);
                }
                return;
            }
        };
        let close = request.headers.has_token("Connection", "close");
        let mut conn = Conn {
            stream: reader.get_mut(),
            socket: &control,
        };
        match handler.handle(request, &mut conn) {
            Ok(Flow::KeepAlive) if !close => {}
            _ => {
                let _ = control.shutdown(Shutdown::Write);
                return;
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::SeqCst);
        // Wake the acceptor: it checks the flag after every accepted connection.
        let _ = TcpStream::connect_timeout(&self.addr, CONNECT_TIMEOUT);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // The acceptor is gone, so every connection is registered: unblock their workers.
        for socket in lock(&self.state.connections).values() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let workers = std::mem::take(&mut *lock(&self.state.workers));
        for worker in workers {
            let _ = worker.join();
        }
    }
}

/// Decodes `%XX` escapes (and `+` as space when `form` is set).
pub(crate) fn percent_decode(input: &str, form: bool) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if form => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits `a=1&b=2` into decoded pairs, in order.
pub(crate) fn parse_query(query: &str, form: bool) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key, form), percent_decode(value, form))
        })
        .collect()
}

/// Encodes a query component (RFC 3986 unreserved characters kept).
pub(crate) fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn parses_urls() {
        let cases = [
            ("http://127.0.0.1:5000", false, "127.0.0.1:5000", "/"),
            ("https://127.0.0.1:5000/v2/", true, "127.0.0.1:5000", "/v2/"),
            ("http://localhost/x?y=1", false, "localhost:80", "/x?y=1"),
            (
                "https://[::1]:8443/token?a=b",
                true,
                "[::1]:8443",
                "/token?a=b",
            ),
            ("https://[::1]", true, "[::1]:443", "/"),
            ("http://h:1?q", false, "h:1", "/?q"),
        ];
        for (input, tls, authority, target) in cases {
            let url = Url::parse(input).expect(input);
            assert_eq!(
                (url.tls, url.authority.as_str(), url.target.as_str()),
                (tls, authority, target),
                "{input}"
            );
        }
        for bad in [
            "127.0.0.1:5000",
            "ftp://x",
            "http://",
            "http://user@host/",
            "http:// x/",
            "http://ftp://x",
            "http://h:99999",
            "http://[::1]:x",
        ] {
            assert!(
                matches!(Url::parse(bad), Err(Error::InvalidUrl { .. })),
                "{bad}"
            );
        }
        assert_eq!(Url::parse("https://[::1]:8443").expect("v6").host(), "::1");
        assert_eq!(
            Url::parse("http://127.0.0.1:1").expect("v4").host(),
            "127.0.0.1"
        );
    }

    #[test]
    fn joins_locations() {
        let base = Url::parse("http://127.0.0.1:1/v2/a/blobs/uploads/").expect("base");
        assert_eq!(
            base.join("/v2/a/blobs/uploads/u?x=1")
                .expect("relative")
                .to_string(),
            "http://127.0.0.1:1/v2/a/blobs/uploads/u?x=1"
        );
        assert_eq!(
            base.join("https://127.0.0.2:9/p")
                .expect("absolute")
                .to_string(),
            "https://127.0.0.2:9/p"
        );
        assert!(base.join("relative/path").is_err());
    }

    #[test]
    fn reads_requests_with_both_framings() {
        let raw = "\r\nPUT /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n";
        let mut reader = BufReader::new(Cursor::new(raw.as_bytes().to_vec()));
        let first = read_request(&mut reader).expect("read").expect("first");
        assert_eq!(
            (
                first.method.as_str(),
                first.target.as_str(),
                first.body.as_slice()
            ),
            ("PUT", "/a?b=c", &b"abc"[..])
        );
        assert_eq!((first.path(), first.query()), ("/a", "b=c"));
        let second = read_request(&mut reader).expect("read").expect("second");
        assert_eq!(second.body, b"abcde");
        assert!(read_request(&mut reader).expect("eof").is_none());
    }

    #[test]
    fn rejects_malformed_requests() {
        for raw in [
            "GET /\r\n\r\n",
            "GET / HTTP/2\r\n\r\n",
            "GET / HTTP/1.1\r\nbad header\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let mut reader = BufReader::new(Cursor::new(raw.as_bytes().to_vec()));
            let error = read_request(&mut reader).expect_err(raw);
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{raw}");
        }
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        let mut reader = BufReader::new(Cursor::new(huge.into_bytes()));
        assert_eq!(
            read_request(&mut reader).expect_err("huge").kind(),
            io::ErrorKind::InvalidData
        );
        let truncated = "GET / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
        let mut reader = BufReader::new(Cursor::new(truncated.as_bytes().to_vec()));
        assert_eq!(
            read_request(&mut reader).expect_err("truncated").kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn reads_responses() {
        let raw = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let response =
            read_response(&mut Cursor::new(raw.as_bytes().to_vec()), "GET").expect("response");
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"hello"[..])
        );
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        let response =
            read_response(&mut Cursor::new(head.as_bytes().to_vec()), "HEAD").expect("head");
        assert!(response.body.is_empty());
        let until_eof = "HTTP/1.1 404 Not Found\r\n\r\nnope";
        let response = read_response(&mut Cursor::new(until_eof.as_bytes().to_vec()), "GET")
            .expect("eof body");
        assert_eq!(
            (response.status, response.body.as_slice()),
            (404, &b"nope"[..])
        );
    }

    #[test]
    fn writes_framing_for_head_and_bodiless_statuses() {
        let mut response = Response::new(200)
            .with_header("Content-Length", "42")
            .with_header("Transfer-Encoding", "chunked");
        response.body = b"abc".to_vec();
        assert_eq!(
            response_head(&response, false),
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
        );
        assert_eq!(
            response_head(&response, true),
            "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"
        );
        assert_eq!(
            response_head(&Response::new(204), false),
            "HTTP/1.1 204 No Content\r\n\r\n"
        );
    }

    #[test]
    fn percent_coding_round_trips() {
        assert_eq!(
            percent_decode("repository%3Aa%2Fb%3Apull%2Cpush", false),
            "repository:a/b:pull,push"
        );
        assert_eq!(percent_decode("a+b%2", true), "a b%2");
        assert_eq!(percent_decode("%zz%", false), "%zz%");
        assert_eq!(
            percent_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(
            parse_query("scope=a%3Ab&scope=c&service=s&flag", false),
            vec![
                ("scope".into(), "a:b".into()),
                ("scope".into(), "c".into()),
                ("service".into(), "s".into()),
                ("flag".into(), String::new())
            ]
        );
    }

    #[test]
    fn refuses_non_loopback_hosts() {
        for host in ["192.0.2.1:80", "10.0.0.1:5000", "[2001:db8::1]:443"] {
            assert!(
                matches!(connect_tcp(host), Err(Error::NotLoopback { .. })),
                "{host}"
            );
        }
    }
}
